using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

public sealed class MetricsTests
{
    [Fact]
    public async Task Broker_counts_connections_messages_and_bytes_on_its_own_meter()
    {
        await using var server = await TestBroker.StartAsync();
        await using var other = await TestBroker.StartAsync();
        using var metrics = new MetricCapture(server.Meter);
        Assert.Equal("Campus.Mqtt.Broker", server.Meter.Name);

        await using var sub = await RawMqttClient.ConnectAsync(server.Port, "sub");
        await sub.SubscribeAsync(1, ("m/#", MqttQualityOfServiceLevel.AtMostOnce));
        await using (var pub = await RawMqttClient.ConnectAsync(server.Port, "pub"))
        {
            Assert.Equal(2, metrics["campus.mqtt.broker.connections"]);
            await pub.PublishAsync("m/1", "one");
            await pub.PublishAsync("m/2", "two");
            await sub.ExpectAsync(MqttPacketType.Publish);
            await sub.ExpectAsync(MqttPacketType.Publish);
            await pub.DisconnectAsync();
            await pub.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        }
        // A client of another broker in the same process is not counted here.
        await using var elsewhere = await RawMqttClient.ConnectAsync(other.Port, "elsewhere");

        await Poll.UntilAsync(() => metrics["campus.mqtt.broker.connections"] == 1, "the publisher's disconnect is counted");
        Assert.Equal(2, metrics["campus.mqtt.broker.messages.in"]);
        Assert.Equal(2, metrics["campus.mqtt.broker.messages.out"]);
        Assert.True(metrics["campus.mqtt.broker.bytes.in"] > 0);
        await Poll.UntilAsync(() => metrics["campus.mqtt.broker.bytes.out"] > 0, "bytes out are counted");
    }

    [Fact]
    public async Task Unsubscribed_filter_no_longer_delivers()
    {
        await using var server = await TestBroker.StartAsync();
        await using var sub = await RawMqttClient.ConnectAsync(server.Port, "sub");
        await sub.SubscribeAsync(1, ("u/a", MqttQualityOfServiceLevel.AtMostOnce), ("u/b", MqttQualityOfServiceLevel.AtMostOnce));
        await sub.SendRawAsync([0xA2, 0x05, 0x00, 0x02, 0x00, 0x01, (byte)'x']); // UNSUBSCRIBE id 2 from "x" (not subscribed: still acknowledged)
        Assert.Equal(2, (await sub.ExpectAsync(MqttPacketType.UnsubAck)).PacketIdentifier);
        await sub.SendRawAsync([0xA2, 0x07, 0x00, 0x03, 0x00, 0x03, (byte)'u', (byte)'/', (byte)'a']);
        Assert.Equal(3, (await sub.ExpectAsync(MqttPacketType.UnsubAck)).PacketIdentifier);

        await server.InjectApplicationMessage(TestBroker.Message("u/a", "gone"));
        await server.InjectApplicationMessage(TestBroker.Message("u/b", "kept"));
        var p = await sub.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal("u/b", p.Topic);
    }
}
