using System.Buffers;
using System.Text;

namespace Campus.Mqtt;

/// <summary>An application message: what is published and what subscribers receive.</summary>
public sealed class MqttApplicationMessage
{
    public string Topic { get; init; } = "";

    /// <summary>The payload. For an outgoing message its memory must stay unchanged until PublishAsync completes (it is re-sent after a reconnect).</summary>
    public ReadOnlySequence<byte> Payload { get; init; }

    public MqttQualityOfServiceLevel QualityOfServiceLevel { get; init; }

    public bool Retain { get; init; }

    /// <summary>
    /// On a received message: the broker marked it as a possible re-delivery. On a message to
    /// publish (QoS 1 or 2 only): the application re-sends a message that may have arrived already
    /// (for example from its own outbox after a reconnect), so every attempt carries DUP; the
    /// client sets DUP on its own re-sends either way.
    /// </summary>
    public bool Dup { get; init; }

    /// <summary>The payload decoded as UTF-8.</summary>
    public string ConvertPayloadToString() => Payload.IsEmpty ? "" : Encoding.UTF8.GetString(Payload);
}

/// <summary>Builds an <see cref="MqttApplicationMessage"/>.</summary>
public sealed class MqttApplicationMessageBuilder
{
    private string _topic = "";
    private ReadOnlySequence<byte> _payload = ReadOnlySequence<byte>.Empty;
    private MqttQualityOfServiceLevel _qos;
    private bool _retain;

    public MqttApplicationMessageBuilder WithTopic(string topic)
    {
        _topic = topic;
        return this;
    }

    public MqttApplicationMessageBuilder WithPayload(byte[]? payload)
    {
        _payload = payload is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(payload);
        return this;
    }

    public MqttApplicationMessageBuilder WithPayload(ReadOnlyMemory<byte> payload)
    {
        _payload = new ReadOnlySequence<byte>(payload);
        return this;
    }

    public MqttApplicationMessageBuilder WithPayload(ReadOnlySequence<byte> payload)
    {
        _payload = payload;
        return this;
    }

    public MqttApplicationMessageBuilder WithPayload(string? payload) =>
        WithPayload(payload is null ? null : Encoding.UTF8.GetBytes(payload));

    public MqttApplicationMessageBuilder WithQualityOfServiceLevel(MqttQualityOfServiceLevel qualityOfServiceLevel)
    {
        _qos = qualityOfServiceLevel;
        return this;
    }

    public MqttApplicationMessageBuilder WithRetainFlag(bool retain = true)
    {
        _retain = retain;
        return this;
    }

    public MqttApplicationMessage Build()
    {
        MqttTopic.ThrowIfInvalidTopicName(_topic, "topic");
        return new MqttApplicationMessage { Topic = _topic, Payload = _payload, QualityOfServiceLevel = _qos, Retain = _retain };
    }
}
