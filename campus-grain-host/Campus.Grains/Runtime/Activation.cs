using Campus.Grains.Invocation;
using Campus.Grains.Storage;
using Campus.Grains.Timers;
using Microsoft.Extensions.Logging;

namespace Campus.Grains.Runtime;

internal enum ActivationState
{
    Activating,
    Valid,
    Deactivating,
    Invalid,
}

/// <summary>
/// One live instance of a grain and its turn scheduler.
/// <para>
/// Requests wait in a FIFO queue and start one at a time (non-reentrant) or whenever no code of the
/// grain is running (reentrant / [AlwaysInterleave]). The activation is also the
/// <see cref="SynchronizationContext"/> of its turns: continuations after an await inside grain code
/// are posted here and run one at a time, so grain code never runs on two threads at once and needs
/// no locks. The fast path: when the activation is idle and the caller is not inside a grain turn,
/// the call runs inline on the caller's thread, with no queueing and no allocation.
/// </para>
/// </summary>
internal sealed class Activation : SynchronizationContext, IThreadPoolWorkItem
{
    [ThreadStatic] internal static Activation? Constructing;

    // The start of the inline call running on this thread, taken when its grain code first calls
    // another grain: -1 while none was taken, 0 outside inline calls. The caller's response clock
    // then starts before those of the calls its grain makes, so in a call cycle the caller's own
    // call is the one that times out first (and names the grain it called).
    [ThreadStatic] private static long t_inlineStart;

    private const int DrainBatch = 64;

    internal readonly GrainRuntime Runtime;
    internal readonly GrainId Id;
    internal readonly GrainClassInfo? Class;   // null for observer targets
    private readonly Lock _gate = new();
    private object? _grain;                     // null again once the activation is invalid
    private volatile ActivationState _state;
    private bool _executing;                    // a thread is running code of this activation
    // The lock-free fast path. 1: quiet (valid, idle, nothing queued): an outside caller may take the
    // activation with one CAS (1 -> 2) and run inline without the lock. 2: such a call runs.
    // 3: it runs and work was queued meanwhile (its exit hands over to the lock). 0: governed by _gate.
    private int _fast;
    private int _activeRequests;                // requests started and not finished
    private bool _deactivationStarted;
    private DeactivationReason _deactivationReason;
    private Queue<WorkItem>? _requests;
    private Queue<WorkItem>? _interleaved;      // [AlwaysInterleave] calls: may pass queued requests
    private Queue<(SendOrPostCallback Callback, object? State)>? _segments;
    private List<GrainTimer>? _timers;
    private long _lastUsed;                     // UTC ticks, coarse (collector quantum)
    private long _keepAliveUntil;               // UTC ticks
    private TaskCompletionSource? _deactivated;

    internal Activation(GrainRuntime runtime, GrainId id, GrainClassInfo? grainClass)
    {
        Runtime = runtime;
        Id = id;
        Class = grainClass;
        _state = ActivationState.Activating;
        _lastUsed = runtime.CoarseNow;
        // The activation turn counts as a running request: nothing else starts, and deactivation waits for it.
        _activeRequests = grainClass is null ? 0 : 1;
    }

    /// <summary>An observer target: a plain object, valid at once, never collected.</summary>
    internal static Activation ForObserver(GrainRuntime runtime, GrainId id, object target)
    {
        var a = new Activation(runtime, id, null) { _grain = target };
        a._state = ActivationState.Valid;
        a._fast = 1;
        return a;
    }

    internal bool IsInvalid => _state == ActivationState.Invalid;
    internal bool IsValid => _state == ActivationState.Valid;
    internal object? GrainInstance => _grain;
    private bool Reentrant => Class?.Reentrant == true;

    // ---------------------------------------------------------------- calls

    /// <param name="oneWay">
    /// Nobody waits for the result: a failure is logged here, and the call has no response deadline.
    /// </param>
    internal ValueTask<TResult> Invoke<TInvoker, TResult>(TInvoker invoker, bool oneWay = false) where TInvoker : struct, IGrainInvoker<TResult>
    {
        var previous = SynchronizationContext.Current;
        int inline;
        if (previous is not Activation && (inline = TryEnterInline(invoker.AlwaysInterleave)) != 0)
        {
            Runtime.Metrics.CountCall();
            ValueTask<TResult> result;
            SetSynchronizationContext(this);
            t_inlineStart = -1;
            try
            {
                result = invoker.Invoke(_grain!);
            }
            catch (Exception ex)
            {
                result = ValueTask.FromException<TResult>(ex);
            }
            finally
            {
                SetSynchronizationContext(previous);
            }
            var started = t_inlineStart;
            t_inlineStart = 0;

            if (result.IsCompleted)
            {
                if (inline == Token && Interlocked.CompareExchange(ref _fast, 1, 2) == 2) return result;
                ExitInline(inline, requestFinished: true);
                return result;
            }

            // The grain awaits something: the request stays active until that completes.
            var pending = new RequestItem<TInvoker, TResult>(this, invoker, oneWay);
            // Its clock started before those of the calls its grain made (one tick earlier at worst).
            if (!oneWay) Runtime.Timeouts.Track(pending, started > 0 ? started - 1 : null);
            ExitInline(inline, requestFinished: false);
            pending.WaitFor(this, result);
            return pending.AsValueTask();
        }
        return InvokeQueued<TInvoker, TResult>(invoker, oneWay);
    }

    private ValueTask<TResult> InvokeQueued<TInvoker, TResult>(TInvoker invoker, bool oneWay) where TInvoker : struct, IGrainInvoker<TResult>
    {
        var item = new RequestItem<TInvoker, TResult>(this, invoker, oneWay);
        if (!oneWay)
        {
            if (t_inlineStart == -1) t_inlineStart = Runtime.Timeouts.Timestamp();
            Runtime.Timeouts.Track(item);
        }
        Runtime.Metrics.CountCall();
        Runtime.Dispatch(item, this);
        return oneWay ? default : item.AsValueTask();
    }

    private const int Token = 1;    // entered with the lock-free token
    private const int Locked = 2;   // entered under the lock (reentrant / interleaving while requests are active)

    private int TryEnterInline(bool interleave)
    {
        if (Interlocked.CompareExchange(ref _fast, 2, 1) == 1)
        {
            _lastUsed = Runtime.CoarseNow;
            return Token;
        }
        if (!interleave && !Reentrant) return 0;
        lock (_gate)
        {
            if (_fast != 0 || _state != ActivationState.Valid || _executing
                || (_activeRequests != 0 && !Reentrant && !interleave)
                || (interleave ? _interleaved is { Count: > 0 } : _requests is { Count: > 0 })
                || _segments is { Count: > 0 })
                return 0;
            _executing = true;
            _activeRequests++;
            _lastUsed = Runtime.CoarseNow;
            return Locked;
        }
    }

    private void ExitInline(int inline, bool requestFinished)
    {
        bool schedule;
        lock (_gate)
        {
            if (inline == Token)
            {
                // Hand over from the token to the lock: the request (if still pending) counts as active.
                Volatile.Write(ref _fast, 0);
                if (!requestFinished) _activeRequests++;
            }
            else
            {
                _executing = false;
                if (requestFinished) _activeRequests--;
            }
            schedule = TryClaimExecution();
            if (!schedule) MaybeQuiet();
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    // Must hold _gate. Moves a quiet activation under the lock (or flags a running inline call that work waits).
    private void LeaveQuiet()
    {
        while (true)
        {
            var v = Volatile.Read(ref _fast);
            if (v is 0 or 3) return;
            if (Interlocked.CompareExchange(ref _fast, v == 1 ? 0 : 3, v) == v) return;
        }
    }

    // Must hold _gate. Re-opens the lock-free path when the activation is idle with nothing queued.
    private void MaybeQuiet()
    {
        if (_fast == 0 && !_executing && _activeRequests == 0 && _state == ActivationState.Valid
            && _requests is not { Count: > 0 } && _interleaved is not { Count: > 0 } && _segments is not { Count: > 0 })
        {
            // Idle activations are the common case (a million devices): drop the empty queues.
            _requests = null;
            _interleaved = null;
            _segments = null;
            Volatile.Write(ref _fast, 1);
        }
    }

    /// <summary>Queues a request; false when this activation is gone (the caller re-resolves).</summary>
    internal bool Enqueue(WorkItem item)
    {
        bool schedule;
        lock (_gate)
        {
            if (_state == ActivationState.Invalid) return false;
            LeaveQuiet();
            if (item.AlwaysInterleave) (_interleaved ??= new Queue<WorkItem>()).Enqueue(item);
            else (_requests ??= new Queue<WorkItem>()).Enqueue(item);
            schedule = TryClaimExecution();
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    /// <summary>Called when a started request (or timer tick) finished, on any thread.</summary>
    internal void OnRequestFinished()
    {
        bool schedule;
        lock (_gate)
        {
            _activeRequests--;
            schedule = TryClaimExecution();
            if (!schedule) MaybeQuiet();
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    // Must hold _gate. Claims the right to run code when there is runnable work and nobody runs.
    private bool TryClaimExecution()
    {
        if (_executing || _fast >= 2 || !HasRunnableWork()) return false;
        _executing = true;
        return true;
    }

    private bool HasRunnableWork()
    {
        if (_segments is { Count: > 0 }) return true;
        if (_state == ActivationState.Valid && _interleaved is { Count: > 0 }) return true;
        if (_state == ActivationState.Valid && _requests is { Count: > 0 } requests)
            return _activeRequests == 0 || Reentrant || requests.Peek().IsDone;
        return _state == ActivationState.Deactivating && _activeRequests == 0 && !_deactivationStarted;
    }

    // ---------------------------------------------------------------- the turn scheduler

    /// <summary>Continuations of grain code come here and run as part of the activation's turns.</summary>
    public override void Post(SendOrPostCallback d, object? state)
    {
        bool schedule;
        lock (_gate)
        {
            LeaveQuiet();
            (_segments ??= new Queue<(SendOrPostCallback, object?)>()).Enqueue((d, state));
            schedule = TryClaimExecution();
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    public override SynchronizationContext CreateCopy() => this;

    public void Execute()
    {
        var previous = SynchronizationContext.Current;
        SetSynchronizationContext(this);
        try
        {
            for (var i = 0; i < DrainBatch; i++)
            {
                (SendOrPostCallback? Callback, object? State) segment = default;
                WorkItem? request = null;
                var deactivate = false;
                lock (_gate)
                {
                    if (_segments is { Count: > 0 } segments)
                    {
                        segment = segments.Dequeue();
                    }
                    else if (_state == ActivationState.Valid && (_interleaved is { Count: > 0 } || (_requests is { Count: > 0 } requests
                             && (_activeRequests == 0 || Reentrant || requests.Peek().IsDone))))
                    {
                        request = _interleaved is { Count: > 0 } interleaved ? interleaved.Dequeue() : _requests!.Dequeue();
                        if (request.IsDone) continue;    // timed out while waiting
                        _activeRequests++;
                        if (request.CountsAsActivity) _lastUsed = Runtime.CoarseNow;
                    }
                    else if (_state == ActivationState.Deactivating && _activeRequests == 0 && !_deactivationStarted)
                    {
                        _deactivationStarted = true;
                        deactivate = true;
                    }
                    else
                    {
                        _executing = false;
                        MaybeQuiet();
                        return;
                    }
                }

                if (request is not null) request.Start(this);
                else if (deactivate) _ = DeactivateAsync();
                else RunSegment(segment.Callback!, segment.State);
            }
            // Let other work run; we still own execution.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    private void RunSegment(SendOrPostCallback callback, object? state)
    {
        try
        {
            callback(state);
        }
        catch (Exception ex)
        {
            // An async void method or a faulted continuation; grain code owns its own errors.
            Runtime.Log.LogError(ex, "Unhandled exception in a turn of grain {GrainId}", Id);
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /// <summary>Starts the activation turn (construct, read state, OnActivateAsync). Called once by the winner of the directory race.</summary>
    internal void Start() => Post(static s => _ = ((Activation)s!).ActivateAsync(), this);

    private async Task ActivateAsync()
    {
        try
        {
            var (grain, states) = Class!.Create(this, Runtime.Services);
            _grain = grain;
            foreach (var state in states) await state.LoadAsync();
            if (grain is Grain g) await g.OnActivateAsync(Runtime.StoppingToken);
            lock (_gate)
            {
                // DeactivateOnIdle() inside OnActivateAsync already moved us on.
                if (_state == ActivationState.Activating) _state = ActivationState.Valid;
            }
            Runtime.Metrics.Activated();
            OnRequestFinished();
        }
        catch (Exception ex)
        {
            Runtime.Log.LogWarning(ex, "Activation of grain {GrainId} failed", Id);
            List<WorkItem> failed;
            lock (_gate)
            {
                _state = ActivationState.Invalid;
                _activeRequests--;
                failed = DrainRequests();
                ReleaseGrain();
            }
            Runtime.RemoveFromDirectory(this);
            StopTimers();
            var error = new InvalidOperationException($"Activation of grain {Id} failed: {ex.Message}", ex);
            foreach (var item in failed) item.Fail(error);
            _deactivated?.TrySetResult();
        }
    }

    /// <summary>Asks for deactivation after the running requests finish; queued requests move to a new activation.</summary>
    internal void StartDeactivation(DeactivationReason reason)
    {
        bool schedule;
        lock (_gate)
        {
            if (_state is ActivationState.Deactivating or ActivationState.Invalid) return;
            LeaveQuiet();
            _state = ActivationState.Deactivating;
            _deactivationReason = reason;
            schedule = TryClaimExecution();
        }
        if (schedule) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Deactivates and completes when done (used by runtime shutdown).</summary>
    internal Task DeactivateAndWaitAsync(DeactivationReason reason)
    {
        Task done;
        lock (_gate)
        {
            if (_state == ActivationState.Invalid) return Task.CompletedTask;
            done = (_deactivated ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
        StartDeactivation(reason);
        return done;
    }

    private async Task DeactivateAsync()
    {
        StopTimers();
        if (_grain is Grain g)
        {
            try
            {
                using var cts = new CancellationTokenSource(Runtime.Options.DeactivationTimeout, Runtime.Time);
                await g.OnDeactivateAsync(_deactivationReason, cts.Token);
            }
            catch (Exception ex)
            {
                Runtime.Log.LogWarning(ex, "OnDeactivateAsync of grain {GrainId} failed", Id);
            }
        }
        List<WorkItem> moved;
        lock (_gate)
        {
            _state = ActivationState.Invalid;
            moved = DrainRequests();
            ReleaseGrain();
        }
        Runtime.RemoveFromDirectory(this);
        if (Class is not null) Runtime.Metrics.Deactivated();
        _deactivated?.TrySetResult();
        foreach (var item in moved) Runtime.Redirect(item, Id, Class);
    }

    private List<WorkItem> DrainRequests()
    {
        var list = new List<WorkItem>((_requests?.Count ?? 0) + (_interleaved?.Count ?? 0));
        while (_interleaved is { Count: > 0 } i) list.Add(i.Dequeue());
        while (_requests is { Count: > 0 } q) list.Add(q.Dequeue());
        return list;
    }

    // Must hold _gate, with the state just set to Invalid. References hand out this activation and
    // keep it until their next call re-resolves, so it must not keep the grain object (and all its
    // state) reachable. Nothing can use the grain any more: requests and timer ticks start only on a
    // valid activation, the inline path opens only on a valid one, and no request is running (deactivation
    // waited for them). A call racing with this finds the activation invalid, or its Enqueue refused,
    // and goes to a new activation. Continuations of the old grain's code still posted here carry
    // their own references to it. (StopTimers drops the timers, whose callbacks hold the grain.)
    private void ReleaseGrain()
    {
        _grain = null;
        _requests = null;
        _interleaved = null;
        if (_segments is { Count: 0 }) _segments = null;
    }

    // ---------------------------------------------------------------- grain API support

    internal void DeactivateOnIdle() =>
        StartDeactivation(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "DeactivateOnIdle was called."));

    internal void DelayDeactivation(TimeSpan timeSpan)
    {
        lock (_gate)
        {
            _keepAliveUntil = timeSpan == TimeSpan.MaxValue
                ? long.MaxValue
                : Runtime.Time.GetUtcNow().UtcTicks + Math.Max(0, timeSpan.Ticks);
        }
    }

    /// <summary>Called by the collector each quantum.</summary>
    internal bool CollectIfIdle(long nowTicks, long quantumTicks)
    {
        if (Class is null) return false;
        lock (_gate)
        {
            if (_state != ActivationState.Valid || _executing || _fast >= 2 || _activeRequests != 0
                || _requests is { Count: > 0 } || _interleaved is { Count: > 0 })
                return false;
            // _lastUsed lags the true last use by less than one quantum, so add one.
            if (nowTicks - _lastUsed < Class.CollectionAge.Ticks + quantumTicks || nowTicks < _keepAliveUntil)
                return false;
        }
        StartDeactivation(new DeactivationReason(DeactivationReasonCode.ActivationIdle, $"Idle for more than {Class.CollectionAge}."));
        return true;
    }

    internal void Touch() => _lastUsed = Runtime.CoarseNow;

    internal void AddTimer(GrainTimer timer)
    {
        lock (_gate)
        {
            if (_state is ActivationState.Deactivating or ActivationState.Invalid)
                throw new InvalidOperationException($"Grain {Id} is deactivating; it cannot register timers.");
            (_timers ??= []).Add(timer);
        }
    }

    internal void RemoveTimer(GrainTimer timer)
    {
        lock (_gate) _timers?.Remove(timer);
    }

    private void StopTimers()
    {
        GrainTimer[] timers;
        lock (_gate)
        {
            if (_timers is null) return;
            timers = [.. _timers];
            _timers = null;
        }
        foreach (var t in timers) t.Dispose();
    }

    public override string ToString() => $"activation of {Id} ({_state})";
}
