using System.Buffers;
using Campus.Mqtt;
using Port = Campus.Firmware.Ports;

namespace Campus.Simulators.Fleet;

/// <summary>Where devices connect, and counters shared by the fleet.</summary>
internal sealed class FleetNetwork(string host, int port)
{
    public string Host { get; } = host;
    public int Port { get; } = port;

    public long Published;
    public long Acknowledged;
    public long Received;
    public long Connects;

    public int Connected;

    /// <summary>Closed while the fleet boots: connects wait, so every device connects at the same simulated instant.</summary>
    public ManualResetEventSlim Open { get; } = new(true);

    /// <summary>Set whenever a device's message is acknowledged or a command reaches a device, for the lock-step driver.</summary>
    public ManualResetEventSlim Activity { get; } = new(false);
}

/// <summary>
/// The firmware's <see cref="Port.MqttClient"/> port over a real MQTT connection (Campus.Mqtt's
/// client): blocking calls as on a device, PUBACKs raised as <c>MqttMsgPublished</c>, commands as
/// <c>MqttMsgPublishReceived</c>. Each Connect opens a fresh connection (the firmware owns the
/// reconnect policy), to the broker or to the room's <see cref="SwitchableLink"/>.
/// </summary>
internal sealed class BrokerMqttClient(FleetNetwork network, Func<(string Host, int Port)>? route = null) : Port.MqttClient
{
    private readonly object _sync = new();
    private IMqttClient? _client;
    private string _clientId = "";
    private int _nextId;
    private bool _disposed;

    public override bool IsConnected
    {
        get
        {
            lock (_sync) return _client is { IsConnected: true };
        }
    }

    public override string ClientId => _clientId;

    public override Port.MqttReasonCode Connect(string clientId, string username, string password, bool willRetain, byte willQosLevel, bool willFlag, string willTopic, string willMessage, bool cleanSession, ushort keepAlivePeriod)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!network.Open.Wait(TimeSpan.FromSeconds(60))) throw new Port.MqttCommunicationException("the network is not up yet");
        DropCurrent();
        var (host, port) = route?.Invoke() ?? (network.Host, network.Port);
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId(clientId)
            .WithCleanSession(cleanSession)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(keepAlivePeriod))
            .WithTimeout(TimeSpan.FromSeconds(30)) // hundreds of devices connect at once on a busy machine
            .WithMaximumInFlightMessages(16);
        if (username.Length > 0) builder.WithCredentials(username, password);
        if (willFlag)
        {
            builder.WithWillTopic(willTopic).WithWillPayload(willMessage)
                .WithWillQualityOfServiceLevel((MqttQualityOfServiceLevel)willQosLevel).WithWillRetain(willRetain);
        }

        var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            Interlocked.Increment(ref network.Received);
            var m = e.ApplicationMessage;
            OnMqttMsgPublishReceived(new Port.MqttMsgPublishEventArgs(m.Topic, m.Payload.ToArray(), m.Dup, (byte)m.QualityOfServiceLevel, m.Retain));
            network.Activity.Set();
            return Task.CompletedTask;
        };
        client.DisconnectedAsync += e =>
        {
            bool current;
            lock (_sync) current = ReferenceEquals(_client, client);
            if (current && e.ClientWasConnected)
            {
                Interlocked.Decrement(ref network.Connected);
                OnConnectionClosed();
            }

            return Task.CompletedTask;
        };
        try
        {
            client.ConnectAsync(builder.Build()).GetAwaiter().GetResult();
        }
        catch (MqttConnectingFailedException e) when (e.ResultCode != MqttConnectReturnCode.ServerUnavailable || e.InnerException is null)
        {
            client.Dispose();
            return (Port.MqttReasonCode)(int)e.ResultCode;
        }
        catch (Exception e) when (e is Campus.Mqtt.MqttCommunicationException or IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException)
        {
            client.Dispose();
            throw new Port.MqttCommunicationException("cannot reach the broker at " + host + ":" + port + ": " + e.Message, e);
        }

        lock (_sync)
        {
            _client = client;
            _clientId = clientId;
        }

        Interlocked.Increment(ref network.Connects);
        Interlocked.Increment(ref network.Connected);
        return Port.MqttReasonCode.Success;
    }

    /// <summary>Sees every message the device sends (what someone on the wire could capture).</summary>
    public Action<string, byte[]>? Sent { get; set; }

    public override ushort Publish(string topic, byte[] message, byte qosLevel, bool retain) =>
        Publish(topic, message, false, qosLevel, retain);

    public override ushort Publish(string topic, byte[] message, bool dupFlag, byte qosLevel, bool retain)
    {
        var client = Current();
        Sent?.Invoke(topic, message);
        ushort id = qosLevel == 0 ? (ushort)0 : NextId();
        var application = new MqttApplicationMessageBuilder()
            .WithTopic(topic).WithPayload(message)
            .WithQualityOfServiceLevel((MqttQualityOfServiceLevel)qosLevel).WithRetainFlag(retain).Build();
        // The firmware's re-send of a message that may have arrived: DUP on the PUBLISH (QoS 1/2 only).
        if (dupFlag && qosLevel != 0)
            application = new MqttApplicationMessage { Topic = application.Topic, Payload = application.Payload, QualityOfServiceLevel = application.QualityOfServiceLevel, Retain = retain, Dup = true };
        var publish = client.PublishAsync(application);
        Interlocked.Increment(ref network.Published);
        if (qosLevel == 0)
        {
            publish.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            return 0;
        }

        publish.ContinueWith(
            t =>
            {
                if (t.IsCompletedSuccessfully) Interlocked.Increment(ref network.Acknowledged);
                _ = t.Exception; // a lost connection: the firmware sends it again after reconnect
                OnMqttMsgPublished(id, t.IsCompletedSuccessfully);
                network.Activity.Set();
            },
            TaskScheduler.Default);
        return id;
    }

    public override ushort Subscribe(string[] topics, byte[] qosLevels)
    {
        var client = Current();
        var options = new MqttClientSubscribeOptionsBuilder();
        for (int i = 0; i < topics.Length; i++) options.WithTopicFilter(topics[i], (MqttQualityOfServiceLevel)qosLevels[i]);
        Wait(client.SubscribeAsync(options.Build()));
        return NextId();
    }

    public override ushort Unsubscribe(string[] topics)
    {
        var client = Current();
        var options = new MqttClientUnsubscribeOptionsBuilder();
        foreach (var t in topics) options.WithTopicFilter(t);
        Wait(client.UnsubscribeAsync(options.Build()));
        return NextId();
    }

    public override void Disconnect()
    {
        IMqttClient? client;
        lock (_sync)
        {
            client = _client;
            _client = null;
        }

        if (client is null) return;
        if (client.IsConnected) Interlocked.Decrement(ref network.Connected);
        try
        {
            client.DisconnectAsync().WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is Campus.Mqtt.MqttCommunicationException or TimeoutException or IOException)
        {
            // Already gone.
        }

        client.Dispose();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            DropCurrent();
        }
    }

    private void DropCurrent()
    {
        IMqttClient? old;
        lock (_sync)
        {
            old = _client;
            _client = null;
        }

        if (old is null) return;
        if (old.IsConnected) Interlocked.Decrement(ref network.Connected);
        // A dead link: the broker has the will already; dispose without waiting long.
        _ = Task.Run(async () =>
        {
            try
            {
                await old.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is Campus.Mqtt.MqttCommunicationException or TimeoutException or IOException or OperationCanceledException)
            {
                // Nothing left to close.
            }
        });
    }

    private IMqttClient Current()
    {
        lock (_sync)
        {
            return _client is { IsConnected: true } c ? c : throw new Port.MqttCommunicationException("not connected");
        }
    }

    private ushort NextId()
    {
        int id = Interlocked.Increment(ref _nextId);
        return (ushort)(id % 65535 + 1);
    }

    private static void Wait(Task task)
    {
        try
        {
            task.WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is Campus.Mqtt.MqttCommunicationException or TimeoutException or IOException)
        {
            throw new Port.MqttCommunicationException(e.Message, e);
        }
    }
}
