using Campus.Controller.History;
using Campus.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Controller.Tests.History;

/// <summary>Behaviour of the shared writer and the hosted service, on the in-memory store.</summary>
public sealed class HistoryStoreBehaviourTests
{
    private static readonly DateTimeOffset Epoch = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);

    private static TelemetryRecord Reading(uint seq, DateTimeOffset at) => new()
    {
        SchoolId = "s01", RoomId = "r1", DeviceId = "m1", Kind = "energy", Boot = 1, Seq = seq, ReceivedAt = at, EnergyKwh = seq,
    };

    [Fact]
    public async Task A_full_queue_makes_appenders_wait_and_reports_a_backlog_until_the_writer_catches_up()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var store = new InMemoryHistoryStore(new HistoryOptions { QueueCapacity = 4, MaxBatchSize = 1 })
        {
            BeforeCommit = () =>
            {
                entered.TrySetResult();
                return release.Task;
            },
        };
        await store.InitializeAsync();

        var first = store.AppendAsync(Reading(1, Epoch)).AsTask();
        await entered.Task; // the writer holds the first write in its (slow) commit
        var queued = Enumerable.Range(2, 4).Select(i => store.AppendAsync(Reading((uint)i, Epoch)).AsTask()).ToList();
        var waiting = Enumerable.Range(6, 3).Select(i => store.AppendAsync(Reading((uint)i, Epoch)).AsTask()).ToList();

        Assert.All(queued.Concat(waiting).Append(first), t => Assert.False(t.IsCompleted));
        var health = store.Health;
        Assert.Equal(HistoryHealthStatus.Degraded, health.Status);
        Assert.Equal(4, health.QueueLength);
        Assert.Contains("backlog", health.Reason, StringComparison.Ordinal);

        release.SetResult();
        var results = await Task.WhenAll(queued.Concat(waiting).Append(first));
        Assert.All(results, r => Assert.Equal(AppendResult.Inserted, r));
        Assert.True(store.Health.IsHealthy);
        Assert.Equal(8, (await store.GetTelemetryAsync(new TelemetryQuery("s01", "m1", Epoch, Epoch.AddDays(1)))).Items.Count);
    }

    /// <summary>An in-memory store whose commits can be held: while armed, the next commit waits for release.</summary>
    private sealed class HeldCommits
    {
        private TaskCompletionSource? _entered;
        private TaskCompletionSource? _release;
        public int Commits;

        public InMemoryHistoryStore Store { get; }

        public HeldCommits(HistoryOptions options) =>
            Store = new InMemoryHistoryStore(options) { BeforeCommit = BeforeCommit };

        private Task BeforeCommit()
        {
            Interlocked.Increment(ref Commits);
            var release = Interlocked.Exchange(ref _release, null);
            if (release is null) return Task.CompletedTask;
            _entered!.TrySetResult();
            return release.Task;
        }

        /// <summary>Has the writer commit one write alone and hold it; returns what ends the hold.</summary>
        public async Task<TaskCompletionSource> HoldLoneWriteAsync(uint seq)
        {
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _release = release;
            _ = Store.AppendAsync(Reading(seq, Epoch)).AsTask();
            await _entered.Task;
            return release;
        }
    }

    [Fact]
    public async Task With_a_commit_delay_a_write_that_comes_while_a_small_batch_waits_joins_its_transaction()
    {
        var held = new HeldCommits(new HistoryOptions { CommitDelay = TimeSpan.FromSeconds(1) });
        await using var store = held.Store;
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var endWait = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.CommitDelayWait = () =>
        {
            waiting.TrySetResult();
            return endWait.Task;
        };
        await store.InitializeAsync();

        var release = await held.HoldLoneWriteAsync(1); // a lone write does not wait
        Assert.Equal(0, store.CommitDelays);
        var second = store.AppendAsync(Reading(2, Epoch)).AsTask();
        var third = store.AppendAsync(Reading(3, Epoch)).AsTask();
        release.SetResult();
        await waiting.Task.WaitAsync(Poll.DefaultTimeout); // the writer took the two and waits for more
        var fourth = store.AppendAsync(Reading(4, Epoch)).AsTask();
        endWait.SetResult();

        Assert.All(await Task.WhenAll(second, third, fourth), r => Assert.Equal(AppendResult.Inserted, r));
        Assert.Equal(2, Volatile.Read(ref held.Commits)); // the first write; then the second, third and fourth together
        Assert.Equal(1, store.CommitDelays);
    }

    [Fact]
    public async Task A_commit_delay_that_brings_no_write_is_skipped_for_the_next_small_batches()
    {
        var held = new HeldCommits(new HistoryOptions { CommitDelay = TimeSpan.FromSeconds(1) });
        await using var store = held.Store;
        store.CommitDelayWait = () => Task.CompletedTask; // nobody else writes while the writer waits
        await store.InitializeAsync();
        uint seq = 0;

        async Task SmallBatchAsync()
        {
            var release = await held.HoldLoneWriteAsync(++seq);
            var pair = new[] { store.AppendAsync(Reading(++seq, Epoch)).AsTask(), store.AppendAsync(Reading(++seq, Epoch)).AsTask() };
            release.SetResult();
            await Task.WhenAll(pair);
        }

        await SmallBatchAsync();
        Assert.Equal(1, store.CommitDelays); // waited, and nothing came
        await SmallBatchAsync();
        Assert.Equal(1, store.CommitDelays); // so the next small batch commits at once
        await SmallBatchAsync();
        Assert.Equal(2, store.CommitDelays); // then it tries again, and nothing came again
        await SmallBatchAsync();
        await SmallBatchAsync();
        Assert.Equal(2, store.CommitDelays); // now two small batches commit at once
        await SmallBatchAsync();
        Assert.Equal(3, store.CommitDelays);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1001)]
    public void A_commit_delay_below_zero_or_above_a_second_is_refused(int milliseconds)
    {
        var ex = Assert.Throws<ArgumentException>(() => new InMemoryHistoryStore(new HistoryOptions { CommitDelay = TimeSpan.FromMilliseconds(milliseconds) }));
        Assert.Contains("CommitDelay", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Using_a_store_before_InitializeAsync_is_a_clear_error()
    {
        await using var store = new InMemoryHistoryStore(new HistoryOptions());
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => store.AppendAsync(Reading(1, Epoch)).AsTask());
        Assert.Contains("InitializeAsync", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Appends_with_missing_identifiers_are_rejected_before_they_are_queued()
    {
        await using var store = new InMemoryHistoryStore(new HistoryOptions());
        await store.InitializeAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAsync(Reading(1, Epoch) with { DeviceId = "" }).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAccessAsync(new AccessLogEntry { SchoolId = "s01", RoomId = "g", DoorId = "d1", EventType = "access", OccurredAt = Epoch, Boot = 1 }).AsTask());
        Assert.Throws<ArgumentException>(() => new SchoolProfile("s01", "Mars/Olympus_Mons", SchoolProfile.WeekdaysSevenToSix));
    }

    [Fact]
    public async Task The_hosted_service_initializes_the_store_and_purges_every_interval()
    {
        var time = new FakeTimeProvider(Epoch);
        var options = new HistoryOptions();
        options.Retention.Telemetry = TimeSpan.FromDays(90);
        options.Retention.Interval = TimeSpan.FromHours(1);
        await using var store = new InMemoryHistoryStore(options, time);
        var service = new HistoryHostedService(store, Options.Create(options), time, NullLogger<HistoryHostedService>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            await store.AppendAsync(Reading(1, Epoch.AddDays(-91)));
            await store.AppendAsync(Reading(2, Epoch.AddDays(-1)));
            async Task<int> Rows() => (await store.GetTelemetryAsync(new TelemetryQuery("s01", "m1", Epoch.AddDays(-100), Epoch))).Items.Count;
            Assert.Equal(2, await Rows());

            time.Advance(TimeSpan.FromHours(1));
            await Poll.UntilAsync(async () => await Rows() == 1, "the hourly purge removed the 91-day-old row");
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_storage_down_at_start_leaves_the_host_running_degraded_and_the_store_starts_when_it_returns()
    {
        var time = new FakeTimeProvider(Epoch);
        var options = new HistoryOptions();
        await using var store = new InMemoryHistoryStore(options, time) { SimulatedOutage = "database not reachable" };
        var service = new HistoryHostedService(store, Options.Create(options), time, NullLogger<HistoryHostedService>.Instance);
        await service.StartAsync(CancellationToken.None); // does not throw: the host starts
        try
        {
            Assert.Equal(HistoryHealthStatus.Degraded, (await store.CheckHealthAsync()).Status);
            Assert.Contains("database not reachable", store.Health.Reason, StringComparison.Ordinal);
            var ex = await Assert.ThrowsAsync<StorageUnavailableException>(() => store.AppendAsync(Reading(1, Epoch)).AsTask());
            Assert.Contains("not ready", ex.Message, StringComparison.Ordinal);

            store.SimulatedOutage = null;
            await Poll.UntilAsync(() =>
            {
                time.Advance(HistoryHostedService.StartRetryInterval);
                return store.Health.IsHealthy;
            }, "the service retried the start once the storage was back");
            Assert.Equal(AppendResult.Inserted, await store.AppendAsync(Reading(1, Epoch)));
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }
}
