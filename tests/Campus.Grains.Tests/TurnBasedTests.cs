using Campus.Grains.Testing;

namespace Campus.Grains.Tests;

public sealed class TurnBasedTests(RuntimeFixture fixture) : IClassFixture<RuntimeFixture>
{
    private IGrainFactory Grains => fixture.Grains;

    [Fact]
    public async Task Concurrent_first_calls_create_exactly_one_activation()
    {
        var key = Keys.New("counter");
        var calls = Enumerable.Range(0, 200)
            .Select(_ => Task.Run(async () => await Grains.GetGrain<ICounterGrain>(key).Add(1)))
            .ToArray();
        var results = await Task.WhenAll(calls);

        Assert.Equal(1, fixture.Probe.Activations[key]);
        Assert.Equal(200, await Grains.GetGrain<ICounterGrain>(key).Get());
        // Every call saw a distinct running total: no update was lost or doubled.
        Assert.Equal(Enumerable.Range(1, 200), results.Order());
    }

    [Fact]
    public async Task Calls_run_one_at_a_time_in_arrival_order()
    {
        var grain = Grains.GetGrain<ITurnGrain>(Keys.New("turns"));
        var calls = new List<Task>();
        for (var i = 0; i < 40; i++) calls.Add(grain.Record(i));
        await Task.WhenAll(calls);

        Assert.Equal(Enumerable.Range(0, 40), await grain.Seen());
        Assert.Equal(1, await grain.MaxConcurrentTurns());
    }

    [Fact]
    public async Task Turns_never_overlap_under_many_concurrent_callers()
    {
        var grain = Grains.GetGrain<ITurnGrain>(Keys.New("turns"));
        await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(() => grain.Record(i))));

        Assert.Equal(100, (await grain.Seen()).Distinct().Count());
        Assert.Equal(1, await grain.MaxConcurrentTurns());
    }

    [Fact]
    public async Task Non_reentrant_grain_queues_calls_behind_an_awaiting_turn_but_AlwaysInterleave_methods_pass()
    {
        var grain = Grains.GetGrain<IGateGrain>(Keys.New("gate"));
        var waiting = grain.WaitForOpen();
        var open = grain.Open();

        Assert.Equal("pong", await grain.Ping());
        // Open cannot have run: it is queued behind WaitForOpen, which only Open or Release can end.
        Assert.False(open.IsCompleted);
        Assert.False(waiting.IsCompleted);

        await grain.Release();
        Assert.Equal("opened", await waiting);
        await open;
    }

    [Fact]
    public async Task Reentrant_grain_interleaves_at_await_points_without_running_in_parallel()
    {
        var grain = Grains.GetGrain<IReentrantGateGrain>(Keys.New("reentrant"));
        var waiting = grain.WaitForOpen();
        await grain.Open();   // would never complete on a non-reentrant grain

        Assert.Equal("opened", await waiting);
    }

    [Fact]
    public async Task Reentrant_grain_never_runs_two_pieces_of_grain_code_in_parallel()
    {
        var grain = Grains.GetGrain<IReentrantGateGrain>(Keys.New("reentrant"));
        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => grain.Spin(5))));

        Assert.Equal(1, await grain.MaxConcurrentSegments());
    }

    [Fact]
    public async Task Grain_to_grain_calls_work_when_they_do_not_form_a_cycle()
    {
        var a = Grains.GetGrain<IPingPongGrain>(Keys.New("pp"));
        var bKey = Keys.New("pp");

        Assert.Equal(bKey, await a.Ping(bKey, 1));
    }

    [Fact]
    public async Task A_call_cycle_between_non_reentrant_grains_ends_with_a_TimeoutException_naming_grain_and_method()
    {
        await using var runtime = await TestGrainRuntime.StartAsync(
            s => s.AddGrain<PingPongGrain>(),
            options: o => o.ResponseTimeout = TimeSpan.FromMilliseconds(300));
        var aKey = Keys.New("a");
        var a = runtime.GrainFactory.GetGrain<IPingPongGrain>(aKey);

        var ex = await Assert.ThrowsAsync<TimeoutException>(() => a.Ping(Keys.New("b"), 2));

        Assert.Contains("pingpong/" + aKey, ex.Message, StringComparison.Ordinal);
        Assert.Contains("IPingPongGrain.Ping", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_a_call_cycle_the_callers_own_call_times_out_first_even_when_its_grain_was_busy_after_calling()
    {
        // The caller's grain runs inline on the caller's thread, calls b, and is then busy for a while
        // before it awaits. The caller's response clock must have started before b's: when b's call
        // expires, the caller's has expired too, and the caller gets its own timeout (naming a), not
        // b's timeout passed back through a's code.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero));
        var timeout = TimeSpan.FromSeconds(1);
        await using var runtime = await TestGrainRuntime.StartAsync(s => s.AddGrain<SlowCallerGrain>(), time, o => o.ResponseTimeout = timeout);
        var aKey = Keys.New("a");
        var a = runtime.GrainFactory.GetGrain<ISlowCallerGrain>(aKey);
        Assert.Equal(aKey, await a.Ping("unused", 0)); // active and idle: the next call runs inline
        var call = a.Ping(Keys.New("b"), 2);
        Assert.False(call.IsCompleted);
        await Task.Delay(100); // b runs and calls back into a, which is busy: the cycle

        // Past the deadline of a's call to b (made at the start), before start + Busy + timeout.
        time.Advance(timeout - SlowCallerGrain.Busy + TimeSpan.FromMilliseconds(50));
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Contains("slowcaller/" + aKey, ex.Message, StringComparison.Ordinal);
        Assert.Contains("ISlowCallerGrain.Ping", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exceptions_thrown_by_grain_code_reach_the_caller_and_the_grain_keeps_working()
    {
        var grain = Grains.GetGrain<ICounterGrain>(Keys.New("counter"));
        await grain.Add(5);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.Slow(TimeSpan.FromMilliseconds(-5)));
        Assert.Equal(6, await grain.Add(1));
    }

    [Fact]
    public async Task Every_supported_return_shape_round_trips_through_a_generated_reference()
    {
        var grain = Grains.GetGrain<ICounterGrain>(Keys.New("counter"));
        Assert.Equal(3, await grain.Add(3));                          // ValueTask<T>
        Assert.Equal(3, await grain.Get());                           // Task<T>
        await grain.Slow(TimeSpan.FromMilliseconds(1));               // Task
        await grain.Reset();                                          // ValueTask, completing after an await
        Assert.Equal(0, await grain.Get());
    }

    [Fact]
    public async Task A_call_that_never_answers_times_out_and_the_grain_serves_again_once_it_finishes()
    {
        await using var runtime = await TestGrainRuntime.StartAsync(
            s => s.AddGrain<NonReentrantGateGrain>(),
            options: o => o.ResponseTimeout = TimeSpan.FromMilliseconds(300));
        var gate = runtime.GrainFactory.GetGrain<IGateGrain>(Keys.New("gate"));

        var ex = await Assert.ThrowsAsync<TimeoutException>(() => gate.WaitForOpen());
        Assert.Contains("IGateGrain.WaitForOpen", ex.Message, StringComparison.Ordinal);

        await gate.Release();            // [AlwaysInterleave]: ends the stuck turn
        await gate.Open();               // a normal call runs again
    }

    [Fact]
    public void GetGrain_for_an_unregistered_interface_says_how_to_register_it()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Grains.GetGrain<IUnregisteredGrain>("x"));
        Assert.Contains("AddGrain", ex.Message, StringComparison.Ordinal);
    }
}

public interface IUnregisteredGrain : IGrainWithStringKey
{
    Task Nothing();
}
