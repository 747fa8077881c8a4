namespace Campus.Mqtt;

public sealed class MqttClientConnectedEventArgs : EventArgs
{
    internal MqttClientConnectedEventArgs(MqttClientConnectResult connectResult) => ConnectResult = connectResult;

    public MqttClientConnectResult ConnectResult { get; }
}

public enum MqttClientDisconnectReason
{
    /// <summary>DisconnectAsync or Dispose was called.</summary>
    NormalDisconnection,

    /// <summary>The network connection broke or the broker closed it.</summary>
    ConnectionLost,

    /// <summary>The broker did not answer PINGREQ in time.</summary>
    KeepAliveTimeout,

    /// <summary>The broker sent bytes that break the protocol.</summary>
    ProtocolError,
}

public sealed class MqttClientDisconnectedEventArgs : EventArgs
{
    internal MqttClientDisconnectedEventArgs(bool clientWasConnected, MqttClientDisconnectReason reason, Exception? exception)
    {
        ClientWasConnected = clientWasConnected;
        Reason = reason;
        Exception = exception;
    }

    public bool ClientWasConnected { get; }

    public MqttClientDisconnectReason Reason { get; }

    public Exception? Exception { get; }
}

/// <summary>
/// A received application message. Handlers run one message at a time, in the order the broker
/// sent them. With <see cref="AutoAcknowledge"/> true (the default) the PUBACK/PUBREC goes out when
/// the handlers return; set it to false and call <see cref="AcknowledgeAsync"/> once the message's
/// effect is durable. A message never acknowledged is delivered again by the broker after a reconnect
/// to a persistent session.
/// </summary>
public sealed class MqttApplicationMessageReceivedEventArgs : EventArgs
{
    private readonly MqttClient _client;
    private int _acknowledged;

    internal MqttApplicationMessageReceivedEventArgs(MqttClient client, string clientId, MqttApplicationMessage applicationMessage, ushort packetIdentifier, MqttClientConnection connection)
    {
        _client = client;
        ClientId = clientId;
        ApplicationMessage = applicationMessage;
        PacketIdentifier = packetIdentifier;
        Connection = connection;
    }

    public string ClientId { get; }

    public MqttApplicationMessage ApplicationMessage { get; }

    /// <summary>The packet identifier (0 for QoS 0).</summary>
    public ushort PacketIdentifier { get; }

    /// <summary>Send the acknowledgement when the handlers return (default true).</summary>
    public bool AutoAcknowledge { get; set; } = true;

    /// <summary>Free for handlers to mark the message as processed.</summary>
    public bool IsHandled { get; set; }

    /// <summary>The connection the acknowledgement goes out on (moved to a new one when the broker re-delivers a QoS 2 message).</summary>
    internal volatile MqttClientConnection Connection;

    internal bool IsAcknowledged => Volatile.Read(ref _acknowledged) != 0;

    internal bool TryMarkAcknowledged() => Interlocked.Exchange(ref _acknowledged, 1) == 0;

    /// <summary>
    /// Sends PUBACK (QoS 1) or PUBREC (QoS 2); does nothing for QoS 0 or when already acknowledged.
    /// If the connection that delivered the message is gone, nothing is sent: the broker delivers
    /// the message again after the reconnect.
    /// </summary>
    public Task AcknowledgeAsync(CancellationToken cancellationToken = default) => _client.AcknowledgeAsync(this, cancellationToken);
}
