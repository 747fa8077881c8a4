using System.Collections.Concurrent;

namespace Campus.Grains.Runtime;

/// <summary>
/// Fails calls that got no answer within the response timeout: one queue of calls that did not
/// complete synchronously, swept by one periodic timer.
/// </summary>
internal sealed class ResponseTimeouts : IDisposable
{
    private readonly ConcurrentQueue<WorkItem> _pending = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;
    private readonly long _timeoutTimestamps;
    private ITimer? _timer;

    public ResponseTimeouts(TimeProvider time, TimeSpan timeout)
    {
        _time = time;
        _timeout = timeout;
        _timeoutTimestamps = (long)(timeout.TotalSeconds * time.TimestampFrequency);
    }

    public void Start()
    {
        var period = TimeSpan.FromTicks(Math.Clamp(_timeout.Ticks / 8, TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(1).Ticks));
        _timer = _time.CreateTimer(static s => ((ResponseTimeouts)s!).Check(), this, period, period);
    }

    public long Timestamp() => _time.GetTimestamp();

    /// <summary>Starts the response clock of <paramref name="item"/>: now, or at <paramref name="startedAt"/> (a <see cref="Timestamp"/>) when the call began earlier.</summary>
    public void Track(WorkItem item, long? startedAt = null)
    {
        item.Deadline = (startedAt ?? _time.GetTimestamp()) + _timeoutTimestamps;
        _pending.Enqueue(item);
    }

    internal void Check()
    {
        // Visit each item queued before this check once: drop finished ones, fail expired ones and
        // put the rest back. A call that legitimately waits long therefore never holds finished
        // items in memory behind it, and the cost per check is bounded by what was queued.
        var now = _time.GetTimestamp();
        List<WorkItem>? expired = null;
        for (var n = _pending.Count; n > 0 && _pending.TryDequeue(out var item); n--)
        {
            if (item.IsDone) continue;
            if (item.Deadline <= now) (expired ??= []).Add(item);
            else _pending.Enqueue(item);
        }
        if (expired is null) return;
        // Earliest deadline first: in a call cycle the outermost call fails with its own timeout, not
        // with one of the calls it made (which would otherwise complete it through the grain's code).
        expired.Sort(static (x, y) => x.Deadline.CompareTo(y.Deadline));
        foreach (var item in expired)
        {
            item.Fail(new TimeoutException(
                $"Response did not arrive on time in {_timeout} for the {item.Describe()}. " +
                "If grains call each other in a cycle (A -> B -> A), mark one [Reentrant] or the method [AlwaysInterleave]."));
        }
    }

    public void Dispose() => _timer?.Dispose();
}
