namespace Campus.Mqtt;

/// <summary>The connection to the broker failed, broke, or timed out.</summary>
public class MqttCommunicationException : Exception
{
    public MqttCommunicationException()
        : this("The MQTT connection failed.")
    {
    }

    public MqttCommunicationException(string message)
        : base(message)
    {
    }

    public MqttCommunicationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The operation needs a connected client.</summary>
public sealed class MqttClientNotConnectedException : MqttCommunicationException
{
    public MqttClientNotConnectedException()
        : base("The MQTT client is not connected; call ConnectAsync first (or wait for the automatic reconnect).")
    {
    }

    public MqttClientNotConnectedException(string message)
        : base(message)
    {
    }

    public MqttClientNotConnectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The broker refused the connection; <see cref="ResultCode"/> says why.</summary>
public sealed class MqttConnectingFailedException : MqttCommunicationException
{
    public MqttConnectingFailedException()
        : this(new MqttClientConnectResult(MqttConnectReturnCode.ServerUnavailable, false))
    {
    }

    public MqttConnectingFailedException(string message)
        : base(message) => Result = new MqttClientConnectResult(MqttConnectReturnCode.ServerUnavailable, false);

    public MqttConnectingFailedException(string message, Exception? innerException)
        : base(message, innerException) => Result = new MqttClientConnectResult(MqttConnectReturnCode.ServerUnavailable, false);

    internal MqttConnectingFailedException(MqttClientConnectResult result)
        : base($"The broker refused the connection: CONNACK return code {(int)result.ResultCode} ({result.ResultCode}).") => Result = result;

    public MqttClientConnectResult Result { get; }

    public MqttConnectReturnCode ResultCode => Result.ResultCode;
}
