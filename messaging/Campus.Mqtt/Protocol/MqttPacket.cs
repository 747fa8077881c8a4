using System.Diagnostics;

namespace Campus.Mqtt.Protocol;

/// <summary>
/// One decoded MQTT control packet. A value type so that the frequent packets (PUBLISH, the
/// acknowledgements, PINGREQ/PINGRESP) cost no allocation; the rare ones (CONNECT, SUBSCRIBE,
/// SUBACK, UNSUBSCRIBE) carry a reference to their details.
/// </summary>
internal readonly struct MqttPacket
{
    private readonly object? _details;

    private MqttPacket(MqttPacketType type, ushort packetIdentifier, in PublishPacket publish, ConnAck connAck, object? details)
    {
        Type = type;
        PacketIdentifier = packetIdentifier;
        Publish = publish;
        ConnAckValue = connAck;
        _details = details;
    }

    public MqttPacketType Type { get; }

    /// <summary>The packet identifier of PUBLISH (QoS &gt; 0), PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK; otherwise 0.</summary>
    public ushort PacketIdentifier { get; }

    /// <summary>The PUBLISH packet; default unless <see cref="Type"/> is Publish.</summary>
    public PublishPacket Publish { get; }

    private ConnAck ConnAckValue { get; }

    /// <summary>CONNACK: the session-present flag.</summary>
    public bool SessionPresent => ConnAckValue.SessionPresent;

    /// <summary>CONNACK: the return code.</summary>
    public MqttConnectReturnCode ConnectReturnCode => ConnAckValue.ReturnCode;

    public ConnectPacket Connect => Get<ConnectPacket>(MqttPacketType.Connect);

    public SubscribePacket Subscribe => Get<SubscribePacket>(MqttPacketType.Subscribe);

    public SubAckPacket SubAck => Get<SubAckPacket>(MqttPacketType.SubAck);

    public UnsubscribePacket Unsubscribe => Get<UnsubscribePacket>(MqttPacketType.Unsubscribe);

    public static MqttPacket FromConnect(ConnectPacket connect) => new(MqttPacketType.Connect, 0, default, default, connect);

    public static MqttPacket FromConnAck(bool sessionPresent, MqttConnectReturnCode returnCode) =>
        new(MqttPacketType.ConnAck, 0, default, new ConnAck(sessionPresent, returnCode), null);

    public static MqttPacket FromPublish(in PublishPacket publish) => new(MqttPacketType.Publish, publish.PacketIdentifier, publish, default, null);

    /// <summary>PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK.</summary>
    public static MqttPacket FromAcknowledgement(MqttPacketType type, ushort packetIdentifier)
    {
        Debug.Assert(type is MqttPacketType.PubAck or MqttPacketType.PubRec or MqttPacketType.PubRel or MqttPacketType.PubComp or MqttPacketType.UnsubAck);
        return new(type, packetIdentifier, default, default, null);
    }

    public static MqttPacket FromSubscribe(SubscribePacket subscribe) => new(MqttPacketType.Subscribe, subscribe.PacketIdentifier, default, default, subscribe);

    public static MqttPacket FromSubAck(SubAckPacket subAck) => new(MqttPacketType.SubAck, subAck.PacketIdentifier, default, default, subAck);

    public static MqttPacket FromUnsubscribe(UnsubscribePacket unsubscribe) => new(MqttPacketType.Unsubscribe, unsubscribe.PacketIdentifier, default, default, unsubscribe);

    /// <summary>PINGREQ, PINGRESP or DISCONNECT.</summary>
    public static MqttPacket FromEmpty(MqttPacketType type)
    {
        Debug.Assert(type is MqttPacketType.PingReq or MqttPacketType.PingResp or MqttPacketType.Disconnect);
        return new(type, 0, default, default, null);
    }

    public override string ToString() => Type switch
    {
        MqttPacketType.Publish => $"PUBLISH(qos={(int)Publish.QualityOfServiceLevel}, id={PacketIdentifier}, topic={Publish.GetTopicName()}, payload={Publish.Payload.Length} bytes)",
        MqttPacketType.ConnAck => $"CONNACK(sessionPresent={SessionPresent}, code={ConnectReturnCode})",
        _ => PacketIdentifier == 0 ? Type.ToString().ToUpperInvariant() : $"{Type.ToString().ToUpperInvariant()}(id={PacketIdentifier})",
    };

    private T Get<T>(MqttPacketType expected)
        where T : class
    {
        if (Type != expected || _details is not T details)
            throw new InvalidOperationException($"This packet is a {Type}, not a {expected}.");
        return details;
    }

    private readonly record struct ConnAck(bool SessionPresent, MqttConnectReturnCode ReturnCode);
}
