using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Campus.Controller.Services;

/// <summary>
/// Metrics of the controller (meter "Campus.Controller"): messages received, rejected (tag
/// reason), duplicates, acknowledged, alerts raised (tag type), access decisions (tag result),
/// and publish-to-durable latency.
/// </summary>
public sealed class ControllerMetrics : IDisposable
{
    public const string MeterName = "Campus.Controller";

    private readonly Meter _meter;
    private readonly Counter<long> _received;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _acknowledged;
    private readonly Counter<long> _alerts;
    private readonly Counter<long> _access;
    private readonly Histogram<double> _durableMs;
    private long _receivedTotal;
    private long _rejectedTotal;
    private long _duplicateTotal;
    private long _acceptedTotal;

    public ControllerMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _received = _meter.CreateCounter<long>("campus.ingest.received", "{message}", "Messages received from devices.");
        _rejected = _meter.CreateCounter<long>("campus.ingest.rejected", "{message}", "Messages rejected, by reason.");
        _duplicates = _meter.CreateCounter<long>("campus.ingest.duplicates", "{message}", "Redelivered copies dropped.");
        _acknowledged = _meter.CreateCounter<long>("campus.ingest.acknowledged", "{message}", "QoS 1 messages acknowledged after their effect was durable.");
        _alerts = _meter.CreateCounter<long>("campus.alerts.raised", "{alert}", "Alerts raised, by type.");
        _access = _meter.CreateCounter<long>("campus.access.decisions", "{decision}", "Access decisions, by result.");
        _durableMs = _meter.CreateHistogram<double>("campus.ingest.duration", "ms", "Time from receipt to durable effect.");
    }

    public long ReceivedTotal => Volatile.Read(ref _receivedTotal);
    public long RejectedTotal => Volatile.Read(ref _rejectedTotal);
    public long DuplicateTotal => Volatile.Read(ref _duplicateTotal);
    public long AcceptedTotal => Volatile.Read(ref _acceptedTotal);

    /// <summary>Rejections so far, by reason (the same counts as campus.ingest.rejected).</summary>
    public IReadOnlyDictionary<string, long> RejectedByReason => new Dictionary<string, long>(_byReason, StringComparer.Ordinal);

    public long RejectedFor(string reason) => _byReason.GetValueOrDefault(reason);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _byReason = new(StringComparer.Ordinal);

    public void Received()
    {
        Interlocked.Increment(ref _receivedTotal);
        _received.Add(1);
    }

    public void Rejected(string reason)
    {
        Interlocked.Increment(ref _rejectedTotal);
        _byReason.AddOrUpdate(reason, 1, static (_, n) => n + 1);
        _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Duplicate()
    {
        Interlocked.Increment(ref _duplicateTotal);
        _duplicates.Add(1);
    }

    public void Accepted(TimeSpan elapsed)
    {
        Interlocked.Increment(ref _acceptedTotal);
        _durableMs.Record(elapsed.TotalMilliseconds);
    }

    public void Acknowledged() => _acknowledged.Add(1);

    public void AlertRaised(string type) => _alerts.Add(1, new KeyValuePair<string, object?>("type", type));

    public void AccessDecision(bool granted) => _access.Add(1, new KeyValuePair<string, object?>("result", granted ? "granted" : "denied"));

    public void Dispose() => _meter.Dispose();

    internal static long Timestamp() => Stopwatch.GetTimestamp();
}
