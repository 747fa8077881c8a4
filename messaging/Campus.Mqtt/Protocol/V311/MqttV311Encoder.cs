using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Campus.Mqtt.Protocol.V311;

/// <summary>
/// Encodes MQTT 3.1.1 control packets into an <see cref="IBufferWriter{T}"/> (a PipeWriter, an
/// ArrayBufferWriter...). Nothing is flushed: the caller flushes. Writing a PUBLISH allocates
/// nothing. The encoder checks what it must to produce a well-formed packet (lengths, QoS,
/// packet identifiers); topic syntax is the caller's business (see <see cref="MqttTopic"/>).
/// </summary>
internal static class MqttV311Encoder
{
    /// <summary>Writes any packet (used by tests and by code that queues <see cref="MqttPacket"/> values).</summary>
    public static void Write(IBufferWriter<byte> writer, in MqttPacket packet)
    {
        switch (packet.Type)
        {
            case MqttPacketType.Connect: WriteConnect(writer, packet.Connect); break;
            case MqttPacketType.ConnAck: WriteConnAck(writer, packet.SessionPresent, packet.ConnectReturnCode); break;
            case MqttPacketType.Publish: WritePublish(writer, packet.Publish); break;
            case MqttPacketType.PubAck:
            case MqttPacketType.PubRec:
            case MqttPacketType.PubRel:
            case MqttPacketType.PubComp:
            case MqttPacketType.UnsubAck:
                WriteAcknowledgement(writer, packet.Type, packet.PacketIdentifier);
                break;
            case MqttPacketType.Subscribe: WriteSubscribe(writer, packet.Subscribe); break;
            case MqttPacketType.SubAck: WriteSubAck(writer, packet.SubAck); break;
            case MqttPacketType.Unsubscribe: WriteUnsubscribe(writer, packet.Unsubscribe); break;
            case MqttPacketType.PingReq:
            case MqttPacketType.PingResp:
            case MqttPacketType.Disconnect:
                WriteEmpty(writer, packet.Type);
                break;
            default:
                throw new ArgumentException($"Cannot encode packet type {(int)packet.Type}.", nameof(packet));
        }
    }

    public static void WriteConnect(IBufferWriter<byte> writer, ConnectPacket connect)
    {
        ArgumentNullException.ThrowIfNull(connect);
        if (connect.Password is not null && connect.UserName is null)
            throw new ArgumentException("MQTT 3.1.1 allows a password only together with a user name.", nameof(connect));
        CheckQos(connect.WillQualityOfServiceLevel, nameof(connect));
        var hasWill = connect.WillTopic is not null;
        if (!hasWill && (connect.WillRetain || connect.WillQualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce))
            throw new ArgumentException("Will QoS and will retain need a will topic.", nameof(connect));

        var remaining = 2 + 4 + 1 + 1 + 2 + Utf8StringSize(connect.ClientId);
        if (hasWill) remaining += Utf8StringSize(connect.WillTopic!) + BinaryDataSize(connect.WillPayload.Length);
        if (connect.UserName is not null) remaining += Utf8StringSize(connect.UserName);
        if (connect.Password is not null) remaining += BinaryDataSize(connect.Password.Length);

        byte flags = 0;
        if (connect.CleanSession) flags |= 0x02;
        if (hasWill)
        {
            flags |= 0x04;
            flags |= (byte)((int)connect.WillQualityOfServiceLevel << 3);
            if (connect.WillRetain) flags |= 0x20;
        }
        if (connect.Password is not null) flags |= 0x40;
        if (connect.UserName is not null) flags |= 0x80;

        WriteFixedHeader(writer, (byte)((int)MqttPacketType.Connect << 4), remaining);
        WriteBinaryData(writer, "MQTT"u8);
        var span = writer.GetSpan(4);
        span[0] = 4; // protocol level
        span[1] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], connect.KeepAliveSeconds);
        writer.Advance(4);
        WriteUtf8String(writer, connect.ClientId);
        if (hasWill)
        {
            WriteUtf8String(writer, connect.WillTopic!);
            WriteBinaryData(writer, connect.WillPayload.Span);
        }
        if (connect.UserName is not null) WriteUtf8String(writer, connect.UserName);
        if (connect.Password is not null) WriteBinaryData(writer, connect.Password);
    }

    public static void WriteConnAck(IBufferWriter<byte> writer, bool sessionPresent, MqttConnectReturnCode returnCode)
    {
        if (returnCode > MqttConnectReturnCode.NotAuthorized) throw new ArgumentOutOfRangeException(nameof(returnCode), returnCode, "CONNACK return codes are 0 to 5.");
        if (sessionPresent && returnCode != MqttConnectReturnCode.Accepted)
            throw new ArgumentException("A refused CONNACK must not claim a present session.", nameof(sessionPresent));
        var span = writer.GetSpan(4);
        span[0] = (int)MqttPacketType.ConnAck << 4;
        span[1] = 2;
        span[2] = sessionPresent ? (byte)1 : (byte)0;
        span[3] = (byte)returnCode;
        writer.Advance(4);
    }

    /// <summary>Writes a PUBLISH whose topic is a string (encoded straight into the writer).</summary>
    public static void WritePublish(IBufferWriter<byte> writer, string topicName, in ReadOnlySequence<byte> payload,
        MqttQualityOfServiceLevel qos, bool retain, bool dup, ushort packetIdentifier)
    {
        ArgumentNullException.ThrowIfNull(topicName);
        var topicLength = Encoding.UTF8.GetByteCount(topicName);
        WritePublishHeader(writer, topicLength, payload.Length, qos, retain, dup, packetIdentifier);
        var span = writer.GetSpan(topicLength);
        Encoding.UTF8.GetBytes(topicName, span);
        writer.Advance(topicLength);
        WritePublishTail(writer, payload, qos, packetIdentifier);
    }

    /// <summary>Writes a PUBLISH whose topic is already UTF-8 (forwarding a received PUBLISH).</summary>
    public static void WritePublish(IBufferWriter<byte> writer, ReadOnlySpan<byte> utf8TopicName, in ReadOnlySequence<byte> payload,
        MqttQualityOfServiceLevel qos, bool retain, bool dup, ushort packetIdentifier)
    {
        WritePublishHeader(writer, utf8TopicName.Length, payload.Length, qos, retain, dup, packetIdentifier);
        writer.Write(utf8TopicName);
        WritePublishTail(writer, payload, qos, packetIdentifier);
    }

    /// <summary>Writes a decoded PUBLISH again (its topic and payload slices must still be valid).</summary>
    public static void WritePublish(IBufferWriter<byte> writer, in PublishPacket publish)
    {
        var topic = publish.TopicName;
        WritePublishHeader(writer, (int)topic.Length, publish.Payload.Length, publish.QualityOfServiceLevel, publish.Retain, publish.Dup, publish.PacketIdentifier);
        WriteSequence(writer, topic);
        WritePublishTail(writer, publish.Payload, publish.QualityOfServiceLevel, publish.PacketIdentifier);
    }

    /// <summary>Writes PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK.</summary>
    public static void WriteAcknowledgement(IBufferWriter<byte> writer, MqttPacketType type, ushort packetIdentifier)
    {
        byte header = type switch
        {
            MqttPacketType.PubAck => (int)MqttPacketType.PubAck << 4,
            MqttPacketType.PubRec => (int)MqttPacketType.PubRec << 4,
            MqttPacketType.PubRel => ((int)MqttPacketType.PubRel << 4) | 0b0010,
            MqttPacketType.PubComp => (int)MqttPacketType.PubComp << 4,
            MqttPacketType.UnsubAck => (int)MqttPacketType.UnsubAck << 4,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Only PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK are acknowledgements."),
        };
        CheckPacketIdentifier(packetIdentifier);
        var span = writer.GetSpan(4);
        span[0] = header;
        span[1] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], packetIdentifier);
        writer.Advance(4);
    }

    public static void WritePubAck(IBufferWriter<byte> writer, ushort packetIdentifier) => WriteAcknowledgement(writer, MqttPacketType.PubAck, packetIdentifier);

    public static void WritePubRec(IBufferWriter<byte> writer, ushort packetIdentifier) => WriteAcknowledgement(writer, MqttPacketType.PubRec, packetIdentifier);

    public static void WritePubRel(IBufferWriter<byte> writer, ushort packetIdentifier) => WriteAcknowledgement(writer, MqttPacketType.PubRel, packetIdentifier);

    public static void WritePubComp(IBufferWriter<byte> writer, ushort packetIdentifier) => WriteAcknowledgement(writer, MqttPacketType.PubComp, packetIdentifier);

    public static void WriteUnsubAck(IBufferWriter<byte> writer, ushort packetIdentifier) => WriteAcknowledgement(writer, MqttPacketType.UnsubAck, packetIdentifier);

    public static void WriteSubscribe(IBufferWriter<byte> writer, SubscribePacket subscribe)
    {
        ArgumentNullException.ThrowIfNull(subscribe);
        CheckPacketIdentifier(subscribe.PacketIdentifier);
        var filters = subscribe.TopicFilters;
        if (filters.Count == 0) throw new ArgumentException("A SUBSCRIBE needs at least one topic filter.", nameof(subscribe));
        var remaining = 2;
        for (var i = 0; i < filters.Count; i++)
        {
            CheckQos(filters[i].QualityOfServiceLevel, nameof(subscribe));
            remaining += Utf8StringSize(filters[i].Topic) + 1;
        }
        WriteFixedHeader(writer, ((int)MqttPacketType.Subscribe << 4) | 0b0010, remaining);
        WriteTwoByteInteger(writer, subscribe.PacketIdentifier);
        for (var i = 0; i < filters.Count; i++)
        {
            WriteUtf8String(writer, filters[i].Topic);
            WriteByte(writer, (byte)filters[i].QualityOfServiceLevel);
        }
    }

    public static void WriteSubAck(IBufferWriter<byte> writer, SubAckPacket subAck)
    {
        ArgumentNullException.ThrowIfNull(subAck);
        CheckPacketIdentifier(subAck.PacketIdentifier);
        var codes = subAck.ReturnCodes;
        if (codes.Count == 0) throw new ArgumentException("A SUBACK needs at least one return code.", nameof(subAck));
        WriteFixedHeader(writer, (int)MqttPacketType.SubAck << 4, 2 + codes.Count);
        WriteTwoByteInteger(writer, subAck.PacketIdentifier);
        for (var i = 0; i < codes.Count; i++)
        {
            var code = codes[i];
            if (code is not (MqttSubscribeReturnCode.GrantedQoS0 or MqttSubscribeReturnCode.GrantedQoS1 or MqttSubscribeReturnCode.GrantedQoS2 or MqttSubscribeReturnCode.Failure))
                throw new ArgumentException($"SUBACK return code 0x{(byte)code:X2} is not defined.", nameof(subAck));
            WriteByte(writer, (byte)code);
        }
    }

    public static void WriteUnsubscribe(IBufferWriter<byte> writer, UnsubscribePacket unsubscribe)
    {
        ArgumentNullException.ThrowIfNull(unsubscribe);
        CheckPacketIdentifier(unsubscribe.PacketIdentifier);
        var filters = unsubscribe.TopicFilters;
        if (filters.Count == 0) throw new ArgumentException("An UNSUBSCRIBE needs at least one topic filter.", nameof(unsubscribe));
        var remaining = 2;
        for (var i = 0; i < filters.Count; i++) remaining += Utf8StringSize(filters[i]);
        WriteFixedHeader(writer, ((int)MqttPacketType.Unsubscribe << 4) | 0b0010, remaining);
        WriteTwoByteInteger(writer, unsubscribe.PacketIdentifier);
        for (var i = 0; i < filters.Count; i++) WriteUtf8String(writer, filters[i]);
    }

    public static void WritePingReq(IBufferWriter<byte> writer) => WriteEmpty(writer, MqttPacketType.PingReq);

    public static void WritePingResp(IBufferWriter<byte> writer) => WriteEmpty(writer, MqttPacketType.PingResp);

    public static void WriteDisconnect(IBufferWriter<byte> writer) => WriteEmpty(writer, MqttPacketType.Disconnect);

    private static void WriteEmpty(IBufferWriter<byte> writer, MqttPacketType type)
    {
        var span = writer.GetSpan(2);
        span[0] = (byte)((int)type << 4);
        span[1] = 0;
        writer.Advance(2);
    }

    // ---- PUBLISH pieces ----

    private static void WritePublishHeader(IBufferWriter<byte> writer, int topicLength, long payloadLength,
        MqttQualityOfServiceLevel qos, bool retain, bool dup, ushort packetIdentifier)
    {
        CheckQos(qos, nameof(qos));
        if (topicLength is 0 or > ushort.MaxValue)
            throw new ArgumentException($"A topic name must be 1 to {ushort.MaxValue} UTF-8 bytes long; this one is {topicLength}.", "topicName");
        if (qos == MqttQualityOfServiceLevel.AtMostOnce)
        {
            if (packetIdentifier != 0) throw new ArgumentException("A QoS 0 PUBLISH carries no packet identifier.", nameof(packetIdentifier));
            if (dup) throw new ArgumentException("A QoS 0 PUBLISH must not set DUP.", nameof(dup));
        }
        else
        {
            CheckPacketIdentifier(packetIdentifier);
        }
        var remaining = 2L + topicLength + (qos == MqttQualityOfServiceLevel.AtMostOnce ? 0 : 2) + payloadLength;
        if (remaining > MqttV311Decoder.MaximumRemainingLength)
            throw new ArgumentException($"The PUBLISH would be {remaining} bytes long; MQTT allows at most {MqttV311Decoder.MaximumRemainingLength}.", nameof(payloadLength));
        var header = ((int)MqttPacketType.Publish << 4) | ((int)qos << 1);
        if (retain) header |= 1;
        if (dup) header |= 0b1000;
        WriteFixedHeader(writer, (byte)header, (int)remaining);
        WriteTwoByteInteger(writer, (ushort)topicLength);
    }

    private static void WritePublishTail(IBufferWriter<byte> writer, in ReadOnlySequence<byte> payload, MqttQualityOfServiceLevel qos, ushort packetIdentifier)
    {
        if (qos != MqttQualityOfServiceLevel.AtMostOnce) WriteTwoByteInteger(writer, packetIdentifier);
        WriteSequence(writer, payload);
    }

    // ---- primitives, named after the spec (section 1.5) ----

    private static void WriteFixedHeader(IBufferWriter<byte> writer, int header, int remainingLength)
    {
        if ((uint)remainingLength > MqttV311Decoder.MaximumRemainingLength)
            throw new ArgumentOutOfRangeException(nameof(remainingLength), remainingLength, $"MQTT allows a remaining length of at most {MqttV311Decoder.MaximumRemainingLength}.");
        var span = writer.GetSpan(5);
        span[0] = (byte)header;
        var written = 1 + WriteVariableByteInteger(span[1..], remainingLength);
        writer.Advance(written);
    }

    /// <summary>Writes the variable byte integer encoding of <paramref name="value"/> and returns its length (1 to 4).</summary>
    internal static int WriteVariableByteInteger(Span<byte> destination, int value)
    {
        var i = 0;
        do
        {
            var b = (byte)(value % 128);
            value /= 128;
            if (value > 0) b |= 0x80;
            destination[i++] = b;
        }
        while (value > 0);
        return i;
    }

    private static void WriteByte(IBufferWriter<byte> writer, byte value)
    {
        writer.GetSpan(1)[0] = value;
        writer.Advance(1);
    }

    private static void WriteTwoByteInteger(IBufferWriter<byte> writer, ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(writer.GetSpan(2), value);
        writer.Advance(2);
    }

    private static void WriteUtf8String(IBufferWriter<byte> writer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue) throw new ArgumentException($"An MQTT string holds at most {ushort.MaxValue} UTF-8 bytes; this one has {length}.", nameof(value));
        var span = writer.GetSpan(2 + length);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)length);
        Encoding.UTF8.GetBytes(value, span[2..]);
        writer.Advance(2 + length);
    }

    private static void WriteBinaryData(IBufferWriter<byte> writer, ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue) throw new ArgumentException($"MQTT binary data holds at most {ushort.MaxValue} bytes; this one has {value.Length}.", nameof(value));
        WriteTwoByteInteger(writer, (ushort)value.Length);
        writer.Write(value);
    }

    private static void WriteSequence(IBufferWriter<byte> writer, in ReadOnlySequence<byte> sequence)
    {
        if (sequence.IsSingleSegment)
        {
            writer.Write(sequence.FirstSpan);
            return;
        }
        foreach (var segment in sequence) writer.Write(segment.Span);
    }

    private static int Utf8StringSize(string value) => 2 + Encoding.UTF8.GetByteCount(value);

    private static int BinaryDataSize(int length) => 2 + length;

    private static void CheckQos(MqttQualityOfServiceLevel qos, string paramName)
    {
        if (qos > MqttQualityOfServiceLevel.ExactlyOnce) throw new ArgumentOutOfRangeException(paramName, qos, "QoS must be 0, 1 or 2.");
    }

    private static void CheckPacketIdentifier(ushort packetIdentifier)
    {
        if (packetIdentifier == 0) throw new ArgumentOutOfRangeException(nameof(packetIdentifier), packetIdentifier, "A packet identifier must be 1 to 65535.");
    }
}
