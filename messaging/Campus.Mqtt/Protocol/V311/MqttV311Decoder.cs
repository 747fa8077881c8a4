using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace Campus.Mqtt.Protocol.V311;

/// <summary>
/// Decodes MQTT 3.1.1 control packets from buffered bytes. <see cref="TryRead"/> returns false
/// and consumes nothing while a packet is incomplete; it throws <see cref="MqttProtocolException"/>
/// for bytes that break a rule the receiver must enforce. A PUBLISH packet is returned as slices
/// of the input (no allocation); they stay valid until the caller releases the buffer.
/// </summary>
internal static class MqttV311Decoder
{
    /// <summary>The largest value the remaining-length field can carry (four bytes).</summary>
    public const int MaximumRemainingLength = 268_435_455;

    /// <summary>The largest packet MQTT 3.1.1 can express: fixed header byte, 4 length bytes, body.</summary>
    public const int MaximumPacketSize = MaximumRemainingLength + 5;

    private const int StackallocThreshold = 256;

    private static ReadOnlySpan<byte> ProtocolNameMqtt => "MQTT"u8;

    private static ReadOnlySpan<byte> ProtocolNameMqisdp => "MQIsdp"u8;

    /// <summary>
    /// Reads one packet. Returns false, with <paramref name="reader"/> untouched, when the input
    /// does not yet hold the whole packet. On success the reader is advanced past the packet.
    /// </summary>
    /// <param name="reader">The input; it is only advanced when a whole packet was read.</param>
    /// <param name="maximumPacketSize">Largest accepted packet in bytes, fixed header included; checked from the fixed header before the body is parsed.</param>
    /// <param name="packet">The packet; a PUBLISH refers to the input's memory.</param>
    /// <exception cref="MqttProtocolException">The input breaks the protocol.</exception>
    public static bool TryRead(ref SequenceReader<byte> reader, int maximumPacketSize, out MqttPacket packet)
    {
        packet = default;
        var probe = reader;
        if (!probe.TryRead(out var header)) return false;
        var type = (MqttPacketType)(header >> 4);
        var flags = header & 0x0F;
        ValidateTypeAndFlags(type, flags);

        if (!TryReadVariableByteInteger(ref probe, out var remainingLength, out var lengthBytes)) return false;
        var packetSize = 1L + lengthBytes + remainingLength;
        if (packetSize > maximumPacketSize)
        {
            MqttProtocolException.Throw(MqttProtocolError.PacketTooLarge,
                $"{TypeName(type)} packet too large: expected at most {maximumPacketSize} bytes, actual {packetSize} bytes (from the fixed header).");
        }
        if (probe.Remaining < remainingLength) return false;

        var body = probe.UnreadSequence.Slice(0, remainingLength);
        probe.Advance(remainingLength);
        packet = ReadBody(type, flags, body);
        reader = probe;
        return true;
    }

    /// <summary>Reads one packet from the start of <paramref name="buffer"/>; <paramref name="consumed"/> is the position after it.</summary>
    public static bool TryRead(in ReadOnlySequence<byte> buffer, int maximumPacketSize, out MqttPacket packet, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        var read = TryRead(ref reader, maximumPacketSize, out packet);
        consumed = reader.Position;
        return read;
    }

    private static void ValidateTypeAndFlags(MqttPacketType type, int flags)
    {
        switch (type)
        {
            case MqttPacketType.Publish:
                if ((flags & 0b0110) == 0b0110) MqttProtocolException.Throw("PUBLISH QoS: expected 0, 1 or 2, actual 3.");
                if ((flags & 0b0110) == 0 && (flags & 0b1000) != 0) MqttProtocolException.Throw("PUBLISH DUP flag: expected 0 for QoS 0, actual 1.");
                break;
            case MqttPacketType.PubRel:
            case MqttPacketType.Subscribe:
            case MqttPacketType.Unsubscribe:
                if (flags != 0b0010) ThrowFlags(type, 0b0010, flags);
                break;
            case MqttPacketType.Connect:
            case MqttPacketType.ConnAck:
            case MqttPacketType.PubAck:
            case MqttPacketType.PubRec:
            case MqttPacketType.PubComp:
            case MqttPacketType.SubAck:
            case MqttPacketType.UnsubAck:
            case MqttPacketType.PingReq:
            case MqttPacketType.PingResp:
            case MqttPacketType.Disconnect:
                if (flags != 0) ThrowFlags(type, 0, flags);
                break;
            default:
                MqttProtocolException.ThrowExpected("Control packet type", "1 to 14", ((int)type).ToString(System.Globalization.CultureInfo.InvariantCulture) + " (reserved)");
                break;
        }
    }

    /// <summary>Reads the remaining-length field: at most 4 bytes, minimally encoded.</summary>
    /// <returns>False when more bytes are needed.</returns>
    internal static bool TryReadVariableByteInteger(ref SequenceReader<byte> reader, out int value, out int byteCount)
    {
        value = 0;
        byteCount = 0;
        var multiplier = 1;
        for (var i = 0; i < 4; i++)
        {
            if (!reader.TryRead(out var b)) return false;
            value += (b & 0x7F) * multiplier;
            if ((b & 0x80) == 0)
            {
                byteCount = i + 1;
                if (b == 0 && i > 0) MqttProtocolException.Throw("Remaining length is not minimally encoded: expected no trailing 0x00 continuation byte, actual one.");
                return true;
            }
            multiplier *= 128;
        }
        MqttProtocolException.Throw("Remaining length: expected at most 4 bytes, actual a fifth continuation byte.");
        return false;
    }

    private static MqttPacket ReadBody(MqttPacketType type, int flags, ReadOnlySequence<byte> body)
    {
        var reader = new SequenceReader<byte>(body);
        MqttPacket packet;
        switch (type)
        {
            case MqttPacketType.Publish:
                packet = ReadPublish(ref reader, flags);
                break;
            case MqttPacketType.PubAck:
            case MqttPacketType.PubRec:
            case MqttPacketType.PubRel:
            case MqttPacketType.PubComp:
            case MqttPacketType.UnsubAck:
                ExpectRemainingLength(type, 2, body.Length);
                packet = MqttPacket.FromAcknowledgement(type, ReadPacketIdentifier(ref reader, type));
                break;
            case MqttPacketType.PingReq:
            case MqttPacketType.PingResp:
            case MqttPacketType.Disconnect:
                ExpectRemainingLength(type, 0, body.Length);
                packet = MqttPacket.FromEmpty(type);
                break;
            case MqttPacketType.ConnAck:
                ExpectRemainingLength(type, 2, body.Length);
                packet = ReadConnAck(ref reader);
                break;
            case MqttPacketType.Connect:
                packet = MqttPacket.FromConnect(ReadConnect(ref reader));
                break;
            case MqttPacketType.Subscribe:
                packet = MqttPacket.FromSubscribe(ReadSubscribe(ref reader));
                break;
            case MqttPacketType.SubAck:
                packet = MqttPacket.FromSubAck(ReadSubAck(ref reader));
                break;
            case MqttPacketType.Unsubscribe:
                packet = MqttPacket.FromUnsubscribe(ReadUnsubscribe(ref reader));
                break;
            default:
                throw new InvalidOperationException("Unreachable: packet type validated earlier.");
        }
        if (reader.Remaining != 0)
        {
            MqttProtocolException.Throw(
                $"{TypeName(type)} body: expected it to end after its last field, actual {reader.Remaining} more bytes.");
        }
        return packet;
    }

    private static MqttPacket ReadPublish(ref SequenceReader<byte> reader, int flags)
    {
        var qos = (MqttQualityOfServiceLevel)((flags >> 1) & 0b11);
        var topic = ReadUtf8StringBytes(ref reader, "PUBLISH topic name");
        ValidateUtf8(topic, "PUBLISH topic name", Utf8Kind.TopicName);
        ushort packetId = 0;
        if (qos != MqttQualityOfServiceLevel.AtMostOnce) packetId = ReadPacketIdentifier(ref reader, MqttPacketType.Publish);
        var payload = reader.UnreadSequence;
        reader.AdvanceToEnd();
        return MqttPacket.FromPublish(new PublishPacket(topic, payload, qos, retain: (flags & 1) != 0, dup: (flags & 0b1000) != 0, packetId));
    }

    private static MqttPacket ReadConnAck(ref SequenceReader<byte> reader)
    {
        var acknowledgeFlags = ReadByte(ref reader, "CONNACK acknowledge flags");
        if ((acknowledgeFlags & 0xFE) != 0) MqttProtocolException.ThrowExpected("CONNACK acknowledge flags bits 7-1", 0, acknowledgeFlags & 0xFE);
        var code = ReadByte(ref reader, "CONNACK return code");
        if (code > (byte)MqttConnectReturnCode.NotAuthorized) MqttProtocolException.ThrowExpected("CONNACK return code", "0 to 5", code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var sessionPresent = (acknowledgeFlags & 1) != 0;
        if (sessionPresent && code != 0) MqttProtocolException.ThrowExpected("CONNACK session present flag with a non-zero return code", 0, 1);
        return MqttPacket.FromConnAck(sessionPresent, (MqttConnectReturnCode)code);
    }

    private static ConnectPacket ReadConnect(ref SequenceReader<byte> reader)
    {
        var protocolName = ReadUtf8StringBytes(ref reader, "CONNECT protocol name");
        if (!SequenceEquals(protocolName, ProtocolNameMqtt))
        {
            if (SequenceEquals(protocolName, ProtocolNameMqisdp))
            {
                MqttProtocolException.Throw(MqttProtocolError.UnsupportedProtocolLevel,
                    "CONNECT protocol: expected \"MQTT\" level 4 (MQTT 3.1.1), actual \"MQIsdp\" (MQTT 3.1).");
            }
            MqttProtocolException.ThrowExpected("CONNECT protocol name", "\"MQTT\"", DescribeBytes(protocolName));
        }
        var level = ReadByte(ref reader, "CONNECT protocol level");
        if (level != 4)
        {
            MqttProtocolException.Throw(MqttProtocolError.UnsupportedProtocolLevel,
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"CONNECT protocol level: expected 4 (MQTT 3.1.1), actual {level}."));
        }
        var connectFlags = ReadByte(ref reader, "CONNECT flags");
        if ((connectFlags & 0x01) != 0) MqttProtocolException.ThrowExpected("CONNECT reserved flag (bit 0)", 0, 1);
        var cleanSession = (connectFlags & 0x02) != 0;
        var willFlag = (connectFlags & 0x04) != 0;
        var willQos = (connectFlags >> 3) & 0b11;
        var willRetain = (connectFlags & 0x20) != 0;
        var passwordFlag = (connectFlags & 0x40) != 0;
        var userNameFlag = (connectFlags & 0x80) != 0;
        if (willQos == 3) MqttProtocolException.ThrowExpected("CONNECT will QoS", "0, 1 or 2", "3");
        if (!willFlag && willQos != 0) MqttProtocolException.ThrowExpected("CONNECT will QoS without the will flag", 0, willQos);
        if (!willFlag && willRetain) MqttProtocolException.ThrowExpected("CONNECT will retain without the will flag", 0, 1);
        if (!userNameFlag && passwordFlag) MqttProtocolException.ThrowExpected("CONNECT password flag without the user name flag", 0, 1);
        var keepAlive = ReadTwoByteInteger(ref reader, "CONNECT keep alive");

        var clientId = ReadUtf8String(ref reader, "CONNECT client identifier");
        string? willTopic = null;
        byte[] willPayload = [];
        if (willFlag)
        {
            var willTopicBytes = ReadUtf8StringBytes(ref reader, "CONNECT will topic");
            ValidateUtf8(willTopicBytes, "CONNECT will topic", Utf8Kind.TopicName);
            willTopic = Encoding.UTF8.GetString(willTopicBytes);
            willPayload = ReadBinaryData(ref reader, "CONNECT will message");
        }
        var userName = userNameFlag ? ReadUtf8String(ref reader, "CONNECT user name") : null;
        var password = passwordFlag ? ReadBinaryData(ref reader, "CONNECT password") : null;
        return new ConnectPacket
        {
            ClientId = clientId,
            CleanSession = cleanSession,
            KeepAliveSeconds = keepAlive,
            WillTopic = willTopic,
            WillPayload = willPayload,
            WillQualityOfServiceLevel = (MqttQualityOfServiceLevel)willQos,
            WillRetain = willRetain,
            UserName = userName,
            Password = password,
        };
    }

    private static SubscribePacket ReadSubscribe(ref SequenceReader<byte> reader)
    {
        var packetId = ReadPacketIdentifier(ref reader, MqttPacketType.Subscribe);
        if (reader.End) MqttProtocolException.ThrowExpected("SUBSCRIBE topic filters", "at least 1", "0");
        var filters = new List<MqttTopicFilter>();
        while (!reader.End)
        {
            var filter = ReadUtf8StringBytes(ref reader, "SUBSCRIBE topic filter");
            ValidateUtf8(filter, "SUBSCRIBE topic filter", Utf8Kind.TopicFilter);
            var options = ReadByte(ref reader, "SUBSCRIBE requested QoS");
            if ((options & 0xFC) != 0) MqttProtocolException.ThrowExpected("SUBSCRIBE requested QoS reserved bits 7-2", 0, options & 0xFC);
            if (options == 3) MqttProtocolException.ThrowExpected("SUBSCRIBE requested QoS", "0, 1 or 2", "3");
            filters.Add(new MqttTopicFilter(Encoding.UTF8.GetString(filter), (MqttQualityOfServiceLevel)options));
        }
        return new SubscribePacket(packetId, filters);
    }

    private static SubAckPacket ReadSubAck(ref SequenceReader<byte> reader)
    {
        var packetId = ReadPacketIdentifier(ref reader, MqttPacketType.SubAck);
        if (reader.End) MqttProtocolException.ThrowExpected("SUBACK return codes", "at least 1", "0");
        var codes = new MqttSubscribeReturnCode[reader.Remaining];
        for (var i = 0; i < codes.Length; i++)
        {
            var code = ReadByte(ref reader, "SUBACK return code");
            if (code > 2 && code != 0x80) MqttProtocolException.ThrowExpected("SUBACK return code", "0x00, 0x01, 0x02 or 0x80", $"0x{code:X2}");
            codes[i] = (MqttSubscribeReturnCode)code;
        }
        return new SubAckPacket(packetId, codes);
    }

    private static UnsubscribePacket ReadUnsubscribe(ref SequenceReader<byte> reader)
    {
        var packetId = ReadPacketIdentifier(ref reader, MqttPacketType.Unsubscribe);
        if (reader.End) MqttProtocolException.ThrowExpected("UNSUBSCRIBE topic filters", "at least 1", "0");
        var filters = new List<string>();
        while (!reader.End)
        {
            var filter = ReadUtf8StringBytes(ref reader, "UNSUBSCRIBE topic filter");
            ValidateUtf8(filter, "UNSUBSCRIBE topic filter", Utf8Kind.TopicFilter);
            filters.Add(Encoding.UTF8.GetString(filter));
        }
        return new UnsubscribePacket(packetId, filters);
    }

    // ---- primitives, named after the spec (section 1.5) ----

    internal static byte ReadByte(ref SequenceReader<byte> reader, string what)
    {
        if (!reader.TryRead(out var value)) ThrowTruncated(what, 1, reader.Remaining);
        return value;
    }

    internal static ushort ReadTwoByteInteger(ref SequenceReader<byte> reader, string what)
    {
        if (!reader.TryReadBigEndian(out short value)) ThrowTruncated(what, 2, reader.Remaining);
        return (ushort)value;
    }

    private static ushort ReadPacketIdentifier(ref SequenceReader<byte> reader, MqttPacketType type)
    {
        // Messages are only built when throwing: this runs for every PUBLISH and acknowledgement.
        if (!reader.TryReadBigEndian(out short value)) ThrowTruncated($"{TypeName(type)} packet identifier", 2, reader.Remaining);
        if (value == 0) MqttProtocolException.ThrowExpected($"{TypeName(type)} packet identifier", "1 to 65535", "0");
        return (ushort)value;
    }

    /// <summary>Reads a length-prefixed UTF-8 string as a slice of the input; the caller validates it.</summary>
    internal static ReadOnlySequence<byte> ReadUtf8StringBytes(ref SequenceReader<byte> reader, string what)
    {
        if (!reader.TryReadBigEndian(out short signedLength)) ThrowTruncated(what + " length", 2, reader.Remaining);
        var length = (ushort)signedLength;
        if (reader.Remaining < length) ThrowTruncated(what, length, reader.Remaining);
        var bytes = reader.UnreadSequence.Slice(0, length);
        reader.Advance(length);
        return bytes;
    }

    /// <summary>Reads a length-prefixed UTF-8 string: well-formed UTF-8 without U+0000 (allocates the string).</summary>
    internal static string ReadUtf8String(ref SequenceReader<byte> reader, string what)
    {
        var bytes = ReadUtf8StringBytes(ref reader, what);
        ValidateUtf8(bytes, what, Utf8Kind.String);
        return bytes.IsEmpty ? "" : Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Reads length-prefixed binary data (allocates a copy).</summary>
    internal static byte[] ReadBinaryData(ref SequenceReader<byte> reader, string what)
    {
        var length = ReadTwoByteInteger(ref reader, what + " length");
        if (reader.Remaining < length) ThrowTruncated(what, length, reader.Remaining);
        var bytes = length == 0 ? [] : reader.UnreadSequence.Slice(0, length).ToArray();
        reader.Advance(length);
        return bytes;
    }

    private enum Utf8Kind
    {
        String,
        TopicName,
        TopicFilter,
    }

    private static void ValidateUtf8(in ReadOnlySequence<byte> bytes, string what, Utf8Kind kind)
    {
        if (bytes.IsSingleSegment)
        {
            ValidateUtf8(bytes.FirstSpan, what, kind);
            return;
        }
        var length = (int)bytes.Length;
        byte[]? rented = null;
        Span<byte> span = length <= StackallocThreshold
            ? stackalloc byte[StackallocThreshold]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            span = span[..length];
            bytes.CopyTo(span);
            ValidateUtf8(span, what, kind);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ValidateUtf8(ReadOnlySpan<byte> span, string what, Utf8Kind kind)
    {
        string? error = kind switch
        {
            Utf8Kind.TopicName => MqttTopic.DescribeInvalidTopicName(span),
            Utf8Kind.TopicFilter => MqttTopic.DescribeInvalidTopicFilter(span),
            _ => !Utf8.IsValid(span) ? "it is not well-formed UTF-8" : span.IndexOf((byte)0) >= 0 ? "it must not contain U+0000" : null,
        };
        if (error is not null) ThrowInvalidString(what, error);
    }

    private static bool SequenceEquals(in ReadOnlySequence<byte> sequence, ReadOnlySpan<byte> expected)
    {
        if (sequence.Length != expected.Length) return false;
        if (sequence.IsSingleSegment) return sequence.FirstSpan.SequenceEqual(expected);
        Span<byte> copy = stackalloc byte[expected.Length];
        sequence.CopyTo(copy);
        return copy.SequenceEqual(expected);
    }

    private static string DescribeBytes(in ReadOnlySequence<byte> bytes)
    {
        var shown = bytes.Slice(0, Math.Min(bytes.Length, 32)).ToArray();
        return Utf8.IsValid(shown) ? $"\"{Encoding.UTF8.GetString(shown)}\"" : Convert.ToHexString(shown);
    }

    private static void ExpectRemainingLength(MqttPacketType type, int expected, long actual)
    {
        if (actual != expected) MqttProtocolException.ThrowExpected($"{TypeName(type)} remaining length", expected, actual);
    }

    internal static string TypeName(MqttPacketType type) => type switch
    {
        MqttPacketType.Connect => "CONNECT",
        MqttPacketType.ConnAck => "CONNACK",
        MqttPacketType.Publish => "PUBLISH",
        MqttPacketType.PubAck => "PUBACK",
        MqttPacketType.PubRec => "PUBREC",
        MqttPacketType.PubRel => "PUBREL",
        MqttPacketType.PubComp => "PUBCOMP",
        MqttPacketType.Subscribe => "SUBSCRIBE",
        MqttPacketType.SubAck => "SUBACK",
        MqttPacketType.Unsubscribe => "UNSUBSCRIBE",
        MqttPacketType.UnsubAck => "UNSUBACK",
        MqttPacketType.PingReq => "PINGREQ",
        MqttPacketType.PingResp => "PINGRESP",
        MqttPacketType.Disconnect => "DISCONNECT",
        _ => "reserved",
    };

    [DoesNotReturn]
    private static void ThrowFlags(MqttPacketType type, int expected, int actual) =>
        MqttProtocolException.ThrowExpected($"{TypeName(type)} fixed header flags", $"0b{Convert.ToString(expected, 2).PadLeft(4, '0')}", $"0b{Convert.ToString(actual, 2).PadLeft(4, '0')}");

    [DoesNotReturn]
    private static void ThrowTruncated(string what, long expected, long actual) =>
        MqttProtocolException.ThrowExpected($"{what} runs past the end of the packet; bytes needed", expected, actual);

    [DoesNotReturn]
    private static void ThrowInvalidString(string what, string error) =>
        MqttProtocolException.Throw($"{what} is invalid: {error}.");
}
