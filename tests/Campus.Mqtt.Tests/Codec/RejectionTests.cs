using System.Buffers;
using System.Text;
using Campus.Mqtt.Protocol.V311;

namespace Campus.Mqtt.Tests.Codec;

/// <summary>Every rule MQTT 3.1.1 says a receiver MUST enforce, each broken once.</summary>
public sealed class RejectionTests
{
    /// <summary>A packet from its first byte and body (hex); the remaining length is computed.</summary>
    private static string P(byte header, string body)
    {
        var bytes = Codec.Hex(body);
        var length = new byte[4];
        var n = MqttV311Encoder.WriteVariableByteInteger(length, bytes.Length);
        return Convert.ToHexString([header, .. length.AsSpan(0, n), .. bytes]);
    }

    /// <summary>An MQTT UTF-8 string: two-byte length and the bytes.</summary>
    private static string S(string text) => Str(Encoding.UTF8.GetBytes(text));

    private static string Str(byte[] utf8) => $"{utf8.Length:X4}{Convert.ToHexString(utf8)}";

    /// <summary>A CONNECT with protocol "MQTT" level 4, the given flags, keep alive 60, and payload.</summary>
    private static string Connect(byte flags, string payload, string protocol = "MQTT", byte level = 4) =>
        P(0x10, S(protocol) + $"{level:X2}{flags:X2}003C" + payload);

    public static TheoryData<string, string, string> Violations => new()
    {
        // fixed header
        { "reserved packet type 0", "0000", "Control packet type" },
        { "reserved packet type 15", "F000", "Control packet type" },
        { "CONNECT with fixed header flags", P(0x11, S("MQTT") + "0402003C" + S("c")), "CONNECT fixed header flags" },
        { "PUBREL without flag 0010", "60020001", "PUBREL fixed header flags" },
        { "SUBSCRIBE without flag 0010", P(0x80, "0001" + S("a") + "00"), "SUBSCRIBE fixed header flags" },
        { "UNSUBSCRIBE without flag 0010", P(0xA0, "0001" + S("a")), "UNSUBSCRIBE fixed header flags" },
        { "PUBACK with flags", "41020001", "PUBACK fixed header flags" },
        { "PINGREQ with flags", "C800", "PINGREQ fixed header flags" },
        { "DISCONNECT with flags", "E100", "DISCONNECT fixed header flags" },
        { "PUBLISH QoS 3", P(0x36, S("a") + "0001"), "QoS: expected 0, 1 or 2, actual 3" },
        { "PUBLISH DUP with QoS 0", P(0x38, S("a")), "DUP flag" },
        { "remaining length of 5 bytes", "30FFFFFFFF01", "at most 4 bytes" },
        { "remaining length not minimally encoded", "308000", "minimally encoded" },
        { "remaining bytes after a PINGREQ", "C00100", "PINGREQ remaining length: expected 0, actual 1" },
        { "DISCONNECT with a body", "E00100", "DISCONNECT remaining length: expected 0, actual 1" },
        { "PINGRESP with a body", "D00100", "PINGRESP remaining length: expected 0, actual 1" },
        // CONNECT
        { "CONNECT protocol name wrong", Connect(0x02, S("c"), protocol: "MQTX"), "CONNECT protocol name: expected \"MQTT\"" },
        { "CONNECT protocol level 3", Connect(0x02, S("c"), level: 3), "CONNECT protocol level: expected 4" },
        { "CONNECT protocol level 5", Connect(0x02, S("c"), level: 5), "CONNECT protocol level: expected 4" },
        { "CONNECT MQTT 3.1", Connect(0x02, S("c"), protocol: "MQIsdp", level: 3), "MQIsdp" },
        { "CONNECT reserved flag", Connect(0x03, S("c")), "CONNECT reserved flag (bit 0): expected 0, actual 1" },
        { "CONNECT will QoS 3", Connect(0x02 | 0x04 | 0x18, S("c") + S("w") + S("x")), "will QoS: expected 0, 1 or 2, actual 3" },
        { "CONNECT will QoS without will flag", Connect(0x02 | 0x08, S("c")), "will QoS without the will flag" },
        { "CONNECT will retain without will flag", Connect(0x02 | 0x20, S("c")), "will retain without the will flag" },
        { "CONNECT password without user name", Connect(0x02 | 0x40, S("c") + S("pw")), "password flag without the user name flag" },
        { "CONNECT client id with overlong UTF-8", Connect(0x02, Str([0xC0, 0x80])), "not well-formed UTF-8" },
        { "CONNECT client id with a UTF-16 surrogate", Connect(0x02, Str([0x61, 0xED, 0xA0, 0x80])), "not well-formed UTF-8" },
        { "CONNECT client id with U+0000", Connect(0x02, Str([0x61, 0x00])), "U+0000" },
        { "CONNECT user name with U+0000", Connect(0x82, S("c") + Str([0x00])), "CONNECT user name is invalid" },
        { "CONNECT will topic with a wildcard", Connect(0x06, S("c") + S("a/+") + S("x")), "CONNECT will topic is invalid" },
        { "CONNECT empty will topic", Connect(0x06, S("c") + S("") + S("x")), "CONNECT will topic is invalid" },
        { "CONNECT missing client id", Connect(0x02, ""), "CONNECT client identifier length runs past the end" },
        { "CONNECT missing will message", Connect(0x06, S("c") + S("w")), "CONNECT will message length runs past the end" },
        { "CONNECT missing user name", Connect(0x82, S("c")), "CONNECT user name length runs past the end" },
        { "CONNECT missing password", Connect(0xC2, S("c") + S("u")), "CONNECT password length runs past the end" },
        { "CONNECT string longer than the packet", Connect(0x02, "0010" + "41"), "CONNECT client identifier runs past the end" },
        { "CONNECT bytes after the payload", Connect(0x02, S("c") + "00"), "CONNECT body: expected it to end" },
        { "CONNECT without keep alive", P(0x10, S("MQTT") + "0402"), "CONNECT keep alive runs past the end" },
        // CONNACK
        { "CONNACK too long", "2003000000", "CONNACK remaining length: expected 2, actual 3" },
        { "CONNACK too short", "200100", "CONNACK remaining length: expected 2, actual 1" },
        { "CONNACK reserved flag bits", "20020200", "CONNACK acknowledge flags bits 7-1" },
        { "CONNACK return code 6", "20020006", "CONNACK return code: expected 0 to 5, actual 6" },
        { "CONNACK session present when refused", "20020105", "session present flag with a non-zero return code" },
        // PUBLISH
        { "PUBLISH empty topic", P(0x30, S("") + "41"), "at least one character" },
        { "PUBLISH topic with +", P(0x30, S("a/+/c")), "must not contain the wildcards" },
        { "PUBLISH topic with #", P(0x30, S("a/#")), "must not contain the wildcards" },
        { "PUBLISH topic with U+0000", P(0x30, Str([0x61, 0x00, 0x62])), "U+0000" },
        { "PUBLISH topic with invalid UTF-8", P(0x30, Str([0x61, 0xFF])), "not well-formed UTF-8" },
        { "PUBLISH topic truncated UTF-8", P(0x30, Str([0x61, 0xE2, 0x82])), "not well-formed UTF-8" },
        { "PUBLISH QoS 1 packet id 0", P(0x32, S("a") + "0000"), "PUBLISH packet identifier: expected 1 to 65535, actual 0" },
        { "PUBLISH QoS 2 packet id 0", P(0x34, S("a") + "0000"), "PUBLISH packet identifier: expected 1 to 65535, actual 0" },
        { "PUBLISH QoS 1 without packet id", P(0x32, S("a")), "PUBLISH packet identifier runs past the end" },
        { "PUBLISH topic longer than packet", P(0x30, "0009" + "6162"), "PUBLISH topic name runs past the end" },
        { "PUBLISH without topic", "3000", "PUBLISH topic name length runs past the end" },
        // acknowledgements
        { "PUBACK packet id 0", "40020000", "PUBACK packet identifier: expected 1 to 65535, actual 0" },
        { "PUBREC packet id 0", "50020000", "PUBREC packet identifier: expected 1 to 65535, actual 0" },
        { "PUBREL packet id 0", "62020000", "PUBREL packet identifier: expected 1 to 65535, actual 0" },
        { "PUBCOMP packet id 0", "70020000", "PUBCOMP packet identifier: expected 1 to 65535, actual 0" },
        { "UNSUBACK packet id 0", "B0020000", "UNSUBACK packet identifier: expected 1 to 65535, actual 0" },
        { "PUBACK too long", "4003000100", "PUBACK remaining length: expected 2, actual 3" },
        { "PUBCOMP too short", "700100", "PUBCOMP remaining length: expected 2, actual 1" },
        // SUBSCRIBE / SUBACK / UNSUBSCRIBE
        { "SUBSCRIBE with no topic", P(0x82, "0001"), "SUBSCRIBE topic filters: expected at least 1, actual 0" },
        { "SUBSCRIBE packet id 0", P(0x82, "0000" + S("a") + "00"), "SUBSCRIBE packet identifier: expected 1 to 65535, actual 0" },
        { "SUBSCRIBE requested QoS 3", P(0x82, "0001" + S("a") + "03"), "SUBSCRIBE requested QoS: expected 0, 1 or 2, actual 3" },
        { "SUBSCRIBE reserved bits", P(0x82, "0001" + S("a") + "04"), "SUBSCRIBE requested QoS reserved bits 7-2: expected 0, actual 4" },
        { "SUBSCRIBE missing QoS byte", P(0x82, "0001" + S("a")), "SUBSCRIBE requested QoS runs past the end" },
        { "SUBSCRIBE empty filter", P(0x82, "0001" + S("") + "00"), "at least one character" },
        { "SUBSCRIBE # not last", P(0x82, "0001" + S("a/#/b") + "00"), "'#' must be the last level" },
        { "SUBSCRIBE # sharing a level", P(0x82, "0001" + S("a#") + "00"), "'#' must occupy a whole level" },
        { "SUBSCRIBE + sharing a level", P(0x82, "0001" + S("a/b+") + "00"), "'+' must occupy a whole level" },
        { "SUBSCRIBE + before text", P(0x82, "0001" + S("+a/b") + "00"), "'+' must occupy a whole level" },
        { "SUBSCRIBE second filter invalid", P(0x82, "0001" + S("ok") + "01" + S("a/##") + "00"), "'#' must occupy a whole level" },
        { "SUBSCRIBE filter with U+0000", P(0x82, "0001" + Str([0x61, 0x00]) + "00"), "U+0000" },
        { "SUBACK with no return code", "90020001", "SUBACK return codes: expected at least 1, actual 0" },
        { "SUBACK return code 3", "9003000103", "SUBACK return code: expected 0x00, 0x01, 0x02 or 0x80, actual 0x03" },
        { "SUBACK packet id 0", "9003000000", "SUBACK packet identifier: expected 1 to 65535, actual 0" },
        { "UNSUBSCRIBE with no topic", P(0xA2, "0001"), "UNSUBSCRIBE topic filters: expected at least 1, actual 0" },
        { "UNSUBSCRIBE packet id 0", P(0xA2, "0000" + S("a")), "UNSUBSCRIBE packet identifier: expected 1 to 65535, actual 0" },
        { "UNSUBSCRIBE invalid filter", P(0xA2, "0001" + S("a/#/")), "'#' must be the last level" },
        { "UNSUBSCRIBE trailing byte", P(0xA2, "0001" + S("a") + "00"), "UNSUBSCRIBE topic filter length runs past the end" },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public void Decoder_rejects_a_packet_that_breaks_a_must_rule(string rule, string hex, string expectedMessage)
    {
        var bytes = Codec.Hex(hex);
        foreach (var input in new[] { new ReadOnlySequence<byte>(bytes), Segments.Split(bytes, 1) })
        {
            var e = Assert.Throws<MqttProtocolException>(() =>
            {
                var reader = new SequenceReader<byte>(input);
                MqttV311Decoder.TryRead(ref reader, Codec.Unlimited, out _);
            });
            Assert.True(e.Message.Contains(expectedMessage, StringComparison.Ordinal), $"{rule}: message was \"{e.Message}\"");
        }
    }

    [Theory]
    [InlineData(3, "MQIsdp")]
    [InlineData(3, "MQTT")]
    [InlineData(5, "MQTT")]
    public void Decoder_marks_an_unsupported_protocol_level_so_a_server_can_answer_connack_1(byte level, string protocol)
    {
        var bytes = Codec.Hex(Connect(0x02, S("c"), protocol, level));
        var e = Assert.Throws<MqttProtocolException>(() => Codec.DecodeOne(bytes));
        Assert.Equal(MqttProtocolError.UnsupportedProtocolLevel, e.Error);
    }

    [Fact]
    public void Decoder_rejects_a_packet_over_the_maximum_size_from_its_fixed_header_alone()
    {
        // Only the fixed header is present: the size check must not wait for the body.
        var header = Codec.Hex("30FFFF03");
        var e = Assert.Throws<MqttProtocolException>(() => Codec.DecodeOne(header, maximumPacketSize: 1024));
        Assert.Equal(MqttProtocolError.PacketTooLarge, e.Error);
        Assert.Contains("expected at most 1024 bytes, actual 65539 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decoder_accepts_a_packet_of_exactly_the_maximum_size()
    {
        var bytes = Codec.Hex(P(0x30, S("a") + "414243"));
        var packet = Codec.DecodeOne(bytes, maximumPacketSize: bytes.Length);
        Assert.Equal(3, packet.Publish.Payload.Length);
        Assert.Throws<MqttProtocolException>(() => Codec.DecodeOne(bytes, maximumPacketSize: bytes.Length - 1));
    }
}
