using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

public sealed class ProtocolErrorTests
{
    // A CONNECT of client "bad" (protocol MQTT level 4, clean session, keep-alive 0).
    private static readonly byte[] Connect = [0x10, 0x0F, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x00, 0x00, 0x03, (byte)'b', (byte)'a', (byte)'d'];

    public static TheoryData<string, byte[]> BadInputs => new()
    {
        { "garbage first packet", [0xDE, 0xAD, 0xBE, 0xEF, 0x00] },
        { "reserved packet type 15", [.. Connect, 0xF0, 0x00] },
        { "PUBLISH with QoS 3 flags", [.. Connect, 0x36, 0x05, 0x00, 0x01, (byte)'a', 0x00, 0x01] },
        { "SUBSCRIBE with reserved flags 0", [.. Connect, 0x80, 0x06, 0x00, 0x01, 0x00, 0x01, (byte)'a', 0x00] },
        { "first packet is not CONNECT", [0xC0, 0x00] },
        { "second CONNECT", [.. Connect, .. Connect] },
        { "oversize PUBLISH (2,000 bytes over a 1,024 limit)", [.. Connect, 0x30, 0xD0, 0x0F, 0x00, 0x01, (byte)'a'] },
        { "remaining length of five bytes", [.. Connect, 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Malformed_input_closes_only_that_connection(string what, byte[] bytes)
    {
        var logger = new CapturingLogger();
        await using var server = await TestBroker.StartAsync(o => o.MaxPacketSize = 1024, logger);
        using var metrics = new MetricCapture(server.Meter);
        await using var good = await RawMqttClient.ConnectAsync(server.Port, "good");
        await good.SubscribeAsync(1, ("echo/#", MqttQualityOfServiceLevel.AtLeastOnce));

        await using var bad = await RawMqttClient.OpenAsync(server.Port);
        await bad.SendRawAsync(bytes);
        await bad.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(bad.IsClosed, what);

        // The other client is untouched.
        await good.PublishAsync("echo/1", "still here", MqttQualityOfServiceLevel.AtLeastOnce, packetId: 7);
        Received? echoed = null;
        while (echoed is null)
        {
            var p = await good.ReceiveAsync();
            if (p.Type == MqttPacketType.Publish) echoed = p;
        }
        Assert.Equal("still here", echoed.PayloadText);
        Assert.False(good.IsClosed);
        await Poll.UntilAsync(() => metrics["campus.mqtt.broker.rejected[reason=protocol]"] == 1, $"the protocol rejection of '{what}' is counted");
        Assert.True(logger.Contains("protocol error"), logger.Dump());
    }

    [Fact]
    public async Task Unsupported_protocol_level_gets_connack_1()
    {
        await using var server = await TestBroker.StartAsync();
        await using var old = await RawMqttClient.OpenAsync(server.Port);
        byte[] level3 = [0x10, 0x11, 0x00, 0x06, (byte)'M', (byte)'Q', (byte)'I', (byte)'s', (byte)'d', (byte)'p', 0x03, 0x02, 0x00, 0x00, 0x00, 0x03, (byte)'o', (byte)'l', (byte)'d'];
        await old.SendRawAsync(level3);
        var connAck = await old.ExpectAsync(MqttPacketType.ConnAck);
        Assert.Equal(MqttConnectReturnCode.UnacceptableProtocolVersion, connAck.ConnectReturnCode);
        await old.Closed.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Empty_client_id_with_a_persistent_session_gets_connack_2()
    {
        await using var server = await TestBroker.StartAsync();
        await using var raw = await RawMqttClient.OpenAsync(server.Port);
        Assert.Equal(MqttConnectReturnCode.IdentifierRejected, (await raw.SendConnectAsync("", cleanSession: false)).ConnectReturnCode);
        await using var anon = await RawMqttClient.OpenAsync(server.Port);
        Assert.Equal(MqttConnectReturnCode.Accepted, (await anon.SendConnectAsync("", cleanSession: true)).ConnectReturnCode);
    }
}
