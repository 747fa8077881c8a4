namespace Campus.Mqtt;

/// <summary>An MQTT 3.1.1 client. Create one with <see cref="MqttClientFactory"/>.</summary>
public interface IMqttClient : IDisposable, IAsyncDisposable
{
    /// <summary>Raised for each received application message, one at a time, in order.</summary>
    event Func<MqttApplicationMessageReceivedEventArgs, Task>? ApplicationMessageReceivedAsync;

    /// <summary>Raised after each successful connect, including automatic reconnects.</summary>
    event Func<MqttClientConnectedEventArgs, Task>? ConnectedAsync;

    /// <summary>Raised when a connection ends, for whatever reason.</summary>
    event Func<MqttClientDisconnectedEventArgs, Task>? DisconnectedAsync;

    bool IsConnected { get; }

    MqttClientOptions? Options { get; }

    /// <summary>Connects; throws <see cref="MqttConnectingFailedException"/> when the broker refuses (with its code), <see cref="MqttCommunicationException"/> when the network fails.</summary>
    Task<MqttClientConnectResult> ConnectAsync(MqttClientOptions options, CancellationToken cancellationToken = default);

    /// <summary>Sends DISCONNECT (so the broker discards the will) and closes the connection; stops automatic reconnects.</summary>
    Task DisconnectAsync(CancellationToken cancellationToken = default);

    /// <summary>Publishes; completes at PUBACK (QoS 1) or PUBCOMP (QoS 2). Waits for a free in-flight slot first.</summary>
    Task<MqttClientPublishResult> PublishAsync(MqttApplicationMessage applicationMessage, CancellationToken cancellationToken = default);

    Task<MqttClientSubscribeResult> SubscribeAsync(MqttClientSubscribeOptions options, CancellationToken cancellationToken = default);

    Task<MqttClientUnsubscribeResult> UnsubscribeAsync(MqttClientUnsubscribeOptions options, CancellationToken cancellationToken = default);
}

/// <summary>Creates MQTT clients.</summary>
public sealed class MqttClientFactory
{
    public IMqttClient CreateMqttClient() => new MqttClient();
}
