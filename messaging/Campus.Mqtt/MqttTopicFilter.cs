namespace Campus.Mqtt;

/// <summary>One topic filter of a subscription and the maximum QoS asked for it.</summary>
public sealed record MqttTopicFilter(string Topic, MqttQualityOfServiceLevel QualityOfServiceLevel);
