using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;
using Campus.Mqtt.Server.Routing;
using Campus.Mqtt.Server.Security;
using Campus.Mqtt.Server.Sessions;
using Microsoft.Extensions.Logging;

namespace Campus.Mqtt.Server;

/// <summary>
/// The broker without its sockets: sessions, subscriptions, retained messages, authentication,
/// ACLs and routing. Connections feed it decoded packets and give it an <see cref="IPacketSink"/>
/// to write to. Routing a QoS 0 PUBLISH allocates nothing once warm: the topic is decoded into
/// a stack buffer, matched in the subscription tree into a reused collector, encoded once into
/// a reused pooled buffer and copied into each receiver's output.
/// </summary>
internal sealed class BrokerCore
{
    private const int StackTopicChars = 256;

    [ThreadStatic]
    private static RouteScratch? t_scratch;

    [ThreadStatic]
    private static MqttSession? t_congested;

    private readonly ConcurrentDictionary<string, MqttSession> _sessions = new(StringComparer.Ordinal);
    private readonly Lock _sessionsGate = new();
    private readonly ILogger _logger;

    public BrokerCore(MqttServerOptions options, ILogger logger, BrokerMetrics metrics, PasswordFile? passwords, AclFile? acl)
    {
        Options = options;
        _logger = logger;
        Metrics = metrics;
        Passwords = passwords;
        Acl = acl;
    }

    public MqttServerOptions Options { get; }
    public BrokerMetrics Metrics { get; }
    public PasswordFile? Passwords { get; }
    public AclFile? Acl { get; }
    public ILogger Logger => _logger;
    public SubscriptionTree<MqttSession> Subscriptions { get; } = new();
    public RetainedStore Retained { get; } = new();
    public int SessionCount => _sessions.Count;

    public bool TryGetSession(string clientId, out MqttSession? session) => _sessions.TryGetValue(clientId, out session);

    /// <summary>The broker's own verdict on a CONNECT (password file, anonymous access), before hooks.</summary>
    public MqttConnectReturnCode Authenticate(string? userName, byte[]? password)
    {
        if (userName is null) return Options.AllowAnonymous ? MqttConnectReturnCode.Accepted : MqttConnectReturnCode.NotAuthorized;
        if (Passwords is null) return Options.AllowAnonymous ? MqttConnectReturnCode.Accepted : MqttConnectReturnCode.NotAuthorized;
        return password is not null && Passwords.Verify(userName, password)
            ? MqttConnectReturnCode.Accepted
            : MqttConnectReturnCode.BadUserNameOrPassword;
    }

    /// <summary>
    /// <see cref="MqttServerOptions.RequireClientIdMatchesUsername"/>: an authenticated client must
    /// use its user name as client id unless the ACL file gives its user a section of its own.
    /// </summary>
    public bool ClientIdAllowedFor(string clientId, string? userName) =>
        !Options.RequireClientIdMatchesUsername
        || userName is null
        || string.Equals(clientId, userName, StringComparison.Ordinal)
        || (Acl is not null && Acl.HasUserSection(userName));

    /// <summary>The ACL of a client, or null when no ACL file is in force.</summary>
    public ClientAcl? AclFor(string clientId, string? userName) => Acl?.ForClient(clientId, userName);

    /// <summary>
    /// Binds a connection to the session of <paramref name="clientId"/>: a connection already
    /// holding it is closed (takeover); a clean start discards the old session. CONNACK is
    /// written before anything the session resends.
    /// </summary>
    public MqttSession AttachSession(string clientId, bool cleanSession, IPacketSink sink, ClientAcl? acl, EndPoint? remote, out bool sessionPresent)
    {
        lock (_sessionsGate)
        {
            _sessions.TryGetValue(clientId, out var old);
            if (old is not null)
            {
                IPacketSink? previous;
                lock (old.Gate)
                {
                    previous = old.Sink;
                    if (previous is not null) old.DetachLocked(previous);
                }
                if (previous is not null)
                {
                    Log.TakenOver(_logger, clientId, remote);
                    previous.Abort(MqttClientDisconnectType.Takeover);
                }
            }

            MqttSession session;
            if (cleanSession || old is null || old.Clean)
            {
                if (old is not null) RemoveAllSubscriptions(old);
                session = new MqttSession(clientId, cleanSession, Options.MaxInflightMessagesPerSession, Options.MaxQueuedMessagesPerSession);
                _sessions[clientId] = session;
                sessionPresent = false;
            }
            else
            {
                session = old;
                sessionPresent = true;
            }

            lock (session.Gate)
            {
                session.Acl = acl;
                sink.WriteConnAck(sessionPresent, MqttConnectReturnCode.Accepted);
                session.AttachLocked(sink);
            }
            return session;
        }
    }

    /// <summary>The connection of <paramref name="sink"/> ended: a clean session goes away, a persistent one stays offline.</summary>
    public void DetachSession(MqttSession session, IPacketSink sink)
    {
        lock (_sessionsGate)
        {
            bool wasCurrent;
            lock (session.Gate) wasCurrent = session.DetachLocked(sink);
            if (wasCurrent && session.Clean)
            {
                RemoveAllSubscriptions(session);
                _sessions.TryRemove(new KeyValuePair<string, MqttSession>(session.ClientId, session));
            }
        }
    }

    private void RemoveAllSubscriptions(MqttSession session)
    {
        lock (session.Gate)
        {
            foreach (var filter in session.Subscriptions.Keys) Subscriptions.Unsubscribe(filter, session);
            session.Subscriptions.Clear();
        }
    }

    /// <summary>
    /// A PUBLISH from a client, after the QoS 2 duplicate check: ACL, retained store, routing.
    /// Returns false when the ACL refused it (dropped, counted and logged).
    /// </summary>
    public bool HandleClientPublish(string clientId, string? userName, ClientAcl? acl, in PublishPacket publish)
    {
        var topicSequence = publish.TopicName;
        byte[]? rentedBytes = null;
        char[]? rentedChars = null;
        try
        {
            ReadOnlySpan<byte> topicUtf8;
            if (topicSequence.IsSingleSegment)
            {
                topicUtf8 = topicSequence.FirstSpan;
            }
            else
            {
                rentedBytes = ArrayPool<byte>.Shared.Rent((int)topicSequence.Length);
                topicSequence.CopyTo(rentedBytes);
                topicUtf8 = rentedBytes.AsSpan(0, (int)topicSequence.Length);
            }
            Span<char> chars = topicUtf8.Length <= StackTopicChars
                ? stackalloc char[StackTopicChars]
                : (rentedChars = ArrayPool<char>.Shared.Rent(topicUtf8.Length));
            var topic = chars[..Encoding.UTF8.GetChars(topicUtf8, chars)];

            if (acl is not null && !acl.CanPublish(topic))
            {
                Metrics.Rejected.Add(1, BrokerMetrics.ReasonAcl);
                Log.PublishDenied(_logger, clientId, userName, topic.ToString());
                return false;
            }

            StoredMessage? stored = null;
            if (publish.Retain)
            {
                stored = StoredMessage.Create(topic, topicUtf8, publish.Payload, publish.QualityOfServiceLevel, retain: true);
                Retained.Apply(stored);
            }
            Route(topic, topicUtf8, publish.Payload, publish.QualityOfServiceLevel, stored);
            return true;
        }
        finally
        {
            if (rentedBytes is not null) ArrayPool<byte>.Shared.Return(rentedBytes);
            if (rentedChars is not null) ArrayPool<char>.Shared.Return(rentedChars);
        }
    }

    /// <summary>Publishes a message that is already stored (will, injected or intercepted): retained store, then routing.</summary>
    public void Publish(StoredMessage message)
    {
        if (message.Retain) Retained.Apply(message);
        Route(message.Topic, message.TopicUtf8, message.PayloadSequence, message.QualityOfServiceLevel, message);
    }

    /// <summary>Sends a message to every matching subscriber once, at the lower of its QoS and the granted QoS.</summary>
    public void Route(ReadOnlySpan<char> topic, ReadOnlySpan<byte> topicUtf8, in ReadOnlySequence<byte> payload, MqttQualityOfServiceLevel qos, StoredMessage? stored)
    {
        var scratch = t_scratch ?? new RouteScratch();
        t_scratch = null; // re-entrancy (a sink routing again on this thread) gets its own scratch
        t_congested = null;
        try
        {
            var collector = scratch.Collector;
            Subscriptions.Match(topic, collector);
            if (collector.Count == 0) return;
            var frameReady = false;
            foreach (var target in collector.Items)
            {
                var session = target.Subscriber;
                var acl = session.Acl;
                if (acl is not null && !acl.CanReceive(topic)) continue;
                var effective = (MqttQualityOfServiceLevel)Math.Min((byte)qos, target.Qos);
                if (effective == MqttQualityOfServiceLevel.AtMostOnce)
                {
                    var sink = session.Sink;
                    if (sink is null) continue;
                    if (!frameReady)
                    {
                        scratch.Frame.Reset();
                        MqttV311Encoder.WritePublish(scratch.Frame, topicUtf8, payload, MqttQualityOfServiceLevel.AtMostOnce, retain: false, dup: false, packetIdentifier: 0);
                        frameReady = true;
                    }
                    if (!sink.TryWriteShared(scratch.Frame.WrittenSpan)) Metrics.Dropped.Add(1);
                }
                else
                {
                    stored ??= StoredMessage.Create(topic, topicUtf8, payload, qos, retain: false);
                    Deliver(session, stored, effective, retain: false);
                }
            }
        }
        finally
        {
            scratch.Collector.Clear();
            scratch.Frame.TrimIfLarger(64 * 1024);
            t_scratch = scratch;
        }
    }

    /// <summary>Queue length above which a publisher waits for an online subscriber to catch up.</summary>
    public int HighWater => Math.Max(Options.MaxInflightMessagesPerSession, Options.MaxQueuedMessagesPerSession / 4);

    /// <summary>
    /// After a publish was routed on this thread: the online subscriber whose queue it pushed
    /// over <see cref="HighWater"/>, if any (the caller then pauses reading that publisher).
    /// </summary>
    public static MqttSession? TakeCongestedSubscriber()
    {
        var s = t_congested;
        t_congested = null;
        return s;
    }

    private void Deliver(MqttSession session, StoredMessage message, MqttQualityOfServiceLevel qos, bool retain)
    {
        var result = session.Deliver(message, qos, retain);
        if (result == DeliveryResult.Queued)
        {
            if (t_congested is null && session.IsCongested(HighWater, Environment.TickCount64)) t_congested = session;
            return;
        }
        if (result != DeliveryResult.Dropped) return;
        Metrics.Dropped.Add(1);
        var dropped = session.DroppedMessages;
        if (dropped == 1 || dropped % 1000 == 0)
            Log.QueueFull(_logger, session.ClientId, Options.MaxQueuedMessagesPerSession, message.Topic, dropped);
    }

    /// <summary>SUBSCRIBE: one return code per filter; filters the ACL refuses get 0x80.</summary>
    public MqttSubscribeReturnCode[] Subscribe(MqttSession session, IReadOnlyList<MqttTopicFilter> filters, ClientAcl? acl, string? userName)
    {
        var codes = new MqttSubscribeReturnCode[filters.Count];
        for (var i = 0; i < filters.Count; i++)
        {
            var f = filters[i];
            if (acl is not null && !acl.CanSubscribe(f.Topic))
            {
                Metrics.Rejected.Add(1, BrokerMetrics.ReasonAcl);
                Log.SubscribeDenied(_logger, session.ClientId, userName, f.Topic);
                codes[i] = MqttSubscribeReturnCode.Failure;
                continue;
            }
            lock (session.Gate)
            {
                session.Subscriptions[f.Topic] = f.QualityOfServiceLevel;
                Subscriptions.Subscribe(f.Topic, session, (byte)f.QualityOfServiceLevel);
            }
            codes[i] = (MqttSubscribeReturnCode)f.QualityOfServiceLevel;
        }
        return codes;
    }

    /// <summary>After SUBACK: the retained messages matching a new subscription, with the retain flag set.</summary>
    public void DeliverRetained(MqttSession session, string filter, MqttQualityOfServiceLevel granted)
    {
        var sink = session.Sink;
        if (sink is null) return;
        var acl = session.Acl;
        foreach (var m in Retained.Match(filter))
        {
            if (acl is not null && !acl.CanReceive(m.Topic)) continue;
            var qos = (MqttQualityOfServiceLevel)Math.Min((byte)m.QualityOfServiceLevel, (byte)granted);
            if (qos == MqttQualityOfServiceLevel.AtMostOnce) sink.WritePublish(m, qos, 0, dup: false, retain: true);
            else Deliver(session, m, qos, retain: true);
        }
    }

    public void Unsubscribe(MqttSession session, IReadOnlyList<string> filters)
    {
        lock (session.Gate)
        {
            foreach (var f in filters)
            {
                if (session.Subscriptions.Remove(f)) Subscriptions.Unsubscribe(f, session);
            }
        }
    }

    /// <summary>Ends every session's connection (server stop).</summary>
    public List<MqttSession> SnapshotSessions() => [.. _sessions.Values];

    private sealed class RouteScratch
    {
        public MatchCollector<MqttSession> Collector { get; } = new();
        public PooledBufferWriter Frame { get; } = new();
    }
}
