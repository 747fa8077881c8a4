namespace Campus.Mqtt.Protocol;

/// <summary>A CONNECT packet (MQTT 3.1.1, section 3.1). Protocol name "MQTT", level 4.</summary>
internal sealed class ConnectPacket
{
    public string ClientId { get; init; } = "";

    public bool CleanSession { get; init; } = true;

    /// <summary>Keep-alive interval in seconds; 0 turns keep-alive off.</summary>
    public ushort KeepAliveSeconds { get; init; }

    /// <summary>The will topic, or null when the CONNECT carries no will.</summary>
    public string? WillTopic { get; init; }

    public ReadOnlyMemory<byte> WillPayload { get; init; }

    public MqttQualityOfServiceLevel WillQualityOfServiceLevel { get; init; }

    public bool WillRetain { get; init; }

    public string? UserName { get; init; }

    /// <summary>The password (binary data), or null when absent. Only allowed with a user name.</summary>
    public byte[]? Password { get; init; }
}
