using Campus.Grains.Runtime;
using Microsoft.Extensions.Logging;

namespace Campus.Grains.Timers;

/// <summary>A timer of one activation; each tick is queued as a turn.</summary>
internal sealed class GrainTimer : WorkItem, IGrainTimer
{
    private readonly Activation _activation;
    private readonly Func<object?, CancellationToken, Task> _callback;
    private readonly object? _state;
    private readonly bool _interleave;
    private readonly bool _keepAlive;
    private readonly ITimer _timer;
    private readonly CancellationTokenSource _stopped = new();
    private TimeSpan _period;
    private int _disposed;

    private GrainTimer(Activation activation, Func<object?, CancellationToken, Task> callback, object? state, GrainTimerCreationOptions options)
    {
        _activation = activation;
        _callback = callback;
        _state = state;
        _interleave = options.Interleave;
        _keepAlive = options.KeepAlive;
        _period = options.Period;
        _timer = activation.Runtime.Time.CreateTimer(static s => ((GrainTimer)s!).OnTick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    internal static GrainTimer Create(Activation activation, Func<object?, CancellationToken, Task> callback, object? state, GrainTimerCreationOptions options)
    {
        Validate(options.DueTime, options.Period);
        var timer = new GrainTimer(activation, callback, state, options);
        activation.AddTimer(timer);
        timer._timer.Change(options.DueTime, Timeout.InfiniteTimeSpan);
        return timer;
    }

    private static void Validate(TimeSpan dueTime, TimeSpan period)
    {
        if (dueTime < TimeSpan.Zero && dueTime != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(dueTime), dueTime, "dueTime must be zero or positive, or Timeout.InfiniteTimeSpan.");
        if (period <= TimeSpan.Zero && period != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(period), period, "period must be positive, or Timeout.InfiniteTimeSpan for a one-shot timer.");
    }

    internal override bool AlwaysInterleave => _interleave;
    internal override bool CountsAsActivity => _keepAlive;
    internal override bool FollowsGrain => false;

    private void OnTick()
    {
        if (Volatile.Read(ref _disposed) != 0 || !_activation.IsValid) return;
        ResetDone();
        if (!_activation.Enqueue(this)) Dispose();
    }

    internal override void Start(Activation activation)
    {
        Task task;
        try
        {
            task = Volatile.Read(ref _disposed) != 0 ? Task.CompletedTask : _callback(_state, _stopped.Token);
        }
        catch (Exception ex)
        {
            task = Task.FromException(ex);
        }
        if (task.IsCompleted) Finished(task);
        else task.ContinueWith(static (t, s) => ((GrainTimer)s!).Finished(t), this, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Finished(Task task)
    {
        TryMarkDone();
        if (task.IsFaulted)
            _activation.Runtime.Log.LogWarning(task.Exception, "Timer callback of grain {GrainId} failed", _activation.Id);
        // The next period starts now, when the callback has completed. Arm it before the turn ends,
        // so that whatever runs after this turn (the grain's next call) sees the timer armed.
        if (Volatile.Read(ref _disposed) == 0 && _period != Timeout.InfiniteTimeSpan)
        {
            try
            {
                _timer.Change(_period, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // disposed concurrently
            }
        }
        _activation.OnRequestFinished();
    }

    public void Change(TimeSpan dueTime, TimeSpan period)
    {
        Validate(dueTime, period);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _period = period;
        _timer.Change(dueTime, Timeout.InfiniteTimeSpan);
    }

    internal override void Fail(Exception error)
    {
        // Nobody waits for a tick.
    }

    internal override string Describe() => $"timer tick of grain {_activation.Id}";

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _timer.Dispose();
        _stopped.Cancel();
        _activation.RemoveTimer(this);
    }
}
