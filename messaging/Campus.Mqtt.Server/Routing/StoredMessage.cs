using System.Buffers;
using System.Text;

namespace Campus.Mqtt.Server.Routing;

/// <summary>
/// A message kept beyond the packet it arrived in: QoS 1/2 deliveries (in flight or queued),
/// retained messages and wills. Immutable and shared by every session it goes to.
/// </summary>
internal sealed class StoredMessage
{
    private StoredMessage(string topic, byte[] topicUtf8, byte[] payload, MqttQualityOfServiceLevel qos, bool retain)
    {
        Topic = topic;
        TopicUtf8 = topicUtf8;
        Payload = payload;
        QualityOfServiceLevel = qos;
        Retain = retain;
    }

    public string Topic { get; }
    public byte[] TopicUtf8 { get; }
    public byte[] Payload { get; }
    public MqttQualityOfServiceLevel QualityOfServiceLevel { get; }
    public bool Retain { get; }
    public ReadOnlySequence<byte> PayloadSequence => new(Payload);

    public static StoredMessage Create(string topic, ReadOnlySpan<byte> payload, MqttQualityOfServiceLevel qos, bool retain) =>
        new(topic, Encoding.UTF8.GetBytes(topic), payload.ToArray(), qos, retain);

    public static StoredMessage Create(string topic, in ReadOnlySequence<byte> payload, MqttQualityOfServiceLevel qos, bool retain) =>
        new(topic, Encoding.UTF8.GetBytes(topic), payload.ToArray(), qos, retain);

    public static StoredMessage Create(ReadOnlySpan<char> topic, ReadOnlySpan<byte> topicUtf8, in ReadOnlySequence<byte> payload, MqttQualityOfServiceLevel qos, bool retain) =>
        new(topic.ToString(), topicUtf8.ToArray(), payload.ToArray(), qos, retain);

    /// <summary>From a decoded PUBLISH: the topic's bytes and the payload are copied once, the topic decoded once.</summary>
    public static StoredMessage Create(in ReadOnlySequence<byte> topicUtf8, in ReadOnlySequence<byte> payload, MqttQualityOfServiceLevel qos, bool retain)
    {
        var topic = topicUtf8.ToArray();
        return new(Encoding.UTF8.GetString(topic), topic, payload.ToArray(), qos, retain);
    }

    public StoredMessage WithQos(MqttQualityOfServiceLevel qos, bool retain) =>
        qos == QualityOfServiceLevel && retain == Retain ? this : new(Topic, TopicUtf8, Payload, qos, retain);

    /// <param name="dup">The DUP flag of the PUBLISH this message arrived in (the publish hook shows it).</param>
    public MqttApplicationMessage ToApplicationMessage(bool dup = false) =>
        new() { Topic = Topic, Payload = PayloadSequence, QualityOfServiceLevel = QualityOfServiceLevel, Retain = Retain, Dup = dup };
}
