namespace Campus.Mqtt;

/// <summary>The broker's answer to CONNECT.</summary>
public sealed class MqttClientConnectResult
{
    internal MqttClientConnectResult(MqttConnectReturnCode resultCode, bool isSessionPresent)
    {
        ResultCode = resultCode;
        IsSessionPresent = isSessionPresent;
    }

    public MqttConnectReturnCode ResultCode { get; }

    /// <summary>The broker resumed a stored session (only with clean session false).</summary>
    public bool IsSessionPresent { get; }
}

/// <summary>The outcome of a publish: it completes when the broker acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP) or, for QoS 0, when written.</summary>
public sealed class MqttClientPublishResult
{
    internal static readonly MqttClientPublishResult AtMostOnce = new(null);

    internal MqttClientPublishResult(ushort? packetIdentifier) => PacketIdentifier = packetIdentifier;

    public ushort? PacketIdentifier { get; }

    public bool IsSuccess => true;
}

/// <summary>One subscribe request: topic filters with their maximum QoS.</summary>
public sealed class MqttClientSubscribeOptions
{
    public List<MqttTopicFilter> TopicFilters { get; init; } = [];
}

public sealed class MqttClientSubscribeOptionsBuilder
{
    private readonly List<MqttTopicFilter> _filters = [];

    public MqttClientSubscribeOptionsBuilder WithTopicFilter(string topic, MqttQualityOfServiceLevel qualityOfServiceLevel = MqttQualityOfServiceLevel.AtMostOnce)
    {
        MqttTopic.ThrowIfInvalidTopicFilter(topic, nameof(topic));
        _filters.Add(new MqttTopicFilter(topic, qualityOfServiceLevel));
        return this;
    }

    public MqttClientSubscribeOptionsBuilder WithTopicFilter(MqttTopicFilter topicFilter)
    {
        ArgumentNullException.ThrowIfNull(topicFilter);
        return WithTopicFilter(topicFilter.Topic, topicFilter.QualityOfServiceLevel);
    }

    public MqttClientSubscribeOptions Build()
    {
        if (_filters.Count == 0) throw new InvalidOperationException("Add at least one topic filter with WithTopicFilter.");
        return new MqttClientSubscribeOptions { TopicFilters = [.. _filters] };
    }
}

/// <summary>The broker's answer to SUBSCRIBE: one item per topic filter, in order.</summary>
public sealed class MqttClientSubscribeResult
{
    internal MqttClientSubscribeResult(IReadOnlyList<MqttClientSubscribeResultItem> items) => Items = items;

    public IReadOnlyList<MqttClientSubscribeResultItem> Items { get; }
}

public sealed class MqttClientSubscribeResultItem
{
    internal MqttClientSubscribeResultItem(MqttTopicFilter topicFilter, MqttSubscribeReturnCode resultCode)
    {
        TopicFilter = topicFilter;
        ResultCode = resultCode;
    }

    public MqttTopicFilter TopicFilter { get; }

    /// <summary>The granted QoS, or <see cref="MqttSubscribeReturnCode.Failure"/>.</summary>
    public MqttSubscribeReturnCode ResultCode { get; }
}

public sealed class MqttClientUnsubscribeOptions
{
    public List<string> TopicFilters { get; init; } = [];
}

public sealed class MqttClientUnsubscribeOptionsBuilder
{
    private readonly List<string> _filters = [];

    public MqttClientUnsubscribeOptionsBuilder WithTopicFilter(string topic)
    {
        MqttTopic.ThrowIfInvalidTopicFilter(topic, nameof(topic));
        _filters.Add(topic);
        return this;
    }

    public MqttClientUnsubscribeOptions Build()
    {
        if (_filters.Count == 0) throw new InvalidOperationException("Add at least one topic filter with WithTopicFilter.");
        return new MqttClientUnsubscribeOptions { TopicFilters = [.. _filters] };
    }
}

public sealed class MqttClientUnsubscribeResult
{
    internal MqttClientUnsubscribeResult(IReadOnlyList<string> topicFilters) => TopicFilters = topicFilters;

    public IReadOnlyList<string> TopicFilters { get; }
}
