using Campus.Grains.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Campus.Grains.Reminders;

/// <summary>
/// Loads the reminder table at start, keeps one timer per reminder and delivers each tick to the
/// grain as a turn (activating it when needed).
/// </summary>
internal sealed class ReminderService(GrainRuntime runtime, IServiceProvider services)
{
    private readonly IReminderTable? _table = services.GetService<IReminderTable>();
    private readonly Dictionary<(GrainId, string), LocalReminder> _local = new();
    private readonly Lock _gate = new();
    private bool _running;

    private GrainRuntime Runtime => runtime;

    private IReminderTable Table => _table ?? throw new InvalidOperationException(
        "No reminder table is registered; add AddMemoryReminderTable(), AddSqliteReminderTable(...) or AddPostgresReminderTable(...).");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate) _running = true;
        if (_table is null) return;
        var rows = await _table.ReadAllRowsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var row in rows) Schedule(row);
        runtime.Log.LogInformation("Reminder service started with {Count} reminders", rows.Count);
    }

    public Task StopAsync()
    {
        lock (_gate)
        {
            _running = false;
            foreach (var r in _local.Values) r.Dispose();
            _local.Clear();
        }
        return Task.CompletedTask;
    }

    public async Task<IGrainReminder> RegisterOrUpdateAsync(GrainId grainId, string name, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (dueTime < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(dueTime), dueTime, "dueTime must be zero or positive.");
        if (period <= TimeSpan.Zero || period == Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(period), period, "A reminder period must be positive and finite.");
        var entry = new ReminderEntry
        {
            GrainId = grainId,
            ReminderName = name,
            StartAt = runtime.Time.GetUtcNow().UtcDateTime + dueTime,
            Period = period,
        };
        var etag = await Table.UpsertRowAsync(entry).ConfigureAwait(false);
        entry = entry with { ETag = etag };
        Schedule(entry);
        return new GrainReminder(name);
    }

    public async Task UnregisterAsync(GrainId grainId, string name)
    {
        lock (_gate)
        {
            if (_local.Remove((grainId, name), out var local)) local.Dispose();
        }
        var row = await Table.ReadRowAsync(grainId, name).ConfigureAwait(false);
        if (row?.ETag is { } etag) await Table.RemoveRowAsync(grainId, name, etag).ConfigureAwait(false);
    }

    public async Task<IGrainReminder?> GetAsync(GrainId grainId, string name)
    {
        var row = await Table.ReadRowAsync(grainId, name).ConfigureAwait(false);
        return row is null ? null : new GrainReminder(row.ReminderName);
    }

    public async Task<IReadOnlyList<IGrainReminder>> GetAllAsync(GrainId grainId)
    {
        var rows = await Table.ReadRowsAsync(grainId).ConfigureAwait(false);
        return rows.Select(r => (IGrainReminder)new GrainReminder(r.ReminderName)).ToList();
    }

    private void Schedule(ReminderEntry entry)
    {
        lock (_gate)
        {
            if (!_running) return;
            if (_local.Remove((entry.GrainId, entry.ReminderName), out var old)) old.Dispose();
            var local = new LocalReminder(this, entry);
            _local[(entry.GrainId, entry.ReminderName)] = local;
            local.ArmNext(runtime.Time.GetUtcNow().UtcDateTime);
        }
    }

    private void Deliver(LocalReminder local, DateTime tick)
    {
        var entry = local.Entry;
        lock (_gate)
        {
            if (!_running || !_local.TryGetValue((entry.GrainId, entry.ReminderName), out var current) || current != local) return;
        }
        var grainClass = runtime.ClassForGrainType(entry.GrainId.Type);
        if (grainClass is null || !typeof(IRemindable).IsAssignableFrom(grainClass.GrainClass))
        {
            runtime.Log.LogWarning("Reminder {Reminder} of {GrainId} fired, but no remindable grain class has that grain type", entry.ReminderName, entry.GrainId);
            return;
        }
        if (!runtime.IsRunning) return;
        try
        {
            var activation = runtime.GetOrCreateActivation(entry.GrainId, grainClass);
            runtime.Dispatch(new ReminderTick(entry.ReminderName, new TickStatus(entry.StartAt, entry.Period, tick), entry.GrainId, runtime), activation);
        }
        catch (InvalidOperationException ex)
        {
            runtime.Log.LogWarning(ex, "Reminder {Reminder} of {GrainId} could not be delivered", entry.ReminderName, entry.GrainId);
        }
    }

    private sealed class LocalReminder(ReminderService owner, ReminderEntry entry) : IDisposable
    {
        private ITimer? _timer;
        private DateTime _nextTick;
        private bool _disposed;

        public ReminderEntry Entry { get; } = entry;

        /// <summary>
        /// Arms the timer for the first tick at or after <paramref name="now"/>, and strictly after
        /// <paramref name="lastTick"/> when one was just delivered (missed ticks are skipped, not replayed).
        /// </summary>
        public void ArmNext(DateTime now, DateTime? lastTick = null)
        {
            var floor = lastTick is { } last && last >= now ? last.AddTicks(1) : now;
            var next = Entry.StartAt;
            if (next < floor)
            {
                var periods = ((floor - next).Ticks + Entry.Period.Ticks - 1) / Entry.Period.Ticks;
                next += TimeSpan.FromTicks(periods * Entry.Period.Ticks);
            }
            _nextTick = next;
            var due = next - now;
            if (due < TimeSpan.Zero) due = TimeSpan.Zero;
            _timer ??= owner.Runtime.Time.CreateTimer(static s => ((LocalReminder)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }

        private void Fire()
        {
            DateTime tick;
            lock (owner._gate)
            {
                if (_disposed) return;
                tick = _nextTick;
            }
            owner.Deliver(this, tick);
            lock (owner._gate)
            {
                if (_disposed) return;
                ArmNext(owner.Runtime.Time.GetUtcNow().UtcDateTime, tick);
            }
        }

        public void Dispose()
        {
            _disposed = true;
            _timer?.Dispose();
        }
    }

    private sealed record GrainReminder(string ReminderName) : IGrainReminder;

    private sealed class ReminderTick(string name, TickStatus status, GrainId grainId, GrainRuntime runtime) : WorkItem
    {
        internal override bool AlwaysInterleave => false;

        internal override void Start(Activation activation)
        {
            Task task;
            try
            {
                task = ((IRemindable)activation.GrainInstance!).ReceiveReminder(name, status);
            }
            catch (Exception ex)
            {
                task = Task.FromException(ex);
            }
            if (task.IsCompleted) Done(activation, task);
            else task.ContinueWith(static (t, s) =>
            {
                var (self, a) = ((ReminderTick, Activation))s!;
                self.Done(a, t);
            }, (this, activation), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private void Done(Activation activation, Task task)
        {
            TryMarkDone();
            activation.OnRequestFinished();
            if (task.IsFaulted)
                runtime.Log.LogWarning(task.Exception, "ReceiveReminder {Reminder} of grain {GrainId} failed", name, grainId);
        }

        internal override void Fail(Exception error) =>
            runtime.Log.LogWarning(error, "Reminder {Reminder} of grain {GrainId} was not delivered", name, grainId);

        internal override string Describe() => $"reminder '{name}' of grain {grainId}";
    }
}
