using System.Buffers;
using System.Text;

namespace Campus.Mqtt.Protocol;

/// <summary>
/// A PUBLISH packet whose topic name (UTF-8, already validated) and payload are slices of the
/// buffer it was decoded from: they stay valid only until that buffer is released
/// (<c>PipeReader.AdvanceTo</c>). Decoding one allocates nothing.
/// </summary>
internal readonly struct PublishPacket
{
    public PublishPacket(
        ReadOnlySequence<byte> topicName,
        ReadOnlySequence<byte> payload,
        MqttQualityOfServiceLevel qualityOfServiceLevel,
        bool retain,
        bool dup,
        ushort packetIdentifier)
    {
        TopicName = topicName;
        Payload = payload;
        QualityOfServiceLevel = qualityOfServiceLevel;
        Retain = retain;
        Dup = dup;
        PacketIdentifier = packetIdentifier;
    }

    /// <summary>The topic name as UTF-8 bytes (validated: no wildcards, no U+0000, well-formed).</summary>
    public ReadOnlySequence<byte> TopicName { get; }

    public ReadOnlySequence<byte> Payload { get; }

    public MqttQualityOfServiceLevel QualityOfServiceLevel { get; }

    public bool Retain { get; }

    public bool Dup { get; }

    /// <summary>Zero for QoS 0, otherwise the non-zero packet identifier.</summary>
    public ushort PacketIdentifier { get; }

    /// <summary>Decodes the topic name into a string (allocates).</summary>
    public string GetTopicName() => Encoding.UTF8.GetString(TopicName);
}
