namespace Campus.Mqtt;

/// <summary>The delivery guarantee of an application message (MQTT 3.1.1, section 4.3).</summary>
public enum MqttQualityOfServiceLevel : byte
{
    /// <summary>At most once: fire and forget.</summary>
    AtMostOnce = 0,

    /// <summary>At least once: acknowledged with PUBACK, may be delivered more than once.</summary>
    AtLeastOnce = 1,

    /// <summary>Exactly once: four-step PUBLISH, PUBREC, PUBREL, PUBCOMP flow.</summary>
    ExactlyOnce = 2,
}
