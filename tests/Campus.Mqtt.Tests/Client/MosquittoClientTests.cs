using Campus.Testing;

namespace Campus.Mqtt.Tests.Client;

/// <summary>The client against a real Mosquitto shared by these tests (none of them stops it).</summary>
public sealed class MosquittoClientTests : IClassFixture<SharedMosquitto>
{
    private readonly MosquittoServer _server;

    public MosquittoClientTests(SharedMosquitto mosquitto) => _server = mosquitto.Server;

    private static string Topic(string name) => $"test/{Guid.NewGuid():N}/{name}";

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task A_message_published_at_each_qos_reaches_a_subscriber_at_that_qos(MqttQualityOfServiceLevel qos)
    {
        var topic = Topic("qos");
        await using var subscriber = await MqttTestClient.ConnectAsync(_server);
        var granted = await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);
        Assert.Equal(MqttSubscribeReturnCode.GrantedQoS2, granted.Items[0].ResultCode);
        await using var publisher = await MqttTestClient.ConnectAsync(_server);

        var result = await publisher.PublishAsync(topic, $"hello qos {(int)qos}", qos);

        Assert.Equal(qos == MqttQualityOfServiceLevel.AtMostOnce, result.PacketIdentifier is null);
        await subscriber.WaitForAsync(1, "the subscriber gets the message");
        Assert.True(subscriber.Received.TryPeek(out var received));
        Assert.Equal(topic, received.ApplicationMessage.Topic);
        Assert.Equal($"hello qos {(int)qos}", received.ApplicationMessage.ConvertPayloadToString());
        Assert.Equal(qos, received.ApplicationMessage.QualityOfServiceLevel);
    }

    [Fact]
    public async Task Subscribe_returns_the_granted_qos_of_each_filter()
    {
        await using var client = await MqttTestClient.ConnectAsync(_server);
        var prefix = Topic("granted");
        var result = await client.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(prefix + "/a", MqttQualityOfServiceLevel.AtMostOnce)
            .WithTopicFilter(prefix + "/+/b", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter(prefix + "/#", MqttQualityOfServiceLevel.ExactlyOnce)
            .Build());
        Assert.Equal(
            [MqttSubscribeReturnCode.GrantedQoS0, MqttSubscribeReturnCode.GrantedQoS1, MqttSubscribeReturnCode.GrantedQoS2],
            result.Items.Select(i => i.ResultCode));
        Assert.Equal(prefix + "/+/b", result.Items[1].TopicFilter.Topic);
    }

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task Messages_of_one_qos_arrive_in_the_order_they_were_published(MqttQualityOfServiceLevel qos)
    {
        var topic = Topic("order");
        await using var subscriber = await MqttTestClient.ConnectAsync(_server);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);
        await using var publisher = await MqttTestClient.ConnectAsync(_server, b => b.WithMaximumInFlightMessages(8));

        var publishes = new List<Task>();
        for (var i = 0; i < 300; i++)
        {
            // Through a window of 8 in-flight messages. (MQTT orders messages per QoS level only:
            // Mosquitto forwards QoS 2 at PUBREL, QoS 1 at once.)
            publishes.Add(publisher.PublishAsync(topic, i.ToString(System.Globalization.CultureInfo.InvariantCulture), qos));
        }
        await Task.WhenAll(publishes);

        await subscriber.WaitForAsync(300, "all 300 messages arrive");
        Assert.Equal(Enumerable.Range(0, 300).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), subscriber.ReceivedPayloads);
    }

    [Fact]
    public async Task A_retained_message_is_delivered_to_a_later_subscriber()
    {
        var topic = Topic("retained");
        await using (var publisher = await MqttTestClient.ConnectAsync(_server))
        {
            await publisher.PublishAsync(topic, "online", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
            await publisher.Client.DisconnectAsync();
        }

        await using var subscriber = await MqttTestClient.ConnectAsync(_server);
        await subscriber.SubscribeAsync(topic);

        await subscriber.WaitForAsync(1, "the retained message arrives");
        Assert.True(subscriber.Received.TryPeek(out var received));
        Assert.Equal("online", received.ApplicationMessage.ConvertPayloadToString());
        Assert.True(received.ApplicationMessage.Retain);
    }

    [Fact]
    public async Task The_will_is_published_when_the_client_drops_without_disconnect()
    {
        var willTopic = Topic("status");
        await using var watcher = await MqttTestClient.ConnectAsync(_server);
        await watcher.SubscribeAsync(willTopic);
        await using var device = await MqttTestClient.ConnectAsync(_server, b => b
            .WithWillTopic(willTopic).WithWillPayload("offline").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));

        ((MqttClient)device.Client).AbortConnectionForTesting();

        await watcher.WaitForPayloadAsync("offline");
        Assert.Equal(willTopic, watcher.Received.First().ApplicationMessage.Topic);
    }

    [Fact]
    public async Task A_clean_disconnect_does_not_publish_the_will()
    {
        var willTopic = Topic("status");
        await using var watcher = await MqttTestClient.ConnectAsync(_server);
        await watcher.SubscribeAsync(willTopic);
        var device = await MqttTestClient.ConnectAsync(_server, b => b.WithWillTopic(willTopic).WithWillPayload("offline"));

        await device.Client.DisconnectAsync();
        Assert.False(device.Client.IsConnected);

        // Mosquitto would publish the will at once; a marker sent after the disconnect arrives after it.
        await using var other = await MqttTestClient.ConnectAsync(_server);
        await other.PublishAsync(willTopic, "marker");
        await watcher.WaitForPayloadAsync("marker");
        Assert.Equal(["marker"], watcher.ReceivedPayloads);
        await device.DisposeAsync();
    }

    [Fact]
    public async Task A_persistent_session_receives_qos1_messages_queued_while_it_was_offline()
    {
        var topic = Topic("queued");
        var clientId = MqttTestClient.NewId("persist");
        var offline = await MqttTestClient.ConnectAsync(_server, b => b.WithClientId(clientId).WithCleanSession(false));
        await offline.SubscribeAsync(topic);
        await offline.Client.DisconnectAsync();
        await offline.DisposeAsync();

        await using (var publisher = await MqttTestClient.ConnectAsync(_server))
        {
            for (var i = 1; i <= 3; i++) await publisher.PublishAsync(topic, $"queued {i}");
        }

        var back = MqttTestClient.Create();
        await using var _ = back;
        var result = await back.Client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(_server.Host, _server.Port).WithClientId(clientId).WithCleanSession(false).Build());

        Assert.True(result.IsSessionPresent);
        await back.WaitForAsync(3, "the three queued messages arrive");
        Assert.Equal(["queued 1", "queued 2", "queued 3"], back.ReceivedPayloads);
    }

    [Fact]
    public async Task Without_acknowledgement_mosquitto_delivers_the_message_again_after_a_reconnect()
    {
        var topic = Topic("manual-ack");
        var clientId = MqttTestClient.NewId("ack");
        await using var consumer = await MqttTestClient.ConnectAsync(_server,
            b => b.WithClientId(clientId).WithCleanSession(false).WithAutoReconnect(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200)),
            autoAcknowledge: false);
        await consumer.SubscribeAsync(topic);
        await using var publisher = await MqttTestClient.ConnectAsync(_server);

        await publisher.PublishAsync(topic, "durable");
        await consumer.WaitForAsync(1, "the first delivery arrives");
        Assert.False(consumer.Received.First().ApplicationMessage.Dup);

        // Not acknowledged: after the connection drops, Mosquitto sends it again (DUP set).
        ((MqttClient)consumer.Client).AbortConnectionForTesting();
        await consumer.WaitForAsync(2, "the message is delivered again after the reconnect");
        var again = consumer.Received.ElementAt(1);
        Assert.Equal("durable", again.ApplicationMessage.ConvertPayloadToString());
        Assert.True(again.ApplicationMessage.Dup);

        // Acknowledged now: after another drop it is not delivered a third time. A marker published
        // after the reconnect arrives behind anything Mosquitto would re-send first.
        await again.AcknowledgeAsync();
        await Poll.UntilAsync(() => consumer.Client.IsConnected, "the consumer is connected");
        ((MqttClient)consumer.Client).AbortConnectionForTesting(reset: false); // FIN, so the PUBACK already sent is read first
        await Poll.UntilAsync(() => consumer.Client.IsConnected, "the consumer reconnects");
        consumer.AutoAcknowledge = true;
        await publisher.PublishAsync(topic, "marker");
        await consumer.WaitForPayloadAsync("marker");
        Assert.Equal(["durable", "durable", "marker"], consumer.ReceivedPayloads);
    }

    [Fact]
    public async Task A_handler_that_acknowledges_later_keeps_the_message_in_order()
    {
        var topic = Topic("deferred");
        await using var consumer = await MqttTestClient.ConnectAsync(_server, autoAcknowledge: false);
        await consumer.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);
        await using var publisher = await MqttTestClient.ConnectAsync(_server);
        var published = Task.WhenAll(
            publisher.PublishAsync(topic, "one", MqttQualityOfServiceLevel.AtLeastOnce),
            publisher.PublishAsync(topic, "two", MqttQualityOfServiceLevel.ExactlyOnce));

        await consumer.WaitForAsync(2, "both messages are delivered before any acknowledgement");
        foreach (var message in consumer.Received) await message.AcknowledgeAsync();
        await published;
        Assert.Equal(["one", "two"], consumer.ReceivedPayloads);
    }

    [Fact]
    public async Task A_handler_may_publish_while_handling_a_message()
    {
        var request = Topic("request");
        var reply = Topic("reply");
        await using var responder = MqttTestClient.Create();
        responder.Client.ApplicationMessageReceivedAsync += async e =>
        {
            if (e.ApplicationMessage.Topic == request)
                await responder.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(reply).WithPayload("pong").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.ExactlyOnce).Build());
        };
        await responder.Client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(_server.Host, _server.Port).Build());
        await responder.SubscribeAsync(request);
        await using var asker = await MqttTestClient.ConnectAsync(_server);
        await asker.SubscribeAsync(reply);

        await asker.PublishAsync(request, "ping");

        await asker.WaitForPayloadAsync("pong");
    }

    [Fact]
    public async Task Unsubscribe_stops_delivery_of_that_filter_only()
    {
        var prefix = Topic("unsub");
        await using var subscriber = await MqttTestClient.ConnectAsync(_server);
        await subscriber.SubscribeAsync(prefix + "/a");
        await subscriber.SubscribeAsync(prefix + "/b");
        var result = await subscriber.Client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(prefix + "/a").Build());
        Assert.Equal([prefix + "/a"], result.TopicFilters);
        await using var publisher = await MqttTestClient.ConnectAsync(_server);

        await publisher.PublishAsync(prefix + "/a", "dropped");
        await publisher.PublishAsync(prefix + "/b", "kept");

        await subscriber.WaitForPayloadAsync("kept");
        Assert.Equal(["kept"], subscriber.ReceivedPayloads);
    }

    [Fact]
    public async Task Mosquitto_command_line_clients_interoperate_with_the_client()
    {
        var topic = Topic("interop");
        await using var subscriber = await MqttTestClient.ConnectAsync(_server);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);
        var (code, _, error) = await ExternalProcess.RunAsync("mosquitto_pub",
            ["-h", _server.Host, "-p", _server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", topic, "-m", "from mosquitto_pub", "-q", "2", "-V", "mqttv311"]);
        Assert.True(code == 0, error);
        await subscriber.WaitForPayloadAsync("from mosquitto_pub");
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, subscriber.Received.First().ApplicationMessage.QualityOfServiceLevel);
    }

    [Fact]
    public async Task Keep_alive_pings_keep_an_idle_connection_open()
    {
        await using var client = await MqttTestClient.ConnectAsync(_server, b => b.WithKeepAlivePeriod(TimeSpan.FromSeconds(1)));
        var mqtt = (MqttClient)client.Client;
        // A generous deadline: on a loaded 2-core machine the first ping can start late; a dead
        // keep-alive loop still fails here.
        await Poll.UntilAsync(() => mqtt.PingResponsesReceived >= 2, "two PINGRESP answers arrive", TimeSpan.FromSeconds(30));
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public async Task Publishing_to_an_invalid_topic_is_refused_before_anything_is_sent()
    {
        await using var client = await MqttTestClient.ConnectAsync(_server);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.Client.PublishAsync(new MqttApplicationMessage { Topic = "a/+/b" }));
        Assert.Contains("wildcards", e.Message, StringComparison.Ordinal);
        Assert.True(client.Client.IsConnected);
    }
}
