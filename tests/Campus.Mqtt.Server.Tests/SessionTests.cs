using System.Text;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Mqtt.Server.Tests;

public sealed class SessionTests
{
    private static async Task<Received> NextPublishAsync(RawMqttClient client)
    {
        while (true)
        {
            var p = await client.ReceiveAsync();
            if (p.Type == MqttPacketType.Publish) return p;
        }
    }

    [Fact]
    public async Task New_connection_with_the_same_client_id_takes_over_and_closes_the_old_one()
    {
        await using var server = await TestBroker.StartAsync();
        var disconnects = new List<MqttClientDisconnectType>();
        server.ClientDisconnectedAsync += e =>
        {
            lock (disconnects) disconnects.Add(e.DisconnectType);
            return Task.CompletedTask;
        };
        await using var first = await RawMqttClient.ConnectAsync(server.Port, "reader-7", cleanSession: false);
        await first.SubscribeAsync(1, ("campus/v1/s01/r1/access/reader-7/cmd/#", MqttQualityOfServiceLevel.AtLeastOnce));

        await using var second = await RawMqttClient.OpenAsync(server.Port);
        var connAck = await second.SendConnectAsync("reader-7", cleanSession: false);
        Assert.True(connAck.SessionPresent);

        await first.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(first.IsClosed);
        await Poll.UntilAsync(() => { lock (disconnects) return disconnects.Contains(MqttClientDisconnectType.Takeover); }, "the takeover is reported");

        // The session (and its subscription) now belongs to the second connection.
        await server.InjectApplicationMessage(TestBroker.Message("campus/v1/s01/r1/access/reader-7/cmd/unlock", "{}", MqttQualityOfServiceLevel.AtLeastOnce));
        var p = await NextPublishAsync(second);
        Assert.Equal("campus/v1/s01/r1/access/reader-7/cmd/unlock", p.Topic);
        Assert.Equal(1, server.ConnectedClientCount);
    }

    [Fact]
    public async Task Keep_alive_expiry_closes_the_client_and_fires_its_will()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestBroker.StartAsync(time: time);
        await using var watcher = await RawMqttClient.ConnectAsync(server.Port, "watcher", keepAlive: 0);
        await watcher.SubscribeAsync(1, ("campus/+/status", MqttQualityOfServiceLevel.AtLeastOnce));
        await using var device = await RawMqttClient.ConnectAsync(server.Port, "meter-1", keepAlive: 10, willTopic: "campus/meter-1/status", willPayload: "offline");

        time.Advance(TimeSpan.FromSeconds(14)); // within 1.5 x 10 s
        Assert.False(device.IsClosed);
        Assert.False(watcher.HasPending);

        time.Advance(TimeSpan.FromSeconds(2)); // 16 s of silence > 15 s
        await device.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        var will = await NextPublishAsync(watcher);
        Assert.Equal("campus/meter-1/status", will.Topic);
        Assert.Equal("offline", will.PayloadText);
        Assert.False(watcher.IsClosed); // keep-alive 0: never expires
    }

    [Fact]
    public async Task Will_is_not_published_after_disconnect_but_is_after_an_abrupt_drop()
    {
        await using var server = await TestBroker.StartAsync();
        await using var watcher = await RawMqttClient.ConnectAsync(server.Port, "watcher");
        await watcher.SubscribeAsync(1, ("will/#", MqttQualityOfServiceLevel.AtMostOnce));

        await using (var polite = await RawMqttClient.ConnectAsync(server.Port, "polite", willTopic: "will/polite", willPayload: "gone"))
        {
            await polite.DisconnectAsync();
            await polite.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }
        var rude = await RawMqttClient.ConnectAsync(server.Port, "rude", willTopic: "will/rude", willPayload: "gone");
        rude.Drop();
        await rude.DisposeAsync();

        var p = await NextPublishAsync(watcher);
        Assert.Equal("will/rude", p.Topic); // and not will/polite, which would have come first
    }

    [Fact]
    public async Task Qos2_publish_resent_with_dup_reaches_subscribers_exactly_once()
    {
        await using var server = await TestBroker.StartAsync();
        await using var sub = await RawMqttClient.ConnectAsync(server.Port, "sub");
        await sub.SubscribeAsync(1, ("q2/#", MqttQualityOfServiceLevel.ExactlyOnce));
        await using var pub = await RawMqttClient.ConnectAsync(server.Port, "pub");

        await pub.PublishAsync("q2/a", "once", MqttQualityOfServiceLevel.ExactlyOnce, packetId: 42);
        Assert.Equal(42, (await pub.ExpectAsync(MqttPacketType.PubRec)).PacketIdentifier);
        await pub.PublishAsync("q2/a", "once", MqttQualityOfServiceLevel.ExactlyOnce, packetId: 42, dup: true);
        Assert.Equal(42, (await pub.ExpectAsync(MqttPacketType.PubRec)).PacketIdentifier);
        await pub.SendAckAsync(MqttPacketType.PubRel, 42);
        Assert.Equal(42, (await pub.ExpectAsync(MqttPacketType.PubComp)).PacketIdentifier);

        var delivered = await sub.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, delivered.Qos);
        await sub.SendAckAsync(MqttPacketType.PubRec, delivered.PacketIdentifier);
        Assert.Equal(delivered.PacketIdentifier, (await sub.ExpectAsync(MqttPacketType.PubRel)).PacketIdentifier);
        await sub.SendAckAsync(MqttPacketType.PubComp, delivered.PacketIdentifier);

        // A marker proves nothing else was queued before it.
        await pub.PublishAsync("q2/marker", "end", MqttQualityOfServiceLevel.AtMostOnce);
        var next = await sub.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal("q2/marker", next.Topic);
        await Poll.UntilAsync(() => server.Core.TryGetSession("sub", out var s) && s!.InflightCount == 0, "the QoS 2 delivery completed");
    }

    [Fact]
    public async Task Unacknowledged_qos1_message_is_redelivered_with_dup_after_reconnect()
    {
        await using var server = await TestBroker.StartAsync();
        var first = await RawMqttClient.ConnectAsync(server.Port, "slow", cleanSession: false);
        await first.SubscribeAsync(1, ("jobs/#", MqttQualityOfServiceLevel.AtLeastOnce));
        await server.InjectApplicationMessage(TestBroker.Message("jobs/1", "do it", MqttQualityOfServiceLevel.AtLeastOnce));
        var original = await first.ExpectAsync(MqttPacketType.Publish);
        Assert.False(original.Dup);
        first.Drop(); // no PUBACK
        await first.DisposeAsync();
        await Poll.UntilAsync(() => server.Core.TryGetSession("slow", out var s) && s!.Sink is null, "the session is offline");

        await using var again = await RawMqttClient.OpenAsync(server.Port);
        Assert.True((await again.SendConnectAsync("slow", cleanSession: false)).SessionPresent);
        var resent = await again.ExpectAsync(MqttPacketType.Publish);
        Assert.True(resent.Dup);
        Assert.Equal(original.PacketIdentifier, resent.PacketIdentifier);
        Assert.Equal("do it", resent.PayloadText);
        await again.SendAckAsync(MqttPacketType.PubAck, resent.PacketIdentifier);
        await Poll.UntilAsync(() => server.Core.TryGetSession("slow", out var s) && s!.InflightCount == 0, "PUBACK ended the delivery");
    }

    [Fact]
    public async Task Offline_queue_overflow_is_dropped_counted_and_logged()
    {
        var logger = new CapturingLogger();
        await using var server = await TestBroker.StartAsync(o => o.MaxQueuedMessagesPerSession = 2, logger);
        using var metrics = new MetricCapture(server.Meter);
        await using (var c = await RawMqttClient.ConnectAsync(server.Port, "offline-dash", cleanSession: false))
        {
            await c.SubscribeAsync(1, ("alerts/#", MqttQualityOfServiceLevel.AtLeastOnce));
            await c.DisconnectAsync();
            await c.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }
        await Poll.UntilAsync(() => server.Core.TryGetSession("offline-dash", out var s) && s!.Sink is null, "the session is offline");
        for (var i = 1; i <= 5; i++)
            await server.InjectApplicationMessage(TestBroker.Message($"alerts/{i}", "x", MqttQualityOfServiceLevel.AtLeastOnce));

        Assert.Equal(3, metrics["campus.mqtt.broker.messages.dropped"]);
        Assert.True(logger.Contains("offline-dash", "full"), logger.Dump());

        await using var back = await RawMqttClient.ConnectAsync(server.Port, "offline-dash", cleanSession: false);
        Assert.Equal("alerts/1", (await back.ExpectAsync(MqttPacketType.Publish)).Topic);
        Assert.Equal("alerts/2", (await back.ExpectAsync(MqttPacketType.Publish)).Topic);
    }

    [Fact]
    public async Task Clean_session_forgets_subscriptions_on_disconnect()
    {
        await using var server = await TestBroker.StartAsync();
        await using (var c = await RawMqttClient.ConnectAsync(server.Port, "temp", cleanSession: true))
        {
            await c.SubscribeAsync(1, ("a/#", MqttQualityOfServiceLevel.AtLeastOnce));
            Assert.Equal(1, server.Core.Subscriptions.Count);
            await c.DisconnectAsync();
            await c.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }
        await Poll.UntilAsync(() => server.Core.SessionCount == 0, "the clean session is gone");
        Assert.Equal(0, server.Core.Subscriptions.Count);
        await using var back = await RawMqttClient.OpenAsync(server.Port);
        Assert.False((await back.SendConnectAsync("temp", cleanSession: false)).SessionPresent);
    }

    [Fact]
    public async Task Overlapping_subscriptions_deliver_once_at_the_highest_granted_qos()
    {
        await using var server = await TestBroker.StartAsync();
        await using var sub = await RawMqttClient.ConnectAsync(server.Port, "overlap");
        await sub.SubscribeAsync(1, ("campus/#", MqttQualityOfServiceLevel.AtMostOnce), ("campus/+/energy", MqttQualityOfServiceLevel.AtLeastOnce), ("campus/s1/energy", MqttQualityOfServiceLevel.AtMostOnce));
        await server.InjectApplicationMessage(TestBroker.Message("campus/s1/energy", "42", MqttQualityOfServiceLevel.ExactlyOnce));
        await server.InjectApplicationMessage(TestBroker.Message("campus/end", "."));

        var first = await sub.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal("campus/s1/energy", first.Topic);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, first.Qos);
        Assert.Equal("campus/end", (await sub.ExpectAsync(MqttPacketType.Publish)).Topic);
    }

    [Fact]
    public async Task Intercepting_hook_sees_the_last_will_of_a_dropped_client_before_it_is_routed()
    {
        await using var server = await TestBroker.StartAsync();
        var seen = new List<string>();
        server.InterceptingPublishAsync += e =>
        {
            lock (seen) seen.Add($"{e.ClientId}:{e.ApplicationMessage.Topic}:{Encoding.UTF8.GetString(e.ApplicationMessage.Payload)}");
            e.ProcessPublish = !e.ClientId.StartsWith("hidden", StringComparison.Ordinal);
            return Task.CompletedTask;
        };
        await using var sub = await RawMqttClient.ConnectAsync(server.Port, "sub");
        await sub.SubscribeAsync(1, ("devices/#", MqttQualityOfServiceLevel.AtMostOnce));
        var hidden = await RawMqttClient.ConnectAsync(server.Port, "hidden-1", willTopic: "devices/hidden-1/status", willPayload: "offline");
        var node = await RawMqttClient.ConnectAsync(server.Port, "node-1", willTopic: "devices/node-1/status", willPayload: "offline");
        hidden.Drop();
        await Poll.UntilAsync(() => { lock (seen) return seen.Count == 1; }, "the hook saw the first will");
        node.Drop();

        var routed = await sub.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal("devices/node-1/status", routed.Topic);
        lock (seen) Assert.Equal(["hidden-1:devices/hidden-1/status:offline", "node-1:devices/node-1/status:offline"], seen);
        await hidden.DisposeAsync();
        await node.DisposeAsync();
    }

    [Fact]
    public async Task Intercepting_hook_sees_publishes_and_can_drop_them()
    {
        await using var server = await TestBroker.StartAsync();
        var seen = new List<string>();
        server.InterceptingPublishAsync += e =>
        {
            lock (seen) seen.Add($"{e.ClientId}:{e.ApplicationMessage.Topic}");
            e.ProcessPublish = !e.ApplicationMessage.Topic.EndsWith("/drop", StringComparison.Ordinal);
            return Task.CompletedTask;
        };
        await using var sub = await RawMqttClient.ConnectAsync(server.Port, "sub");
        await sub.SubscribeAsync(1, ("x/#", MqttQualityOfServiceLevel.AtMostOnce));
        await using var pub = await RawMqttClient.ConnectAsync(server.Port, "pub");
        await pub.PublishAsync("x/drop", "1", MqttQualityOfServiceLevel.AtLeastOnce, 1);
        await pub.ExpectAsync(MqttPacketType.PubAck);
        await pub.PublishAsync("x/keep", "2");
        Assert.Equal("x/keep", (await sub.ExpectAsync(MqttPacketType.Publish)).Topic);
        lock (seen) Assert.Equal(["pub:x/drop", "pub:x/keep"], seen);
    }
}

public sealed class BackpressureTests
{
    [Fact]
    public async Task Burst_into_a_small_queue_of_an_online_subscriber_is_slowed_down_not_dropped()
    {
        // A slow subscriber is never taken for a stalled one here, however busy the machine is.
        await using var server = await TestBroker.StartAsync(o =>
        {
            o.MaxQueuedMessagesPerSession = 8;
            o.MaxInflightMessagesPerSession = 2;
            o.SlowSubscriberTimeout = TimeSpan.FromSeconds(60);
        });
        using var metrics = new MetricCapture(server.Meter);
        await using var sub = await RawMqttClient.ConnectAsync(server.Port, "dashboard");
        await sub.SubscribeAsync(1, ("burst/#", MqttQualityOfServiceLevel.AtLeastOnce));
        var got = new List<string>();
        var reader = Task.Run(async () =>
        {
            while (got.Count < 40)
            {
                var p = await sub.ReceiveAsync(TimeSpan.FromSeconds(20));
                if (p.Type != Protocol.MqttPacketType.Publish) continue;
                got.Add(p.PayloadText);
                await sub.SendAckAsync(Protocol.MqttPacketType.PubAck, p.PacketIdentifier);
            }
        });

        // 40 QoS 1 messages in one write: far more than the subscriber's queue (8) holds at once.
        await using var pub = await RawMqttClient.ConnectAsync(server.Port, "meter");
        var burst = Enumerable.Range(0, 40).SelectMany(i => RawMqttClient.EncodePublish("burst/m1", $"{i}", MqttQualityOfServiceLevel.AtLeastOnce, (ushort)(i + 1))).ToArray();
        await pub.SendRawAsync(burst);

        await reader.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"{i}"), got);
        Assert.Equal(0, metrics["campus.mqtt.broker.messages.dropped"]);
    }

    [Fact]
    public async Task A_stalled_subscriber_does_not_hold_the_publisher_up_and_its_overflow_is_counted()
    {
        await using var server = await TestBroker.StartAsync(o =>
        {
            o.MaxQueuedMessagesPerSession = 8;
            o.MaxInflightMessagesPerSession = 2;
            o.SlowSubscriberTimeout = TimeSpan.FromMilliseconds(200);
            o.StalledSubscriberExemption = TimeSpan.FromMinutes(5);
        });
        using var metrics = new MetricCapture(server.Meter);
        // Subscribes at QoS 1 and then never acknowledges anything.
        await using var stalled = await RawMqttClient.ConnectAsync(server.Port, "stuck-screen");
        await stalled.SubscribeAsync(1, ("burst/#", MqttQualityOfServiceLevel.AtLeastOnce));
        await using var healthy = await RawMqttClient.ConnectAsync(server.Port, "dashboard");
        await healthy.SubscribeAsync(1, ("burst/#", MqttQualityOfServiceLevel.AtMostOnce));

        await using var pub = await RawMqttClient.ConnectAsync(server.Port, "meter");
        var burst = Enumerable.Range(0, 40).SelectMany(i => RawMqttClient.EncodePublish("burst/m1", $"{i}", MqttQualityOfServiceLevel.AtLeastOnce, (ushort)(i + 1))).ToArray();
        await pub.SendRawAsync(burst);

        var got = new List<string>();
        while (got.Count < 40)
        {
            var p = await healthy.ReceiveAsync(TimeSpan.FromSeconds(30));
            if (p.Type == Protocol.MqttPacketType.Publish) got.Add(p.PayloadText);
        }
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"{i}"), got);
        // 2 in flight and 8 queued for the stalled subscriber; the other 30 are dropped and counted.
        await Poll.UntilAsync(() => metrics["campus.mqtt.broker.messages.dropped"] == 30, "the stalled subscriber's overflow is counted", TimeSpan.FromSeconds(30));
    }
}
