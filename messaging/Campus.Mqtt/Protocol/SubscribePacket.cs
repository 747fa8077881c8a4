namespace Campus.Mqtt.Protocol;

/// <summary>A SUBSCRIBE packet: a packet identifier and at least one topic filter with its QoS.</summary>
internal sealed class SubscribePacket
{
    public SubscribePacket(ushort packetIdentifier, IReadOnlyList<MqttTopicFilter> topicFilters)
    {
        PacketIdentifier = packetIdentifier;
        TopicFilters = topicFilters;
    }

    public ushort PacketIdentifier { get; }

    public IReadOnlyList<MqttTopicFilter> TopicFilters { get; }
}

/// <summary>A SUBACK packet: one return code per topic filter of the SUBSCRIBE, in order.</summary>
internal sealed class SubAckPacket
{
    public SubAckPacket(ushort packetIdentifier, IReadOnlyList<MqttSubscribeReturnCode> returnCodes)
    {
        PacketIdentifier = packetIdentifier;
        ReturnCodes = returnCodes;
    }

    public ushort PacketIdentifier { get; }

    public IReadOnlyList<MqttSubscribeReturnCode> ReturnCodes { get; }
}

/// <summary>An UNSUBSCRIBE packet: a packet identifier and at least one topic filter.</summary>
internal sealed class UnsubscribePacket
{
    public UnsubscribePacket(ushort packetIdentifier, IReadOnlyList<string> topicFilters)
    {
        PacketIdentifier = packetIdentifier;
        TopicFilters = topicFilters;
    }

    public ushort PacketIdentifier { get; }

    public IReadOnlyList<string> TopicFilters { get; }
}
