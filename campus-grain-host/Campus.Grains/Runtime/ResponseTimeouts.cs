using System.Collections.Concurrent;

namespace Campus.Grains.Runtime;

/// <summary>
/// Fails calls that got no answer within the response timeout. Every tracked call has the same
/// timeout, so deadlines arrive in FIFO order: one queue and one periodic timer suffice.
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

    public void Track(WorkItem item)
    {
        item.Deadline = _time.GetTimestamp() + _timeoutTimestamps;
        _pending.Enqueue(item);
    }

    internal void Check()
    {
        var now = _time.GetTimestamp();
        while (_pending.TryPeek(out var item) && (item.IsDone || item.Deadline <= now))
        {
            if (!_pending.TryDequeue(out item)) break;
            if (!item.IsDone)
                item.Fail(new TimeoutException(
                    $"Response did not arrive on time in {_timeout} for the {item.Describe()}. " +
                    "If grains call each other in a cycle (A -> B -> A), mark one [Reentrant] or the method [AlwaysInterleave]."));
        }
    }

    public void Dispose() => _timer?.Dispose();
}
