using System.Net;
using Microsoft.Extensions.Logging;

namespace Campus.Mqtt.Server;

/// <summary>The broker's log messages (source-generated, no formatting unless enabled).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "MQTT broker listening on {EndPoint}{Tls}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint, string tls);

    [LoggerMessage(2, LogLevel.Information, "MQTT broker stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(3, LogLevel.Debug, "Client {ClientId} connected from {RemoteEndPoint} (user {UserName}, clean session {CleanSession}, session present {SessionPresent})")]
    public static partial void ClientConnected(ILogger logger, string clientId, EndPoint? remoteEndPoint, string? userName, bool cleanSession, bool sessionPresent);

    [LoggerMessage(4, LogLevel.Debug, "Client {ClientId} disconnected: {DisconnectType}")]
    public static partial void ClientDisconnected(ILogger logger, string clientId, MqttClientDisconnectType disconnectType);

    [LoggerMessage(5, LogLevel.Warning, "Connection from {RemoteEndPoint} (client {ClientId}) closed: protocol error: {Reason}")]
    public static partial void ProtocolError(ILogger logger, EndPoint? remoteEndPoint, string clientId, string reason);

    [LoggerMessage(6, LogLevel.Warning, "Connection from {RemoteEndPoint} refused for client {ClientId} (user {UserName}): {ReturnCode}")]
    public static partial void ConnectionRefused(ILogger logger, EndPoint? remoteEndPoint, string clientId, string? userName, MqttConnectReturnCode returnCode);

    [LoggerMessage(7, LogLevel.Warning, "ACL denied publish by client {ClientId} (user {UserName}) to topic {Topic}; message dropped")]
    public static partial void PublishDenied(ILogger logger, string clientId, string? userName, string topic);

    [LoggerMessage(8, LogLevel.Warning, "ACL denied subscription of client {ClientId} (user {UserName}) to {TopicFilter}")]
    public static partial void SubscribeDenied(ILogger logger, string clientId, string? userName, string topicFilter);

    [LoggerMessage(9, LogLevel.Warning, "Queue of session {ClientId} is full ({Limit} messages); dropped a message to {Topic} ({Dropped} dropped so far)")]
    public static partial void QueueFull(ILogger logger, string clientId, int limit, string topic, long dropped);

    [LoggerMessage(10, LogLevel.Information, "Client {ClientId} taken over by a new connection from {RemoteEndPoint}")]
    public static partial void TakenOver(ILogger logger, string clientId, EndPoint? remoteEndPoint);

    [LoggerMessage(11, LogLevel.Information, "Client {ClientId} sent nothing for {Seconds:0.#} s (keep-alive {KeepAlive} s); closing")]
    public static partial void KeepAliveExpired(ILogger logger, string clientId, double seconds, int keepAlive);

    [LoggerMessage(12, LogLevel.Debug, "Publishing the will of {ClientId} to {Topic}")]
    public static partial void PublishingWill(ILogger logger, string clientId, string topic);

    [LoggerMessage(13, LogLevel.Error, "Broker hook {Hook} failed for client {ClientId}")]
    public static partial void HookFailed(ILogger logger, Exception exception, string hook, string clientId);

    [LoggerMessage(14, LogLevel.Warning, "TLS handshake with {RemoteEndPoint} failed: {Reason}")]
    public static partial void TlsFailed(ILogger logger, EndPoint? remoteEndPoint, string reason);

    [LoggerMessage(15, LogLevel.Warning, "Client {ClientId} cannot keep up: {Pending} bytes are waiting to be sent; dropped a QoS 0 message ({Dropped} dropped so far)")]
    public static partial void SlowClient(ILogger logger, string clientId, long pending, long dropped);

    [LoggerMessage(16, LogLevel.Error, "Accepting connections on {EndPoint} failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception, EndPoint endPoint);

    [LoggerMessage(17, LogLevel.Error, "Connection of client {ClientId} failed unexpectedly")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, string clientId);
}
