using System.Collections.Concurrent;
using Campus.Grains.Testing;
using Microsoft.Extensions.Logging;

namespace Campus.Grains.Tests;

public interface IOneWayGrain : IGrainWithStringKey
{
    /// <summary>Appends once the gate is open (the first call of a key finds it shut).</summary>
    [OneWay] Task AppendAfterGate(string item);
    [OneWay] Task Append(string item);
    [OneWay] ValueTask AppendValue(string item);
    [OneWay] Task Fail(string message);
    [AlwaysInterleave] Task OpenGate();
    Task<string[]> Items();
}

public sealed class OneWayGrain : Grain, IOneWayGrain
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _items = [];

    public async Task AppendAfterGate(string item)
    {
        await _gate.Task;
        _items.Add(item);
    }

    public Task Append(string item)
    {
        _items.Add(item);
        return Task.CompletedTask;
    }

    public ValueTask AppendValue(string item)
    {
        _items.Add(item);
        return ValueTask.CompletedTask;
    }

    public async Task Fail(string message)
    {
        await Task.Yield();
        throw new InvalidOperationException(message);
    }

    public Task OpenGate()
    {
        _gate.TrySetResult();
        return Task.CompletedTask;
    }

    public Task<string[]> Items() => Task.FromResult(_items.ToArray());
}

public interface IOneWayRelayGrain : IGrainWithStringKey
{
    /// <summary>Sends the item one way to the target and returns without waiting for it.</summary>
    Task<string> Forward(string target, string item);
}

public sealed class OneWayRelayGrain : Grain, IOneWayRelayGrain
{
    public async Task<string> Forward(string target, string item)
    {
        await GrainFactory.GetGrain<IOneWayGrain>(target).AppendAfterGate(item);
        return "forwarded";
    }
}

public sealed class OneWayTests : IAsyncLifetime
{
    private readonly LogCapture _logs = new();
    private TestGrainRuntime _runtime = null!;
    private IGrainFactory Grains => _runtime.GrainFactory;

    public async Task InitializeAsync() =>
        _runtime = await TestGrainRuntime.StartAsync(s => s.AddSingleton<ILoggerProvider>(_logs).AddGrain<OneWayGrain>().AddGrain<OneWayRelayGrain>());

    public async Task DisposeAsync() => await _runtime.DisposeAsync();

    [Fact]
    public async Task A_one_way_call_returns_while_the_grain_still_works_and_runs_in_order_with_the_callers_later_calls()
    {
        var grain = Grains.GetGrain<IOneWayGrain>(Keys.New("ow"));

        var first = grain.AppendAfterGate("a");
        Assert.True(first.IsCompletedSuccessfully);     // the grain is still waiting at its gate
        await grain.Append("b");
        await grain.AppendValue("c");
        var items = grain.Items();
        await Task.Delay(50);
        Assert.False(items.IsCompleted);                  // queued behind the one-way calls

        await grain.OpenGate();
        Assert.Equal(["a", "b", "c"], await items.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_grain_that_calls_one_way_ends_its_turn_without_waiting_for_the_callee()
    {
        var target = Keys.New("ow-target");
        var relay = Grains.GetGrain<IOneWayRelayGrain>(Keys.New("ow-relay"));

        Assert.Equal("forwarded", await relay.Forward(target, "x").WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("forwarded", await relay.Forward(target, "y").WaitAsync(TimeSpan.FromSeconds(10)));

        var grain = Grains.GetGrain<IOneWayGrain>(target);
        var items = grain.Items();
        await grain.OpenGate();
        Assert.Equal(["x", "y"], await items.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_failing_one_way_call_is_logged_with_its_method_and_grain_and_never_reaches_the_caller()
    {
        var key = Keys.New("ow-fail");
        var grain = Grains.GetGrain<IOneWayGrain>(key);
        await grain.OpenGate();

        var call = grain.Fail("broken on purpose");
        Assert.True(call.IsCompletedSuccessfully);
        await grain.Append("after");
        Assert.Equal(["after"], await grain.Items());

        var entry = await _logs.WaitForAsync(e => e.Exception?.Message == "broken on purpose", TimeSpan.FromSeconds(10));
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Contains("IOneWayGrain.Fail", entry.Message, StringComparison.Ordinal);
        Assert.Contains(key, entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Many_one_way_calls_from_many_threads_each_arrive_once()
    {
        var grain = Grains.GetGrain<IOneWayGrain>(Keys.New("ow-many"));
        await grain.OpenGate();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++) await grain.Append($"{t}:{i}");
        })));

        var items = await grain.Items();
        Assert.Equal(4_000, items.Length);
        Assert.Equal(4_000, items.Distinct().Count());
        // Each caller's calls arrive in the order it made them.
        foreach (var t in Enumerable.Range(0, 8))
            Assert.Equal(Enumerable.Range(0, 500).Select(i => $"{t}:{i}"), items.Where(s => s.StartsWith($"{t}:", StringComparison.Ordinal)));
    }

    private sealed class LogCapture : ILoggerProvider
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> _entries = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public async Task<(LogLevel Level, string Message, Exception? Exception)> WaitForAsync(
            Func<(LogLevel Level, string Message, Exception? Exception), bool> match, TimeSpan timeout)
        {
            var until = DateTime.UtcNow + timeout;
            while (true)
            {
                foreach (var e in _entries)
                    if (match(e)) return e;
                if (DateTime.UtcNow > until) throw new TimeoutException("No matching log entry; logged: " + string.Join(" | ", _entries.Select(e => e.Message)));
                await Task.Delay(10);
            }
        }

        public void Dispose()
        {
        }

        private sealed class Logger(LogCapture owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner._entries.Enqueue((logLevel, formatter(state, exception), exception));
        }
    }
}
