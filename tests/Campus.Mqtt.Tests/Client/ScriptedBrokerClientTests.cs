using Campus.Mqtt.Protocol;
using Campus.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Mqtt.Tests.Client;

/// <summary>The client against a scripted broker that shows every packet: flows Mosquitto does not let a test observe.</summary>
public sealed class ScriptedBrokerClientTests
{
    private static MqttClientOptionsBuilder Options(FakeBroker broker) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", broker.Port)
        .WithClientId("scripted")
        .WithTimeout(TimeSpan.FromSeconds(5));

    private static MqttApplicationMessage Message(string topic, MqttQualityOfServiceLevel qos) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(topic).WithQualityOfServiceLevel(qos).Build();

    [Fact]
    public async Task Unacknowledged_messages_are_sent_again_with_dup_after_reconnecting_to_a_persistent_session()
    {
        await using var broker = new FakeBroker { SessionPresent = true };
        await using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(broker).WithCleanSession(false).WithAutoReconnect(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(100)).Build());
        var first = await broker.NextSessionAsync();
        Assert.False(first.Connect!.CleanSession);

        var qos1 = client.PublishAsync(Message("one", MqttQualityOfServiceLevel.AtLeastOnce));
        var qos2 = client.PublishAsync(Message("two", MqttQualityOfServiceLevel.ExactlyOnce));
        var p1 = await first.NextAsync(MqttPacketType.Publish);
        var p2 = await first.NextAsync(MqttPacketType.Publish);
        Assert.False(p1.Dup);
        Assert.Equal(("one", "two"), (p1.Topic, p2.Topic));
        await first.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubRec, p2.PacketIdentifier));
        var pubRel = await first.NextAsync(MqttPacketType.PubRel);
        Assert.Equal(p2.PacketIdentifier, pubRel.PacketIdentifier);

        first.Dispose(); // the broker side drops the connection before PUBACK and PUBCOMP
        var second = await broker.NextSessionAsync();

        // QoS 1 not acknowledged: PUBLISH again with DUP and the same identifier. QoS 2 past PUBREC: PUBREL again.
        var again = await second.NextAsync(MqttPacketType.Publish);
        Assert.Equal((p1.PacketIdentifier, "one", true), (again.PacketIdentifier, again.Topic, again.Dup));
        var relAgain = await second.NextAsync(MqttPacketType.PubRel);
        Assert.Equal(p2.PacketIdentifier, relAgain.PacketIdentifier);
        Assert.False(qos1.IsCompleted);
        Assert.False(qos2.IsCompleted);

        await second.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubAck, p1.PacketIdentifier));
        await second.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubComp, p2.PacketIdentifier));
        Assert.Equal(p1.PacketIdentifier, (await qos1.WaitAsync(TimeSpan.FromSeconds(10))).PacketIdentifier);
        Assert.Equal(p2.PacketIdentifier, (await qos2.WaitAsync(TimeSpan.FromSeconds(10))).PacketIdentifier);
        Assert.Equal(0, ((MqttClient)client).InFlightCount);
    }

    [Fact]
    public async Task Publish_waits_for_a_free_slot_in_the_in_flight_window()
    {
        await using var broker = new FakeBroker();
        await using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(broker).WithMaximumInFlightMessages(2).Build());
        var session = await broker.NextSessionAsync();

        var publishes = new[]
        {
            client.PublishAsync(Message("m1", MqttQualityOfServiceLevel.AtLeastOnce)),
            client.PublishAsync(Message("m2", MqttQualityOfServiceLevel.AtLeastOnce)),
            client.PublishAsync(Message("m3", MqttQualityOfServiceLevel.AtLeastOnce)),
        };
        var m1 = await session.NextAsync(MqttPacketType.Publish);
        var m2 = await session.NextAsync(MqttPacketType.Publish);
        Assert.Equal(("m1", "m2"), (m1.Topic, m2.Topic));

        // A SUBSCRIBE sent now lands behind everything already written: m3 must not be among it.
        var subscribe = client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("x").Build());
        var next = await session.NextAsync();
        Assert.Equal(MqttPacketType.Subscribe, next.Type);
        await session.SendAsync(MqttPacket.FromSubAck(new SubAckPacket(next.PacketIdentifier, [MqttSubscribeReturnCode.GrantedQoS0])));
        await subscribe;
        Assert.False(publishes[2].IsCompleted);

        await session.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubAck, m1.PacketIdentifier));
        var m3 = await session.NextAsync(MqttPacketType.Publish);
        Assert.Equal("m3", m3.Topic);
        await session.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubAck, m2.PacketIdentifier));
        await session.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubAck, m3.PacketIdentifier));
        await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_broker_that_stops_answering_pings_is_detected_as_dead()
    {
        var time = new FakeTimeProvider();
        await using var broker = new FakeBroker();
        await using var client = new MqttClientFactory().CreateMqttClient();
        var reason = new TaskCompletionSource<MqttClientDisconnectReason>();
        client.DisconnectedAsync += e =>
        {
            reason.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };
        await client.ConnectAsync(Options(broker).WithKeepAlivePeriod(TimeSpan.FromSeconds(60)).WithTimeout(TimeSpan.FromSeconds(10)).WithTimeProvider(time).Build());
        var session = await broker.NextSessionAsync();
        Assert.Equal(60, session.Connect!.KeepAliveSeconds);

        // Idle: the client pings within the keep-alive period (MQTT 3.1.1, 3.1.2.10), not long before its end.
        var ping = session.NextAsync(MqttPacketType.PingReq);
        await Poll.UntilAsync(() => { time.Advance(TimeSpan.FromSeconds(5)); return ping.IsCompleted; }, "the client sends PINGREQ when idle");
        var idle = time.GetUtcNow() - time.Start;
        Assert.True(idle >= TimeSpan.FromSeconds(45) && idle < TimeSpan.FromSeconds(60), $"PINGREQ after {idle.TotalSeconds} s idle, expected from 45 s to less than the 60 s keep-alive");
        Assert.True(client.IsConnected);

        // The PINGREQ is never answered: after the timeout the connection is given up.
        await Poll.UntilAsync(() => { time.Advance(TimeSpan.FromSeconds(1)); return reason.Task.IsCompleted; }, "the client gives up the silent connection");
        Assert.Equal(MqttClientDisconnectReason.KeepAliveTimeout, await reason.Task);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task A_pingresp_keeps_the_connection_alive()
    {
        var time = new FakeTimeProvider();
        await using var broker = new FakeBroker();
        await using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(broker).WithKeepAlivePeriod(TimeSpan.FromSeconds(10)).WithTimeout(TimeSpan.FromSeconds(5)).WithTimeProvider(time).Build());
        var session = await broker.NextSessionAsync();

        for (var round = 0; round < 3; round++)
        {
            var ping = session.NextAsync(MqttPacketType.PingReq);
            await Poll.UntilAsync(() => { time.Advance(TimeSpan.FromSeconds(1)); return ping.IsCompleted; }, $"PINGREQ number {round + 1} is sent");
            await session.SendAsync(MqttPacket.FromEmpty(MqttPacketType.PingResp));
            await Poll.UntilAsync(() => ((MqttClient)client).PingResponsesReceived == round + 1, "the PINGRESP is received");
        }
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_qos2_message_delivered_twice_reaches_the_handler_once()
    {
        await using var broker = new FakeBroker();
        await using var client = new MqttClientFactory().CreateMqttClient();
        var received = new List<string>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (received) received.Add(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await client.ConnectAsync(Options(broker).Build());
        var session = await broker.NextSessionAsync();

        await session.SendAsync(SamplePublish("exactly once", 5, dup: false));
        await session.NextAsync(MqttPacketType.PubRec);
        await session.SendAsync(SamplePublish("exactly once", 5, dup: true)); // PUBREC "lost": the broker repeats
        var pubRecAgain = await session.NextAsync(MqttPacketType.PubRec);
        Assert.Equal(5, pubRecAgain.PacketIdentifier);
        await session.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubRel, 5));
        Assert.Equal(5, (await session.NextAsync(MqttPacketType.PubComp)).PacketIdentifier);

        // After PUBREL the identifier is free again: a new message with it is a new message.
        await session.SendAsync(SamplePublish("next", 5, dup: false));
        await session.NextAsync(MqttPacketType.PubRec);
        await Poll.UntilAsync(() => { lock (received) return received.Count == 2; }, "the second message is delivered");
        Assert.Equal(["exactly once", "next"], received);
    }

    [Fact]
    public async Task A_broker_sending_a_malformed_packet_gets_its_connection_closed()
    {
        await using var broker = new FakeBroker();
        await using var client = new MqttClientFactory().CreateMqttClient();
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>();
        client.DisconnectedAsync += e =>
        {
            disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };
        await client.ConnectAsync(Options(broker).Build());
        var session = await broker.NextSessionAsync();

        await session.SendAsync(MqttPacket.FromEmpty(MqttPacketType.PingReq)); // a broker never sends PINGREQ

        var e = await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MqttClientDisconnectReason.ProtocolError, e.Reason);
        Assert.IsType<MqttProtocolException>(e.Exception);
        await session.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Reconnect_delays_grow_exponentially_with_jitter_up_to_the_maximum()
    {
        var options = new MqttClientOptionsBuilder().WithAutoReconnect(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5)).Build();
        for (var attempt = 0; attempt < 40; attempt++)
        {
            var full = Math.Min(5000, 100 * Math.Pow(2, Math.Min(attempt, 30)));
            for (var i = 0; i < 50; i++)
            {
                var delay = MqttClient.BackoffDelay(options, attempt).TotalMilliseconds;
                Assert.InRange(delay, full / 2 - 0.001, full + 0.001);
            }
        }
        var samples = Enumerable.Range(0, 50).Select(_ => MqttClient.BackoffDelay(options, 3)).Distinct().Count();
        Assert.True(samples > 1, "the delay must be jittered");
    }

    private static MqttPacket SamplePublish(string payload, ushort id, bool dup) =>
        MqttPacket.FromPublish(new PublishPacket(
            new System.Buffers.ReadOnlySequence<byte>("s/t"u8.ToArray()),
            new System.Buffers.ReadOnlySequence<byte>(System.Text.Encoding.UTF8.GetBytes(payload)),
            MqttQualityOfServiceLevel.ExactlyOnce, false, dup, id));
}

public sealed class ClientArgumentTests
{
    [Fact]
    public async Task Connecting_to_a_port_where_nothing_listens_fails_with_a_communication_error()
    {
        var port = Campus.Testing.FreePort.Get();
        await using var client = new MqttClientFactory().CreateMqttClient();
        var e = await Assert.ThrowsAsync<MqttCommunicationException>(() =>
            client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithTimeout(TimeSpan.FromSeconds(5)).Build()));
        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Publishing_before_connecting_says_the_client_is_not_connected()
    {
        await using var client = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAsync<MqttClientNotConnectedException>(() =>
            client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("a").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()));
    }

    [Fact]
    public void Builders_refuse_invalid_topics_and_will_settings_without_a_will_topic()
    {
        Assert.Throws<ArgumentException>(() => new MqttApplicationMessageBuilder().WithTopic("a/#").Build());
        Assert.Throws<ArgumentException>(() => new MqttClientSubscribeOptionsBuilder().WithTopicFilter("a/#/b"));
        Assert.Throws<InvalidOperationException>(() => new MqttClientOptionsBuilder().WithWillRetain().Build());
        Assert.Throws<InvalidOperationException>(() => new MqttClientSubscribeOptionsBuilder().Build());
    }
}
