using System.Net;

namespace Campus.Mqtt.Server;

/// <summary>A message published by the application itself rather than by a client.</summary>
public sealed class InjectedMqttApplicationMessage
{
    public InjectedMqttApplicationMessage(MqttApplicationMessage applicationMessage)
    {
        ArgumentNullException.ThrowIfNull(applicationMessage);
        ApplicationMessage = applicationMessage;
    }

    public MqttApplicationMessage ApplicationMessage { get; }

    /// <summary>The client id the message is published in the name of; only used in logs and hooks.</summary>
    public string SenderClientId { get; init; } = "";
}

/// <summary>
/// Raised for every CONNECT before it is accepted. <see cref="ReasonCode"/> arrives holding the
/// verdict of the broker's own checks (password file, anonymous access); a handler may change it.
/// </summary>
public sealed class ValidatingConnectionEventArgs
{
    internal ValidatingConnectionEventArgs(string clientId, string? userName, ReadOnlyMemory<byte> password, bool cleanSession, EndPoint? remoteEndPoint, MqttConnectReturnCode reasonCode)
    {
        ClientId = clientId;
        UserName = userName;
        Password = password;
        CleanSession = cleanSession;
        RemoteEndPoint = remoteEndPoint;
        ReasonCode = reasonCode;
    }

    public string ClientId { get; }
    public string? UserName { get; }
    public ReadOnlyMemory<byte> Password { get; }
    public bool CleanSession { get; }
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>The CONNACK return code: Accepted lets the client in, anything else refuses it.</summary>
    public MqttConnectReturnCode ReasonCode { get; set; }
}

public sealed class ClientConnectedEventArgs
{
    internal ClientConnectedEventArgs(string clientId, string? userName, EndPoint? remoteEndPoint)
    {
        ClientId = clientId;
        UserName = userName;
        RemoteEndPoint = remoteEndPoint;
    }

    public string ClientId { get; }
    public string? UserName { get; }
    public EndPoint? RemoteEndPoint { get; }
}

/// <summary>Why a client's connection ended.</summary>
public enum MqttClientDisconnectType
{
    /// <summary>The client sent DISCONNECT.</summary>
    Clean,

    /// <summary>The network connection dropped without DISCONNECT.</summary>
    NotClean,

    /// <summary>A new connection with the same client id replaced it.</summary>
    Takeover,

    /// <summary>Nothing arrived for 1.5 times the keep-alive interval.</summary>
    KeepAliveTimeout,

    /// <summary>The client broke the protocol (malformed or oversize packet, unexpected packet).</summary>
    ProtocolError,

    /// <summary>The broker is stopping.</summary>
    ServerShutdown,
}

public sealed class ClientDisconnectedEventArgs
{
    internal ClientDisconnectedEventArgs(string clientId, MqttClientDisconnectType disconnectType, EndPoint? remoteEndPoint)
    {
        ClientId = clientId;
        DisconnectType = disconnectType;
        RemoteEndPoint = remoteEndPoint;
    }

    public string ClientId { get; }
    public MqttClientDisconnectType DisconnectType { get; }
    public EndPoint? RemoteEndPoint { get; }
}

/// <summary>
/// Raised for each PUBLISH a client sends, after the ACL allowed it and before it is routed.
/// Setting <see cref="ProcessPublish"/> to false drops it; <see cref="CloseConnection"/> also
/// closes the sender's connection. Subscribing to this hook costs one copy per message.
/// <see cref="MqttApplicationMessage.Dup"/> of <see cref="ApplicationMessage"/> is the DUP flag the
/// client set on this PUBLISH (MQTT 3.1.1 §3.3.1.1: the client re-sends a message that may have
/// arrived already); it is false for a will.
/// </summary>
public sealed class InterceptingPublishEventArgs
{
    internal InterceptingPublishEventArgs(MqttApplicationMessage applicationMessage, string clientId, string? userName)
    {
        ApplicationMessage = applicationMessage;
        ClientId = clientId;
        UserName = userName;
    }

    public MqttApplicationMessage ApplicationMessage { get; }
    public string ClientId { get; }
    public string? UserName { get; }
    public bool ProcessPublish { get; set; } = true;
    public bool CloseConnection { get; set; }
}
