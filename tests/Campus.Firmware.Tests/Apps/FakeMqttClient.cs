using System.Collections.Concurrent;
using System.Text;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Tests.Apps;

/// <summary>A message the device published through <see cref="FakeMqttClient"/>.</summary>
internal sealed record PublishedMessage(string Topic, string Payload, bool Retain, ushort MessageId, bool Dup = false);

/// <summary>
/// An in-memory MQTT client port for fast runtime tests: the test plays the broker. Publishes are
/// recorded and acknowledged at once (or held back with <see cref="AutoAcknowledge"/> off);
/// <see cref="Deliver"/> plays a message from the broker; <see cref="Drop"/> breaks the link.
/// </summary>
internal sealed class FakeMqttClient : MqttClient
{
    private readonly object _sync = new();
    private readonly List<PublishedMessage> _published = new();
    private readonly ConcurrentQueue<ushort> _unacknowledged = new();
    private bool _connected;
    private ushort _nextId;
    private string _clientId = "";

    public bool BrokerAvailable { get; set; } = true;

    public bool AutoAcknowledge { get; set; } = true;

    public int ConnectCount { get; private set; }

    /// <summary>Simulated-clock ticks of every connect attempt (set <see cref="AttemptClock"/>).</summary>
    public List<long> AttemptTicks { get; } = new();

    public Clock? AttemptClock { get; set; }

    public string WillTopic { get; private set; } = "";

    public string WillMessage { get; private set; } = "";

    public bool WillRetain { get; private set; }

    public string Username { get; private set; } = "";

    public string Password { get; private set; } = "";

    public string[] Subscriptions { get; private set; } = [];

    public override bool IsConnected
    {
        get { lock (_sync) return _connected; }
    }

    public override string ClientId => _clientId;

    public IReadOnlyList<PublishedMessage> Published
    {
        get { lock (_sync) return _published.ToArray(); }
    }

    public IReadOnlyList<PublishedMessage> On(string topicEnd)
    {
        lock (_sync) return _published.Where(m => m.Topic.EndsWith(topicEnd, StringComparison.Ordinal)).ToArray();
    }

    public override MqttReasonCode Connect(string clientId, string username, string password, bool willRetain, byte willQosLevel, bool willFlag, string willTopic, string willMessage, bool cleanSession, ushort keepAlivePeriod)
    {
        lock (_sync)
        {
            if (AttemptClock is not null) AttemptTicks.Add(AttemptClock.TickCountMs);
            if (!BrokerAvailable) throw new MqttCommunicationException("broker unreachable");
            _connected = true;
            _clientId = clientId;
            Username = username;
            Password = password;
            WillTopic = willFlag ? willTopic : "";
            WillMessage = willFlag ? willMessage : "";
            WillRetain = willRetain;
            ConnectCount++;
            return MqttReasonCode.Success;
        }
    }

    public override ushort Publish(string topic, byte[] message, byte qosLevel, bool retain) =>
        Publish(topic, message, false, qosLevel, retain);

    public override ushort Publish(string topic, byte[] message, bool dupFlag, byte qosLevel, bool retain)
    {
        ushort id;
        lock (_sync)
        {
            if (!_connected) throw new MqttCommunicationException("not connected");
            id = ++_nextId == 0 ? ++_nextId : _nextId;
            _published.Add(new PublishedMessage(topic, Encoding.UTF8.GetString(message), retain, id, dupFlag));
        }
        if (AutoAcknowledge) OnMqttMsgPublished(id, true);
        else _unacknowledged.Enqueue(id);
        return id;
    }

    /// <summary>Acknowledges every publish held back so far.</summary>
    public void AcknowledgeAll()
    {
        while (_unacknowledged.TryDequeue(out var id)) OnMqttMsgPublished(id, true);
    }

    public override ushort Subscribe(string[] topics, byte[] qosLevels)
    {
        Subscriptions = topics;
        return 1;
    }

    public override ushort Unsubscribe(string[] topics) => 1;

    public override void Disconnect()
    {
        lock (_sync) _connected = false;
    }

    /// <summary>The broker sends <paramref name="payload"/> on <paramref name="topic"/>.</summary>
    public void Deliver(string topic, string payload, bool retain = false) =>
        OnMqttMsgPublishReceived(new MqttMsgPublishEventArgs(topic, Encoding.UTF8.GetBytes(payload), false, 1, retain));

    /// <summary>The link breaks (no DISCONNECT); unacknowledged publishes are lost with it.</summary>
    public void Drop()
    {
        lock (_sync) _connected = false;
        while (_unacknowledged.TryDequeue(out _)) { }
        OnConnectionClosed();
    }
}
