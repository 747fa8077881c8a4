using System.Buffers;
using System.Text;
using Campus.Mqtt;
using Ports = Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>
/// The firmware's M2Mqtt-shaped <see cref="Ports.MqttClient"/> on top of the Campus MQTT client.
/// Connect, Subscribe, Unsubscribe and Disconnect block like M2Mqtt's; Publish returns the message
/// id at once and raises <see cref="Ports.MqttClient.MqttMsgPublished"/> when the broker acknowledged
/// it (QoS 1/2) or when it was written (QoS 0), or with IsPublished false when it was lost.
/// Reconnecting is the firmware's job (as on a device), so the Campus client's auto-reconnect is off;
/// every Connect starts a fresh network client.
/// </summary>
public sealed class MqttClientAdapter : Ports.MqttClient
{
    private readonly object _sync = new();
    private readonly string _host;
    private readonly int _port;
    private readonly TimeSpan _timeout;
    private IMqttClient? _client;
    private string _clientId = string.Empty;
    private int _nextId;
    private bool _disconnecting;
    private int _pendingPublishes;

    public MqttClientAdapter(string brokerHostName, int brokerPort, TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(brokerHostName);
        _host = brokerHostName;
        _port = brokerPort;
        _timeout = timeout ?? TimeSpan.FromSeconds(10);
    }

    public override bool IsConnected
    {
        get
        {
            lock (_sync)
            {
                return _client?.IsConnected ?? false;
            }
        }
    }

    public override string ClientId
    {
        get
        {
            lock (_sync)
            {
                return _clientId;
            }
        }
    }

    /// <summary>Publishes handed to the network client and not finished yet.</summary>
    public int PendingPublishes => Volatile.Read(ref _pendingPublishes);

    public override Ports.MqttReasonCode Connect(
        string clientId,
        string username,
        string password,
        bool willRetain,
        byte willQosLevel,
        bool willFlag,
        string willTopic,
        string willMessage,
        bool cleanSession,
        ushort keepAlivePeriod)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_host, _port)
            .WithClientId(clientId)
            .WithCleanSession(cleanSession)
            .WithTimeout(_timeout);
        builder = keepAlivePeriod == 0 ? builder.WithNoKeepAlive() : builder.WithKeepAlivePeriod(TimeSpan.FromSeconds(keepAlivePeriod));
        if (!string.IsNullOrEmpty(username))
        {
            builder = builder.WithCredentials(username, password);
        }

        if (willFlag)
        {
            builder = builder.WithWillTopic(willTopic)
                .WithWillPayload(Encoding.UTF8.GetBytes(willMessage ?? string.Empty))
                .WithWillQualityOfServiceLevel(ToQos(willQosLevel))
                .WithWillRetain(willRetain);
        }

        var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            OnMqttMsgPublishReceived(new Ports.MqttMsgPublishEventArgs(m.Topic, m.Payload.ToArray(), m.Dup, (byte)m.QualityOfServiceLevel, m.Retain));
            return Task.CompletedTask;
        };
        client.DisconnectedAsync += e =>
        {
            bool expected;
            lock (_sync)
            {
                expected = _disconnecting || !ReferenceEquals(_client, client);
            }

            if (e.ClientWasConnected && !expected)
            {
                OnConnectionClosed();
            }

            return Task.CompletedTask;
        };

        IMqttClient? previous;
        lock (_sync)
        {
            previous = _client;
            _client = client;
            _disconnecting = false;
        }

        previous?.Dispose();
        try
        {
            Wait(client.ConnectAsync(builder.Build()));
        }
        catch (MqttConnectingFailedException refused)
        {
            return (Ports.MqttReasonCode)(int)refused.ResultCode;
        }
        catch (Exception e) when (e is MqttCommunicationException or IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException)
        {
            throw new Ports.MqttCommunicationException($"Cannot connect to {_host}:{_port}: {e.Message}", e);
        }

        lock (_sync)
        {
            _clientId = clientId;
        }

        return Ports.MqttReasonCode.Success;
    }

    public override ushort Publish(string topic, byte[] message, byte qosLevel, bool retain) =>
        Publish(topic, message, false, qosLevel, retain);

    public override ushort Publish(string topic, byte[] message, bool dupFlag, byte qosLevel, bool retain)
    {
        var client = ConnectedClient();
        var qos = ToQos(qosLevel);
        ushort id = qos == MqttQualityOfServiceLevel.AtMostOnce ? (ushort)0 : NextId();
        var application = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(message)
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain)
            .Build();
        // The firmware's re-send of a message that may have arrived: DUP on the PUBLISH (QoS 1/2 only).
        if (dupFlag && qos != MqttQualityOfServiceLevel.AtMostOnce)
            application = new MqttApplicationMessage { Topic = application.Topic, Payload = application.Payload, QualityOfServiceLevel = qos, Retain = retain, Dup = true };
        Interlocked.Increment(ref _pendingPublishes);
        Task publish;
        try
        {
            publish = client.PublishAsync(application);
        }
        catch (Exception e) when (e is MqttCommunicationException or ObjectDisposedException)
        {
            Interlocked.Decrement(ref _pendingPublishes);
            throw new Ports.MqttCommunicationException($"Publish to '{topic}' failed: {e.Message}", e);
        }

        publish.ContinueWith(
            t =>
            {
                Interlocked.Decrement(ref _pendingPublishes);
                OnMqttMsgPublished(id, t.IsCompletedSuccessfully);
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return id;
    }

    public override ushort Subscribe(string[] topics, byte[] qosLevels)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(qosLevels);
        if (topics.Length == 0 || topics.Length != qosLevels.Length)
        {
            throw new ArgumentException($"Subscribe needs one QoS per topic: {topics.Length} topics, {qosLevels.Length} QoS levels.");
        }

        var client = ConnectedClient();
        var options = new MqttClientSubscribeOptionsBuilder();
        for (int i = 0; i < topics.Length; i++)
        {
            options.WithTopicFilter(topics[i], ToQos(qosLevels[i]));
        }

        var result = Run(() => client.SubscribeAsync(options.Build()), "Subscribe");
        foreach (var item in result.Items)
        {
            if (item.ResultCode == MqttSubscribeReturnCode.Failure)
            {
                throw new Ports.MqttCommunicationException($"The broker refused the subscription to '{item.TopicFilter.Topic}'.");
            }
        }

        return NextId();
    }

    public override ushort Unsubscribe(string[] topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        var client = ConnectedClient();
        var options = new MqttClientUnsubscribeOptionsBuilder();
        foreach (var topic in topics)
        {
            options.WithTopicFilter(topic);
        }

        Run(() => client.UnsubscribeAsync(options.Build()), "Unsubscribe");
        return NextId();
    }

    public override void Disconnect()
    {
        IMqttClient? client;
        lock (_sync)
        {
            client = _client;
            _disconnecting = true;
        }

        if (client is null)
        {
            return;
        }

        try
        {
            Wait(client.DisconnectAsync());
        }
        catch (Exception e) when (e is MqttCommunicationException or IOException or ObjectDisposedException or TimeoutException)
        {
            // Already gone: nothing to tell the broker.
        }
    }

    /// <summary>
    /// Drops the connection as a power cut or a lost network would: no DISCONNECT, the socket is
    /// reset, so the broker publishes the will. <see cref="Ports.MqttClient.ConnectionClosed"/> is
    /// raised as for any unexpected loss; reconnecting stays the firmware's job.
    /// </summary>
    public void SimulateLinkLoss()
    {
        IMqttClient? client;
        lock (_sync)
        {
            client = _client;
        }

        if (client is Campus.Mqtt.MqttClient network)
        {
            network.AbortConnectionForTesting(reset: true);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            IMqttClient? client;
            lock (_sync)
            {
                client = _client;
                _client = null;
                _disconnecting = true;
            }

            client?.Dispose();
        }
    }

    private IMqttClient ConnectedClient()
    {
        lock (_sync)
        {
            if (_client is null || !_client.IsConnected)
            {
                throw new Ports.MqttCommunicationException("Not connected to the broker; call Connect first.");
            }

            return _client;
        }
    }

    private T Run<T>(Func<Task<T>> operation, string what)
    {
        try
        {
            var task = operation();
            Wait(task);
            return task.Result;
        }
        catch (Exception e) when (e is MqttCommunicationException or IOException or TimeoutException or OperationCanceledException)
        {
            throw new Ports.MqttCommunicationException($"{what} failed: {e.Message}", e);
        }
    }

    /// <summary>Blocks the firmware thread on the network client; throws the operation's own exception, or TimeoutException.</summary>
    private void Wait(Task task) => task.WaitAsync(_timeout + _timeout).GetAwaiter().GetResult();

    private ushort NextId()
    {
        // Message ids 1..65535, as on the wire; 0 is reserved for QoS 0.
        return (ushort)((Interlocked.Increment(ref _nextId) - 1) % 65535 + 1);
    }

    private static MqttQualityOfServiceLevel ToQos(byte qos) => qos switch
    {
        0 => MqttQualityOfServiceLevel.AtMostOnce,
        1 => MqttQualityOfServiceLevel.AtLeastOnce,
        2 => MqttQualityOfServiceLevel.ExactlyOnce,
        _ => throw new ArgumentOutOfRangeException(nameof(qos), $"QoS is 0, 1 or 2; got {qos}."),
    };
}
