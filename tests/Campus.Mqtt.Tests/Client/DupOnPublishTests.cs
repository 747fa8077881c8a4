using Campus.Mqtt.Protocol;

namespace Campus.Mqtt.Tests.Client;

/// <summary>
/// DUP on outgoing PUBLISH packets: the client's own re-sends carry it, and so does a message the
/// application marks as a re-send of its own (a device's outbox after a reconnect).
/// </summary>
public sealed class DupOnPublishTests
{
    private static MqttClientOptionsBuilder Options(FakeBroker broker) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", broker.Port)
        .WithClientId("dup")
        .WithTimeout(TimeSpan.FromSeconds(5));

    [Fact]
    public async Task A_message_marked_as_a_resend_goes_out_with_dup_and_a_new_message_without()
    {
        await using var broker = new FakeBroker();
        await using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(broker).Build());
        var session = await broker.NextSessionAsync();

        var fresh = client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("door/event").WithPayload("a")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        var first = await session.NextAsync(MqttPacketType.Publish);
        await session.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubAck, first.PacketIdentifier));
        await fresh.WaitAsync(TimeSpan.FromSeconds(10));

        var resend = client.PublishAsync(new MqttApplicationMessage
        {
            Topic = "door/event",
            Payload = new System.Buffers.ReadOnlySequence<byte>("a"u8.ToArray()),
            QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
            Dup = true,
        });
        var second = await session.NextAsync(MqttPacketType.Publish);
        await session.SendAsync(MqttPacket.FromAcknowledgement(MqttPacketType.PubAck, second.PacketIdentifier));
        await resend.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal((false, true), (first.Dup, second.Dup));
    }

    [Fact]
    public async Task A_qos_0_message_marked_as_a_resend_is_refused_with_a_clear_error()
    {
        await using var broker = new FakeBroker();
        await using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(broker).Build());
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.PublishAsync(new MqttApplicationMessage { Topic = "door/event", Dup = true }));
        Assert.Contains("QoS 0", e.Message, StringComparison.Ordinal);
    }
}
