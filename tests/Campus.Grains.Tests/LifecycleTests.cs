using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Campus.Grains.Storage;
using Campus.Grains.Testing;
using Campus.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Grains.Tests;

public sealed class LifecycleTests
{
    private readonly Probe _probe = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero));

    private Task<TestGrainRuntime> StartAsync(Action<IServiceCollection>? more = null) =>
        TestGrainRuntime.StartAsync(s =>
        {
            s.AddSingleton(_probe).AddGrainsFromAssembly(typeof(LifecycleTests).Assembly).AddMemoryGrainStorage("store");
            more?.Invoke(s);
        }, _time);

    private void AdvanceMinutes(int minutes)
    {
        for (var i = 0; i < minutes; i++) _time.Advance(TimeSpan.FromMinutes(1));
    }

    /// <summary>
    /// Advances the clock a minute at a time, with a moment of real time between steps, until the
    /// condition holds (at most <paramref name="maxMinutes"/>), then waits for it as usual. The caller of a
    /// grain gets its result a moment before the activation closes that turn, and the collector skips an
    /// activation whose turn is open: advancing many minutes at once right after a call can pass every
    /// collector tick while the turn is still open, and then no tick comes again.
    /// </summary>
    private async Task AdvanceUntilAsync(int maxMinutes, Func<bool> condition, string because)
    {
        for (var i = 0; i < maxMinutes && !condition(); i++)
        {
            _time.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(10);
        }
        await Poll.UntilAsync(condition, because);
    }

    [Fact]
    public async Task Idle_activation_is_deactivated_and_the_next_call_reactivates_it_with_its_persisted_state()
    {
        await using var runtime = await StartAsync();
        var key = Keys.New("dev");
        var device = runtime.GrainFactory.GetGrain<IDeviceGrain>(key);
        await device.Rename("meter");
        await device.Record(4.5);

        // The class says [CollectionAgeLimit(Minutes = 5)]: collected on the collector's tick after 6 idle minutes.
        await AdvanceUntilAsync(20, () => _probe.Deactivations.GetValueOrDefault(key) == 1, "the idle device grain was deactivated");
        await Poll.UntilAsync(() => runtime.ActivationCount == 0, "the activation left the directory");

        var snapshot = await device.Snapshot();
        Assert.Equal(2, _probe.Activations[key]);
        Assert.Equal("meter", snapshot.Name);
        Assert.Equal([4.5], snapshot.Values);
    }

    [Fact]
    public async Task A_collected_activation_lets_go_of_its_grain_object_while_a_reference_to_the_grain_is_still_held()
    {
        await using var runtime = await StartAsync();
        var key = Keys.New("bulky");
        var grain = runtime.GrainFactory.GetGrain<IBulkyGrain>(key);
        var first = await FirstActivationAsync(grain, key);

        // [CollectionAgeLimit(Minutes = 2)]: collected on the collector's tick after 3 idle minutes.
        await AdvanceUntilAsync(20, () => _probe.Deactivations.GetValueOrDefault(key) == 1, "the idle grain was deactivated");
        await Poll.UntilAsync(() => runtime.ActivationCount == 0, "the activation left the directory");

        // The reference in `grain` (used below, so still held) points at the collected activation;
        // that must not keep the grain object, its state and its timer reachable.
        await Poll.UntilAsync(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            return !first.IsAlive;
        }, "the collected activation's grain object was garbage-collected", TimeSpan.FromSeconds(10));

        // The same reference reaches a new activation, whose grain object is alive.
        Assert.Equal(2, await grain.ActivationNumber());
        var instances = _probe.Instances[key].ToArray();
        Assert.Equal(2, instances.Length);
        Assert.True(instances[1].IsAlive);
        Assert.Equal(1, _probe.Deactivations[key]);
    }

    /// <summary>Activates the grain outside the test's own frame, so no local of the test holds anything of that activation.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private async Task<WeakReference> FirstActivationAsync(IBulkyGrain grain, string key)
    {
        Assert.Equal(1, await grain.ActivationNumber());
        return Assert.Single(_probe.Instances[key]);
    }

    [Fact]
    public async Task Recently_used_activations_are_not_collected()
    {
        await using var runtime = await StartAsync();
        var idle = Keys.New("dev");
        var busy = Keys.New("dev");
        await runtime.GrainFactory.GetGrain<IDeviceGrain>(idle).Rename("idle");
        await runtime.GrainFactory.GetGrain<IDeviceGrain>(busy).Rename("busy");

        for (var minute = 0; minute < 8; minute++)
        {
            AdvanceMinutes(1);
            await runtime.GrainFactory.GetGrain<IDeviceGrain>(busy).Snapshot();
        }
        await Poll.UntilAsync(() => _probe.Deactivations.GetValueOrDefault(idle) == 1, "the idle grain was deactivated");

        Assert.False(_probe.Deactivations.ContainsKey(busy));
        Assert.Equal(1, _probe.Activations[busy]);
    }

    [Fact]
    public async Task Timer_ticks_run_as_turns_and_stop_on_deactivation()
    {
        await using var runtime = await StartAsync();
        var key = Keys.New("timer");
        var grain = runtime.GrainFactory.GetGrain<ITimerGrain>(key);
        await grain.StartTimer(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        for (var i = 1; i <= 20; i++)
        {
            var work = Task.WhenAll(grain.Work(), grain.Work());
            _time.Advance(TimeSpan.FromSeconds(1));
            await work;
            await Poll.UntilAsync(() => _probe.EventsOf(key).Length == i, $"timer tick {i} ran");
            // A call queued behind the tick's turn runs when the tick is over and its next period armed.
            await grain.Stats();
        }
        var (ticks, overlaps) = await grain.Stats();
        Assert.Equal(20, ticks);
        Assert.Equal(0, overlaps);

        await grain.Deactivate();
        await Poll.UntilAsync(() => _probe.Deactivations.GetValueOrDefault(key) == 1, "the timer grain was deactivated");
        for (var i = 0; i < 5; i++) _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(20, _probe.EventsOf(key).Length);
    }

    [Fact]
    public async Task Reminders_fire_on_the_fake_clock_and_wake_an_inactive_grain()
    {
        await using var runtime = await StartAsync();
        var key = Keys.New("alarm");
        var grain = runtime.GrainFactory.GetGrain<IAlarmGrain>(key);
        await grain.Arm("check", TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10));
        await grain.Sleep();
        await Poll.UntilAsync(() => _probe.Deactivations.GetValueOrDefault(key) == 1, "the grain went to sleep");

        AdvanceMinutes(2);
        await Poll.UntilAsync(() => _probe.EventsOf(key).Length == 1, "the first reminder tick arrived");
        Assert.Equal(2, _probe.Activations[key]);
        Assert.Equal(["check@08:02:00"], _probe.EventsOf(key));

        AdvanceMinutes(10);
        await Poll.UntilAsync(() => _probe.EventsOf(key).Length == 2, "the second reminder tick arrived");
        Assert.Equal("check@08:12:00", _probe.EventsOf(key)[1]);

        await grain.Disarm("check");
        Assert.False(await grain.HasReminder("check"));
        AdvanceMinutes(30);
        // Ticks are delivered as queued turns; a call queued after them proves none is pending.
        await grain.HasReminder("check");
        Assert.Equal(2, _probe.EventsOf(key).Length);
    }

    [Fact]
    public async Task Reminders_survive_a_restart_on_the_same_SQLite_file()
    {
        var dir = Directory.CreateTempSubdirectory("campus-grains-").FullName;
        try
        {
            var cs = $"Data Source={Path.Combine(dir, "campus.db")}";
            await RemindersSurviveRestartAsync(s => s.AddSqliteReminderTable(cs));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Reminders_survive_a_restart_on_the_same_PostgreSQL_database()
    {
        var cs = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("reminders");
        await RemindersSurviveRestartAsync(s => s.AddPostgresReminderTable(cs));
    }

    private async Task RemindersSurviveRestartAsync(Action<IServiceCollection> table)
    {
        var key = Keys.New("alarm");
        await using (var first = await StartAsync(table))
        {
            await first.GrainFactory.GetGrain<IAlarmGrain>(key).Arm("nightly", TimeSpan.FromMinutes(3), TimeSpan.FromHours(1));
        }
        Assert.Empty(_probe.EventsOf(key));

        // A new runtime: new services, new directory, same database.
        await using var second = await StartAsync(table);
        Assert.Equal(0, second.ActivationCount);
        AdvanceMinutes(3);
        await Poll.UntilAsync(() => _probe.EventsOf(key).Length == 1, "the restarted runtime fired the stored reminder");
        Assert.Equal(["nightly@08:03:00"], _probe.EventsOf(key));
        Assert.True(await second.GrainFactory.GetGrain<IAlarmGrain>(key).HasReminder("nightly"));
    }

    [Fact]
    public async Task Writers_in_two_runtimes_on_one_database_get_InconsistentStateException_instead_of_overwriting()
    {
        var dir = Directory.CreateTempSubdirectory("campus-grains-").FullName;
        try
        {
            var cs = $"Data Source={Path.Combine(dir, "campus.db")}";
            await using var a = await StartAsync(s => s.AddSqliteGrainStorage("store", cs));
            await using var b = await StartAsync(s => s.AddSqliteGrainStorage("store", cs));
            var key = Keys.New("dev");
            await a.GrainFactory.GetGrain<IDeviceGrain>(key).Rename("from a");
            await b.GrainFactory.GetGrain<IDeviceGrain>(key).Snapshot();      // b reads version 1
            await a.GrainFactory.GetGrain<IDeviceGrain>(key).Rename("a again"); // now version 2

            await Assert.ThrowsAsync<InconsistentStateException>(() => b.GrainFactory.GetGrain<IDeviceGrain>(key).Rename("from b"));
            Assert.Equal("a again", (await a.GrainFactory.GetGrain<IDeviceGrain>(key).Snapshot()).Name);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Observers_receive_notifications_until_their_reference_is_deleted()
    {
        await using var runtime = await StartAsync();
        var observer = new RecordingObserver();
        var reference = runtime.GrainFactory.CreateObjectReference<IThermometerObserver>(observer);
        var key = Keys.New("room");
        var thermometer = runtime.GrainFactory.GetGrain<IThermometerGrain>(key);
        await thermometer.Subscribe(reference);

        await thermometer.Report(21.5);
        await thermometer.Report(22.0);
        Assert.Equal([(key, 21.5), (key, 22.0)], observer.Seen);

        runtime.GrainFactory.DeleteObjectReference<IThermometerObserver>(observer);
        await Poll.UntilAsync(async () =>
        {
            await thermometer.Report(23.0);
            return await thermometer.SubscriberCount() == 0;
        }, "the deleted observer was dropped after its call failed");
        Assert.DoesNotContain(observer.Seen, s => s.Celsius == 23.0);
    }

    [Fact]
    public async Task Observer_subscriptions_expire_unless_renewed()
    {
        await using var runtime = await StartAsync();
        var renewed = runtime.GrainFactory.CreateObjectReference<IThermometerObserver>(new RecordingObserver());
        var forgotten = runtime.GrainFactory.CreateObjectReference<IThermometerObserver>(new RecordingObserver());
        var thermometer = runtime.GrainFactory.GetGrain<IThermometerGrain>(Keys.New("room"));
        await thermometer.Subscribe(renewed);
        await thermometer.Subscribe(forgotten);
        Assert.Equal(2, await thermometer.SubscriberCount());

        _time.Advance(TimeSpan.FromMinutes(3));
        await thermometer.Subscribe(renewed);
        _time.Advance(TimeSpan.FromMinutes(3));

        Assert.Equal(1, await thermometer.SubscriberCount());
    }

    [Fact]
    public async Task Stopping_the_runtime_deactivates_every_grain_and_writes_nothing_implicitly()
    {
        var dir = Directory.CreateTempSubdirectory("campus-grains-").FullName;
        try
        {
            var cs = $"Data Source={Path.Combine(dir, "campus.db")}";
            var keys = Enumerable.Range(0, 5).Select(_ => Keys.New("dev")).ToList();
            string? etag;
            await using (var runtime = await StartAsync(s => s.AddSqliteGrainStorage("store", cs)))
            {
                foreach (var k in keys) await runtime.GrainFactory.GetGrain<IDeviceGrain>(k).Rename(k);
                etag = await runtime.GrainFactory.GetGrain<IDeviceGrain>(keys[0]).Etag();
                await runtime.StopAsync();
                Assert.Equal(0, runtime.ActivationCount);
            }
            Assert.All(keys, k => Assert.Equal(1, _probe.Deactivations[k]));

            var state = new GrainState<DeviceState>(new DeviceState());
            await new SqliteGrainStorage(cs, new GrainStorageOptions()).ReadStateAsync("device", new GrainId("device", keys[0]), state);
            Assert.Equal(etag, state.ETag);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task Calls_and_activations_are_reported_on_the_Campus_Grains_meter()
    {
        long calls = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Campus.Grains" && instrument.Name == "campus.grains.calls") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref calls, value));
        listener.Start();

        await using var runtime = await StartAsync();
        var counter = runtime.GrainFactory.GetGrain<ICounterGrain>(Keys.New("counter"));
        for (var i = 0; i < 10; i++) await counter.Add(1);

        Assert.True(Interlocked.Read(ref calls) >= 10, $"counted {calls} calls");
    }

    [Fact]
    public async Task Calls_queued_behind_DeactivateOnIdle_run_on_a_fresh_activation()
    {
        await using var runtime = await StartAsync();
        var key = Keys.New("sleepy");
        var grain = runtime.GrainFactory.GetGrain<ISleepyGrain>(key);
        Assert.Equal(1, await grain.ActivationNumber());

        var sleeping = grain.SleepAfter(TimeSpan.FromMilliseconds(50));
        var queued = Enumerable.Range(0, 5).Select(_ => grain.ActivationNumber()).ToArray();
        await sleeping;

        Assert.All(await Task.WhenAll(queued), n => Assert.Equal(2, n));
        Assert.Equal(1, _probe.Deactivations[key]);
    }

    [Fact]
    public async Task Calls_racing_with_deactivation_through_held_references_all_reach_an_activation()
    {
        await using var runtime = await StartAsync();
        var key = Keys.New("sleepy");
        var grain = runtime.GrainFactory.GetGrain<ISleepyGrain>(key);
        Assert.Equal(1, await grain.ActivationNumber());

        // Callers on pool threads share one reference (which caches the activation) while another
        // keeps deactivating the grain: each call runs inline, is queued, or follows the grain to its next activation.
        using var stop = new CancellationTokenSource();
        var deactivationsAsked = 0;
        var sleeper = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await grain.SleepAfter(TimeSpan.Zero);
                Interlocked.Increment(ref deactivationsAsked);
            }
        });
        // Each caller makes 2,000 calls, and goes on until the grain was deactivated at least three times
        // (on a busy machine the calls can all be done before the other thread's second deactivation).
        var deadline = Stopwatch.StartNew();
        var callers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var seen = new List<int>();
            for (var i = 0; i < 2000 || (Volatile.Read(ref deactivationsAsked) < 3 && deadline.Elapsed < Poll.DefaultTimeout); i++)
                seen.Add(await grain.ActivationNumber());
            return seen;
        })).ToArray();
        var results = await Task.WhenAll(callers);
        await stop.CancelAsync();
        await sleeper;

        // Activations are numbered in order and only one lives at a time: a caller never goes back to an old one.
        Assert.All(results, seen => Assert.Equal(seen.Order(), seen));
        var last = await grain.ActivationNumber();
        Assert.True(last > 2, $"only {last} activations");
        Assert.Equal(last, _probe.Activations[key]);
        Assert.Equal(last - 1, _probe.Deactivations[key]);
    }

    [Fact]
    public async Task DelayDeactivation_keeps_an_idle_grain_alive_past_its_collection_age()
    {
        await using var runtime = await StartAsync();
        var kept = Keys.New("sleepy");
        var plain = Keys.New("sleepy");
        await runtime.GrainFactory.GetGrain<ISleepyGrain>(kept).KeepAwake(TimeSpan.FromMinutes(40));
        await runtime.GrainFactory.GetGrain<ISleepyGrain>(plain).ActivationNumber();

        // Default collection age 15 minutes; at most 30 minutes pass, well before the kept grain's 40.
        await AdvanceUntilAsync(30, () => _probe.Deactivations.GetValueOrDefault(plain) == 1, "the plain grain was collected");
        Assert.False(_probe.Deactivations.ContainsKey(kept));

        AdvanceMinutes(25);
        await Poll.UntilAsync(() => _probe.Deactivations.GetValueOrDefault(kept) == 1, "the kept grain was collected after its delay");
    }

    [Fact]
    public async Task Calling_a_stopped_runtime_fails_with_a_clear_message()
    {
        var runtime = await StartAsync();
        var grain = runtime.GrainFactory.GetGrain<ISleepyGrain>(Keys.New("sleepy"));
        await runtime.DisposeAsync();

        var ex = await Assert.ThrowsAsync<GrainRuntimeStoppedException>(() => grain.ActivationNumber());
        Assert.Contains("stopp", ex.Message, StringComparison.Ordinal);
    }
}
