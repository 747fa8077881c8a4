using System;

namespace Campus.Firmware.Ports
{
    /// <summary>QoS levels as bytes (M2Mqtt's QoS constants; cast to <c>MqttQoSLevel</c> on a device).</summary>
    public static class MqttQoS
    {
        public const byte AtMostOnce = 0;
        public const byte AtLeastOnce = 1;
        public const byte ExactlyOnce = 2;
    }

    /// <summary>CONNACK outcome (M2Mqtt's <c>MqttReasonCode</c>, MQTT 3.1.1 values).</summary>
    public enum MqttReasonCode
    {
        Success = 0,
        UnacceptableProtocolVersion = 1,
        IdentifierRejected = 2,
        ServerUnavailable = 3,
        BadUserNameOrPassword = 4,
        NotAuthorized = 5,
    }

    /// <summary>The broker could not be reached, or the connection broke during a call.</summary>
    public sealed class MqttCommunicationException : Exception
    {
        public MqttCommunicationException(string message)
            : base(message)
        {
        }

        public MqttCommunicationException(string message, Exception innerException)
            : base(message, innerException)
        {
        }
    }

    /// <summary>An application message received on a subscription.</summary>
    public sealed class MqttMsgPublishEventArgs : EventArgs
    {
        public MqttMsgPublishEventArgs(string topic, byte[] message, bool dupFlag, byte qosLevel, bool retain)
        {
            Topic = topic;
            Message = message;
            DupFlag = dupFlag;
            QosLevel = qosLevel;
            Retain = retain;
        }

        public string Topic { get; }

        public byte[] Message { get; }

        public bool DupFlag { get; }

        public byte QosLevel { get; }

        public bool Retain { get; }
    }

    /// <summary>The fate of an outgoing message (QoS 1/2: acknowledged by the broker or given up).</summary>
    public sealed class MqttMsgPublishedEventArgs : EventArgs
    {
        public MqttMsgPublishedEventArgs(ushort messageId, bool isPublished)
        {
            MessageId = messageId;
            IsPublished = isPublished;
        }

        public ushort MessageId { get; }

        public bool IsPublished { get; }
    }

    public delegate void MqttMsgPublishEventHandler(object sender, MqttMsgPublishEventArgs e);

    public delegate void MqttMsgPublishedEventHandler(object sender, MqttMsgPublishedEventArgs e);

    public delegate void ConnectionClosedEventHandler(object sender, EventArgs e);

    /// <summary>
    /// MQTT 3.1.1 client port, shaped after nanoFramework.M2Mqtt's <c>MqttClient</c>. Calls block;
    /// <see cref="Connect(string, string, string, bool, byte, bool, string, string, bool, ushort)"/>
    /// throws <see cref="MqttCommunicationException"/> when the broker cannot be reached and returns the
    /// broker's reason code otherwise. Events are raised on the client's receive thread.
    /// </summary>
    public abstract class MqttClient : IDisposable
    {
        public event MqttMsgPublishEventHandler? MqttMsgPublishReceived;

        public event MqttMsgPublishedEventHandler? MqttMsgPublished;

        public event ConnectionClosedEventHandler? ConnectionClosed;

        public abstract bool IsConnected { get; }

        /// <summary>The client id of the last successful connect, empty before.</summary>
        public abstract string ClientId { get; }

        public MqttReasonCode Connect(string clientId)
        {
            return Connect(clientId, string.Empty, string.Empty, false, MqttQoS.AtMostOnce, false, string.Empty, string.Empty, true, 60);
        }

        public MqttReasonCode Connect(string clientId, string username, string password)
        {
            return Connect(clientId, username, password, false, MqttQoS.AtMostOnce, false, string.Empty, string.Empty, true, 60);
        }

        /// <summary>CONNECT with credentials, last will and session flags; keepAlivePeriod in seconds.</summary>
        public abstract MqttReasonCode Connect(
            string clientId,
            string username,
            string password,
            bool willRetain,
            byte willQosLevel,
            bool willFlag,
            string willTopic,
            string willMessage,
            bool cleanSession,
            ushort keepAlivePeriod);

        /// <summary>Publishes and returns the message id (0 for QoS 0).</summary>
        public abstract ushort Publish(string topic, byte[] message, byte qosLevel, bool retain);

        public ushort Publish(string topic, byte[] message)
        {
            return Publish(topic, message, MqttQoS.AtMostOnce, false);
        }

        /// <summary>
        /// Publishes with the DUP flag given (parameter order of M2Mqtt's <c>MqttMsgPublish</c>): true
        /// for a message sent again because it may have reached the broker already (MQTT 3.1.1
        /// §3.3.1.1), so a receiver takes a byte-identical copy for a redelivery, not a replay.
        /// QoS 1 or 2 only. An adapter that cannot set DUP sends the message without it.
        /// </summary>
        public virtual ushort Publish(string topic, byte[] message, bool dupFlag, byte qosLevel, bool retain)
        {
            return Publish(topic, message, qosLevel, retain);
        }

        /// <summary>One QoS per topic filter; returns the SUBSCRIBE message id.</summary>
        public abstract ushort Subscribe(string[] topics, byte[] qosLevels);

        public abstract ushort Unsubscribe(string[] topics);

        /// <summary>Sends DISCONNECT (the will is discarded) and closes the connection.</summary>
        public abstract void Disconnect();

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
        }

        protected void OnMqttMsgPublishReceived(MqttMsgPublishEventArgs e)
        {
            var handler = MqttMsgPublishReceived;
            if (handler != null)
            {
                handler(this, e);
            }
        }

        protected void OnMqttMsgPublished(ushort messageId, bool isPublished)
        {
            var handler = MqttMsgPublished;
            if (handler != null)
            {
                handler(this, new MqttMsgPublishedEventArgs(messageId, isPublished));
            }
        }

        /// <summary>Backends call this when the connection ended without <see cref="Disconnect"/>.</summary>
        protected void OnConnectionClosed()
        {
            var handler = ConnectionClosed;
            if (handler != null)
            {
                handler(this, EventArgs.Empty);
            }
        }
    }
}
