using System.Collections.Concurrent;
using Campus.Grains.Storage;

namespace Campus.Grains.Tests;

// Grains used by the tests. Each test uses its own keys; shared counters are keyed by grain key.

public interface ICounterGrain : IGrainWithStringKey
{
    ValueTask<int> Add(int amount);
    Task<int> Get();
    Task Slow(TimeSpan delay);
    ValueTask Reset();
}

/// <summary>Records what happened to activations, per grain key, so tests can look from outside.</summary>
public sealed class Probe
{
    public ConcurrentDictionary<string, int> Activations { get; } = new();
    public ConcurrentDictionary<string, int> Deactivations { get; } = new();
    public ConcurrentDictionary<string, ConcurrentQueue<string>> Events { get; } = new();

    public void Log(string key, string what) => Events.GetOrAdd(key, _ => new ConcurrentQueue<string>()).Enqueue(what);
    public string[] EventsOf(string key) => Events.TryGetValue(key, out var q) ? q.ToArray() : [];

    /// <summary>Grain objects by key, held weakly: whether the runtime still keeps them is for the test to see.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<WeakReference>> Instances { get; } = new();

    public void Track(string key, object instance) => Instances.GetOrAdd(key, _ => new ConcurrentQueue<WeakReference>()).Enqueue(new WeakReference(instance));
}

public sealed class CounterGrain(Probe probe) : Grain, ICounterGrain
{
    private int _value;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        probe.Activations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        await Task.Yield(); // a real await, so concurrent first calls overlap with activation
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Deactivations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        probe.Log(this.GetPrimaryKeyString(), "deactivated:" + reason.ReasonCode);
        return Task.CompletedTask;
    }

    public ValueTask<int> Add(int amount) => ValueTask.FromResult(_value += amount);
    public Task<int> Get() => Task.FromResult(_value);
    public Task Slow(TimeSpan delay) => Task.Delay(delay);

    public async ValueTask Reset()
    {
        await Task.Yield();
        _value = 0;
    }
}

public interface ITurnGrain : IGrainWithStringKey
{
    Task Record(int sequence);
    Task<IReadOnlyList<int>> Seen();
    Task<int> MaxConcurrentTurns();
}

/// <summary>Counts turns that overlap: must stay at one for a non-reentrant grain.</summary>
public sealed class TurnGrain : Grain, ITurnGrain
{
    private readonly List<int> _seen = [];
    private int _inside;
    private int _maxInside;

    public async Task Record(int sequence)
    {
        var now = Interlocked.Increment(ref _inside);
        _maxInside = Math.Max(_maxInside, now);
        _seen.Add(sequence);
        await Task.Yield();
        await Task.Delay(1);
        Interlocked.Decrement(ref _inside);
    }

    public Task<IReadOnlyList<int>> Seen() => Task.FromResult<IReadOnlyList<int>>(_seen.ToArray());
    public Task<int> MaxConcurrentTurns() => Task.FromResult(_maxInside);
}

public interface IGateGrain : IGrainWithStringKey
{
    /// <summary>Waits until Open is called (on a reentrant grain the two interleave).</summary>
    Task<string> WaitForOpen();
    Task Open();
    [AlwaysInterleave] Task<string> Ping();
    [AlwaysInterleave] Task Release();
}

public sealed class NonReentrantGateGrain : Grain, IGateGrain
{
    private readonly TaskCompletionSource _open = new();
    public async Task<string> WaitForOpen() { await _open.Task; return "opened"; }
    public Task Open() { _open.TrySetResult(); return Task.CompletedTask; }
    public Task<string> Ping() => Task.FromResult("pong");
    public Task Release() { _open.TrySetResult(); return Task.CompletedTask; }
}

public interface IReentrantGateGrain : IGrainWithStringKey
{
    Task<string> WaitForOpen();
    Task Open();
    Task Spin(int segments);
    Task<int> MaxConcurrentSegments();
}

/// <summary>Requests interleave at awaits; the synchronous pieces between awaits must never overlap.</summary>
[Reentrant]
public sealed class ReentrantGateGrain : Grain, IReentrantGateGrain
{
    private readonly TaskCompletionSource _open = new();
    private int _inside;
    private int _max;

    public async Task<string> WaitForOpen()
    {
        Segment();
        await _open.Task;
        Segment();
        return "opened";
    }

    public Task Open()
    {
        Segment();
        _open.TrySetResult();
        return Task.CompletedTask;
    }

    public async Task Spin(int segments)
    {
        for (var i = 0; i < segments; i++)
        {
            Segment();
            await Task.Yield();
        }
    }

    public Task<int> MaxConcurrentSegments() => Task.FromResult(_max);

    private void Segment()
    {
        _max = Math.Max(_max, Interlocked.Increment(ref _inside));
        Thread.SpinWait(200);
        Interlocked.Decrement(ref _inside);
    }
}

public interface IPingPongGrain : IGrainWithStringKey
{
    Task<string> Ping(string other, int depth);
}

public sealed class PingPongGrain : Grain, IPingPongGrain
{
    public async Task<string> Ping(string other, int depth)
    {
        if (depth == 0) return this.GetPrimaryKeyString();
        return await GrainFactory.GetGrain<IPingPongGrain>(other).Ping(this.GetPrimaryKeyString(), depth - 1);
    }
}

public interface ISlowCallerGrain : IGrainWithStringKey
{
    Task<string> Ping(string other, int depth);
}

/// <summary>Like <see cref="PingPongGrain"/>, but the first caller is busy for <see cref="Busy"/> of (fake) time after making its call.</summary>
public sealed class SlowCallerGrain(TimeProvider time) : Grain, ISlowCallerGrain
{
    public static readonly TimeSpan Busy = TimeSpan.FromMilliseconds(100);

    public async Task<string> Ping(string other, int depth)
    {
        if (depth == 0) return this.GetPrimaryKeyString();
        var answer = GrainFactory.GetGrain<ISlowCallerGrain>(other).Ping(this.GetPrimaryKeyString(), depth - 1);
        if (depth == 2) ((Microsoft.Extensions.Time.Testing.FakeTimeProvider)time).Advance(Busy);
        return await answer;
    }
}

public sealed class DeviceState
{
    public string Name { get; set; } = "";
    public int Readings { get; set; }
    public List<double> Values { get; set; } = [];
}

public interface IDeviceGrain : IGrainWithStringKey
{
    Task Rename(string name);
    Task Record(double value);
    Task<DeviceState> Snapshot();
    Task<string?> Etag();
    Task Forget();
}

[CollectionAgeLimit(Minutes = 5)]
public sealed class DeviceGrain(
    [PersistentState("device", "store")] IPersistentState<DeviceState> state,
    Probe probe) : Grain, IDeviceGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        probe.Activations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Deactivations.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public async Task Rename(string name)
    {
        state.State.Name = name;
        await state.WriteStateAsync();
    }

    public async Task Record(double value)
    {
        state.State.Readings++;
        state.State.Values.Add(value);
        await state.WriteStateAsync();
    }

    public Task<DeviceState> Snapshot() => Task.FromResult(new DeviceState
    {
        Name = state.State.Name,
        Readings = state.State.Readings,
        Values = [.. state.State.Values],
    });

    public Task<string?> Etag() => Task.FromResult(state.Etag);

    public Task Forget() => state.ClearStateAsync();
}
