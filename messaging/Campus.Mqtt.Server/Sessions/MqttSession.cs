using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Routing;
using Campus.Mqtt.Server.Security;

namespace Campus.Mqtt.Server.Sessions;

/// <summary>What happened to a QoS 1/2 message handed to a session.</summary>
internal enum DeliveryResult
{
    Sent,
    Queued,
    Dropped,
    Discarded,
}

/// <summary>
/// The server side of one client id (MQTT 3.1.1, section 4.1): its subscriptions, the QoS 1/2
/// messages in flight to it (resent with DUP after a reconnect), the messages queued while it
/// is offline or its in-flight window is full (bounded; overflow is dropped and counted), and
/// the identifiers of QoS 2 messages it sent that await PUBREL. Guarded by <see cref="Gate"/>.
/// </summary>
internal sealed class MqttSession
{
    private readonly int _maxInflight;
    private readonly int _maxQueued;
    private volatile IPacketSink? _sink;
    private List<Outgoing>? _inflight;
    private Queue<Outgoing>? _queue;
    private HashSet<ushort>? _incomingQos2;
    private ushort _lastPacketId;
    private TaskCompletionSource? _drained;
    private long _throttleExemptUntil;

    public MqttSession(string clientId, bool clean, int maxInflight, int maxQueued)
    {
        ClientId = clientId;
        Clean = clean;
        _maxInflight = maxInflight;
        _maxQueued = maxQueued;
    }

    public string ClientId { get; }

    /// <summary>A clean session ends with its connection; a persistent one outlives it.</summary>
    public bool Clean { get; }

    public Lock Gate { get; } = new();

    /// <summary>The connected client, or null while offline. Read without the lock on the QoS 0 path.</summary>
    public IPacketSink? Sink => _sink;

    /// <summary>The ACL of the connected client (null: no restrictions).</summary>
    public ClientAcl? Acl { get; set; }

    /// <summary>Topic filter -> granted QoS. Guarded by <see cref="Gate"/>.</summary>
    public Dictionary<string, MqttQualityOfServiceLevel> Subscriptions { get; } = new(StringComparer.Ordinal);

    /// <summary>Messages dropped because the queue was full, over the session's life.</summary>
    public long DroppedMessages { get; private set; }

    public int InflightCount { get { lock (Gate) return _inflight?.Count ?? 0; } }

    public int QueuedCount { get { lock (Gate) return _queue?.Count ?? 0; } }

    public int SubscriptionCount { get { lock (Gate) return Subscriptions.Count; } }

    /// <summary>True when the session has a subscription to exactly <paramref name="filter"/>.</summary>
    public bool HasSubscription(string filter)
    {
        lock (Gate) return Subscriptions.ContainsKey(filter);
    }

    /// <summary>
    /// True when the client is online but its queue is above <paramref name="highWater"/>: the
    /// publisher that just filled it should pause reading until it drains (TCP backpressure
    /// instead of dropping). A client that did not drain in time is exempt for a while, so one
    /// stuck subscriber cannot slow every publisher down.
    /// </summary>
    public bool IsCongested(int highWater, long now)
    {
        lock (Gate) return _sink is not null && (_queue?.Count ?? 0) > highWater && now >= _throttleExemptUntil;
    }

    /// <summary>Completes when the queue is at or below <paramref name="lowWater"/> (or the client went offline).</summary>
    public Task WaitForDrainAsync(int lowWater)
    {
        lock (Gate)
        {
            if (_sink is null || (_queue?.Count ?? 0) <= lowWater) return Task.CompletedTask;
            _drainLowWater = lowWater;
            return (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>The client did not drain in time: no backpressure from it until <paramref name="until"/>.</summary>
    public void ExemptFromThrottling(long until)
    {
        lock (Gate) _throttleExemptUntil = until;
    }

    private int _drainLowWater;
    private long _completed;

    /// <summary>QoS 1/2 deliveries the client has acknowledged (PUBACK/PUBCOMP), a progress counter.</summary>
    public long CompletedDeliveries => Volatile.Read(ref _completed);

    /// <summary>Connects <paramref name="sink"/>: resends what was in flight (PUBLISH with DUP, or PUBREL), then drains the queue.</summary>
    public void AttachLocked(IPacketSink sink)
    {
        _sink = sink;
        if (_inflight is not null)
        {
            foreach (var o in _inflight)
            {
                if (o.AwaitingPubComp) sink.WriteAcknowledgement(MqttPacketType.PubRel, o.PacketId);
                else sink.WritePublish(o.Message, o.Qos, o.PacketId, dup: true, o.Retain);
            }
        }
        PumpLocked();
    }

    /// <summary>Disconnects <paramref name="sink"/> if it is still the current one.</summary>
    public bool DetachLocked(IPacketSink sink)
    {
        if (!ReferenceEquals(_sink, sink)) return false;
        _sink = null;
        ReleaseWaitersLocked();
        return true;
    }

    /// <summary>Hands a QoS 1/2 message to the session: sent at once when the window allows, else queued.</summary>
    public DeliveryResult Deliver(StoredMessage message, MqttQualityOfServiceLevel qos, bool retain)
    {
        lock (Gate)
        {
            var sink = _sink;
            if (sink is null && Clean) return DeliveryResult.Discarded;
            var outgoing = new Outgoing(message, qos, 0, retain, false);
            if (sink is not null && (_inflight?.Count ?? 0) < _maxInflight && (_queue?.Count ?? 0) == 0)
            {
                SendLocked(sink, outgoing);
                return DeliveryResult.Sent;
            }
            _queue ??= new Queue<Outgoing>();
            if (_queue.Count >= _maxQueued)
            {
                DroppedMessages++;
                return DeliveryResult.Dropped;
            }
            _queue.Enqueue(outgoing);
            return DeliveryResult.Queued;
        }
    }

    /// <summary>PUBACK from the client ends a QoS 1 delivery.</summary>
    public void OnPubAck(ushort packetId) => Complete(packetId, MqttQualityOfServiceLevel.AtLeastOnce);

    /// <summary>PUBCOMP from the client ends a QoS 2 delivery.</summary>
    public void OnPubComp(ushort packetId) => Complete(packetId, MqttQualityOfServiceLevel.ExactlyOnce);

    /// <summary>PUBREC from the client: the message is received; answer PUBREL and wait for PUBCOMP.</summary>
    public void OnPubRec(ushort packetId)
    {
        lock (Gate)
        {
            if (_inflight is not null)
            {
                for (var i = 0; i < _inflight.Count; i++)
                {
                    if (_inflight[i].PacketId == packetId && _inflight[i].Qos == MqttQualityOfServiceLevel.ExactlyOnce)
                    {
                        _inflight[i] = _inflight[i] with { AwaitingPubComp = true };
                        break;
                    }
                }
            }
            // PUBREL goes out even for an unknown id, so that a client resending PUBREC gets unstuck.
            _sink?.WriteAcknowledgement(MqttPacketType.PubRel, packetId);
        }
    }

    /// <summary>A QoS 2 PUBLISH arrived from the client: true the first time its id is seen (route it), false for a resend.</summary>
    public bool TryBeginIncomingQos2(ushort packetId)
    {
        lock (Gate)
        {
            _incomingQos2 ??= [];
            return _incomingQos2.Add(packetId);
        }
    }

    /// <summary>PUBREL from the client: forget the id (the message was routed when it arrived).</summary>
    public void EndIncomingQos2(ushort packetId)
    {
        lock (Gate) _incomingQos2?.Remove(packetId);
    }

    private void Complete(ushort packetId, MqttQualityOfServiceLevel qos)
    {
        lock (Gate)
        {
            if (_inflight is null) return;
            for (var i = 0; i < _inflight.Count; i++)
            {
                if (_inflight[i].PacketId == packetId && _inflight[i].Qos == qos)
                {
                    _inflight.RemoveAt(i);
                    _completed++;
                    PumpLocked();
                    return;
                }
            }
        }
    }

    private void PumpLocked()
    {
        var sink = _sink;
        if (sink is null || _queue is null) return;
        while (_queue.Count > 0 && (_inflight?.Count ?? 0) < _maxInflight) SendLocked(sink, _queue.Dequeue());
        if (_drained is not null && _queue.Count <= _drainLowWater) ReleaseWaitersLocked();
    }

    private void ReleaseWaitersLocked()
    {
        _drained?.TrySetResult();
        _drained = null;
    }

    private void SendLocked(IPacketSink sink, Outgoing outgoing)
    {
        var withId = outgoing with { PacketId = NextPacketIdLocked() };
        (_inflight ??= []).Add(withId);
        sink.WritePublish(withId.Message, withId.Qos, withId.PacketId, dup: false, withId.Retain);
    }

    private ushort NextPacketIdLocked()
    {
        while (true)
        {
            _lastPacketId = _lastPacketId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastPacketId + 1);
            if (!InUse(_lastPacketId)) return _lastPacketId;
        }
    }

    private bool InUse(ushort id)
    {
        if (_inflight is null) return false;
        foreach (var o in _inflight) if (o.PacketId == id) return true;
        return false;
    }

    private readonly record struct Outgoing(StoredMessage Message, MqttQualityOfServiceLevel Qos, ushort PacketId, bool Retain, bool AwaitingPubComp);
}
