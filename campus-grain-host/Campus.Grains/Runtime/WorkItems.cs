using System.Threading.Tasks.Sources;
using Campus.Grains.Invocation;

namespace Campus.Grains.Runtime;

/// <summary>Something that runs as a turn of an activation: a call, a timer tick, a reminder tick.</summary>
internal abstract class WorkItem
{
    private int _done;

    /// <summary>Response deadline in TimeProvider timestamp units; 0 when none.</summary>
    internal long Deadline;

    internal bool IsDone => Volatile.Read(ref _done) != 0;

    internal bool TryMarkDone() => Interlocked.Exchange(ref _done, 1) == 0;

    internal void ResetDone() => Volatile.Write(ref _done, 0);

    internal abstract bool AlwaysInterleave { get; }

    /// <summary>Whether starting this item keeps the activation alive (calls do; timer ticks don't).</summary>
    internal virtual bool CountsAsActivity => true;

    /// <summary>Whether the item follows the grain to a new activation when its activation goes away.</summary>
    internal virtual bool FollowsGrain => true;

    /// <summary>Runs on the activation's turn; must end with <see cref="Activation.OnRequestFinished"/>.</summary>
    internal abstract void Start(Activation activation);

    /// <summary>Completes the caller with an error (timeout, failed activation, shutdown).</summary>
    internal abstract void Fail(Exception error);

    /// <summary>For timeout messages: which grain and method.</summary>
    internal abstract string Describe();
}

/// <summary>A call that could not complete synchronously: queued, or started inline and still awaiting.</summary>
internal sealed class RequestItem<TInvoker, TResult> : WorkItem, IValueTaskSource<TResult>
    where TInvoker : struct, IGrainInvoker<TResult>
{
    private readonly TInvoker _invoker;
    private readonly GrainId _target;
    private readonly GrainRuntime? _oneWay;   // one-way calls: where their failures are logged
    private ManualResetValueTaskSourceCore<TResult> _core;
    private ValueTask<TResult> _pending;
    private Activation? _running;
    private long _startedAt;

    internal RequestItem(Activation target, TInvoker invoker, bool oneWay = false)
    {
        _invoker = invoker;
        _target = target.Id;
        _oneWay = oneWay ? target.Runtime : null;
        // The caller's continuation must never run inside the callee's turn.
        _core.RunContinuationsAsynchronously = true;
        if (target.Runtime.Metrics.MeasuresDuration) _startedAt = target.Runtime.Time.GetTimestamp();
    }

    internal override bool AlwaysInterleave => _invoker.AlwaysInterleave;

    internal ValueTask<TResult> AsValueTask() => new(this, _core.Version);

    internal override void Start(Activation activation)
    {
        ValueTask<TResult> result;
        try
        {
            result = _invoker.Invoke(activation.GrainInstance!);
        }
        catch (Exception ex)
        {
            result = ValueTask.FromException<TResult>(ex);
        }
        if (result.IsCompleted) Finish(activation, result);
        else WaitFor(activation, result);
    }

    internal void WaitFor(Activation activation, ValueTask<TResult> result)
    {
        _pending = result;
        _running = activation;
        result.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(OnPendingCompleted);
    }

    private void OnPendingCompleted() => Finish(_running!, _pending);

    private void Finish(Activation activation, ValueTask<TResult> result)
    {
        activation.OnRequestFinished();
        TResult value;
        try
        {
            value = result.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            if (TryMarkDone()) Complete(ex);
            Record(activation, failed: true);
            return;
        }
        if (TryMarkDone()) _core.SetResult(value);
        Record(activation, failed: false);
    }

    private void Record(Activation activation, bool failed)
    {
        if (_startedAt != 0) activation.Runtime.Metrics.RecordDuration(activation.Runtime.Time.GetElapsedTime(_startedAt), failed);
    }

    internal override void Fail(Exception error)
    {
        if (TryMarkDone()) Complete(error);
    }

    private void Complete(Exception error)
    {
        // Nobody awaits a one-way call: its failure would go unseen.
        _oneWay?.OneWayFailed(_invoker.MethodName, _target, error);
        _core.SetException(error);
    }

    internal override string Describe() => $"call to grain {_target} method {_invoker.MethodName}";

    TResult IValueTaskSource<TResult>.GetResult(short token) => _core.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<TResult>.GetStatus(short token) => _core.GetStatus(token);
    void IValueTaskSource<TResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
