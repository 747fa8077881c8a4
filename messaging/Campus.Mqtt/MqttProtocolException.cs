using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Campus.Mqtt;

/// <summary>What rule a malformed or unacceptable MQTT packet broke.</summary>
public enum MqttProtocolError
{
    /// <summary>The bytes do not form a valid packet (MQTT 3.1.1 calls this a malformed packet).</summary>
    MalformedPacket,

    /// <summary>The packet is larger than the receiver's maximum packet size.</summary>
    PacketTooLarge,

    /// <summary>A CONNECT asks for a protocol level other than 4; a server answers CONNACK 0x01.</summary>
    UnsupportedProtocolLevel,

    /// <summary>A packet is valid on its own but not allowed at this point of the conversation.</summary>
    UnexpectedPacket,
}

/// <summary>
/// Thrown when bytes received from a peer break the MQTT protocol. The message states what was
/// expected and what was found; the connection that produced it must be closed.
/// </summary>
public sealed class MqttProtocolException : Exception
{
    public MqttProtocolException(string message)
        : this(MqttProtocolError.MalformedPacket, message)
    {
    }

    public MqttProtocolException(MqttProtocolError error, string message)
        : base(message) => Error = error;

    public MqttProtocolException(string message, Exception innerException)
        : base(message, innerException) => Error = MqttProtocolError.MalformedPacket;

    public MqttProtocolException()
        : this("The MQTT protocol was violated.")
    {
    }

    /// <summary>Which kind of rule was broken.</summary>
    public MqttProtocolError Error { get; }

    [DoesNotReturn]
    internal static void Throw(string message) => throw new MqttProtocolException(message);

    [DoesNotReturn]
    internal static void Throw(MqttProtocolError error, string message) => throw new MqttProtocolException(error, message);

    [DoesNotReturn]
    internal static void ThrowExpected(string what, long expected, long actual) =>
        throw new MqttProtocolException(string.Create(CultureInfo.InvariantCulture, $"{what}: expected {expected}, actual {actual}."));

    [DoesNotReturn]
    internal static void ThrowExpected(string what, string expected, string actual) =>
        throw new MqttProtocolException($"{what}: expected {expected}, actual {actual}.");
}
