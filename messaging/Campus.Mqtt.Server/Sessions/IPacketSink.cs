using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Routing;

namespace Campus.Mqtt.Server.Sessions;

/// <summary>Where a session's outgoing packets go: the client's connection (or a test double).</summary>
internal interface IPacketSink
{
    /// <summary>Queues an already encoded packet shared by many receivers; false when the client is too far behind and the packet was dropped.</summary>
    bool TryWriteShared(ReadOnlySpan<byte> encodedPacket);

    /// <summary>Queues a QoS 1/2 (or retained QoS 0) PUBLISH; false when the connection is closing.</summary>
    bool WritePublish(StoredMessage message, MqttQualityOfServiceLevel qos, ushort packetIdentifier, bool dup, bool retain);

    /// <summary>Queues PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK.</summary>
    void WriteAcknowledgement(MqttPacketType type, ushort packetIdentifier);

    /// <summary>Queues CONNACK (called under the session lock, before anything the session resends).</summary>
    void WriteConnAck(bool sessionPresent, MqttConnectReturnCode returnCode);

    /// <summary>Ends the connection (session takeover); returns at once.</summary>
    void Abort(MqttClientDisconnectType reason);
}
