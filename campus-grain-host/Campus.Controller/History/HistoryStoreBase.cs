using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Campus.Controller.History;

internal enum WriteKind : byte { Telemetry, Access, Alert, Audit }

/// <summary>
/// One queued write and the appender's completion. It is its own TaskCompletionSource (one allocation
/// per write); continuations run asynchronously so that the writer loop never runs appenders' code.
/// </summary>
internal sealed class WriteItem : TaskCompletionSource<AppendResult>
{
    private WriteItem(WriteKind kind, object payload)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Kind = kind;
        Payload = payload;
    }

    public WriteKind Kind { get; }
    public object Payload { get; }
    /// <summary>Set by the commit; delivered to the appender once the transaction committed.</summary>
    public AppendResult Outcome { get; set; }

    public TelemetryRecord Telemetry => (TelemetryRecord)Payload;
    public AccessLogEntry Access => (AccessLogEntry)Payload;
    public AlertSnapshot Alert => (AlertSnapshot)Payload;
    public AuditEntry Audit => (AuditEntry)Payload;

    public static WriteItem For(TelemetryRecord r) => new(WriteKind.Telemetry, r);
    public static WriteItem For(AccessLogEntry e) => new(WriteKind.Access, e);
    public static WriteItem For(AlertSnapshot s) => new(WriteKind.Alert, s);
    public static WriteItem For(AuditEntry e) => new(WriteKind.Audit, e);
}

/// <summary>
/// What every store shares: argument checks, the bounded write queue and its single writer loop (group
/// commit: whatever queued up while the previous transaction ran is committed in the next one), health,
/// school profiles, and the energy query logic on top of the backend's bucket reads.
/// </summary>
internal abstract class HistoryStoreBase : IHistoryStore
{
    private protected static readonly Meter HistoryMeter = new("Campus.Controller.History");
    private static readonly Counter<long> CommittedWrites = HistoryMeter.CreateCounter<long>("campus.history.writes", description: "Writes committed (inserted or duplicate)");
    private static readonly Counter<long> FailedWrites = HistoryMeter.CreateCounter<long>("campus.history.write_failures", description: "Writes failed with storage unavailable");
    private static readonly Histogram<int> BatchSizes = HistoryMeter.CreateHistogram<int>("campus.history.batch_size", description: "Writes per group commit");

    private readonly Channel<WriteItem>[] _queues;
    private readonly int[] _delayBackoff; // per writer: small batches to commit at once after a wait that brought nothing
    private readonly int[] _delaySkips;   // per writer: how many of those are left
    private long _commitDelays;
    private readonly int _capacity;
    private readonly ConcurrentDictionary<string, SchoolProfile> _schools = new(StringComparer.Ordinal);
    private readonly object _healthLock = new();
    private Task[]? _writers;
    private int _state; // 0: new (or its start failed), 1: initializing, 2: ready
    private string? _startFailure;
    private string? _failure;
    private DateTimeOffset _since;

    protected HistoryStoreBase(HistoryOptions options, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.QueueCapacity < 1 || options.MaxBatchSize < 1)
        {
            throw new ArgumentException("QueueCapacity and MaxBatchSize must be at least 1.", nameof(options));
        }
        if (options.CommitDelay < TimeSpan.Zero || options.CommitDelay > TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"CommitDelay must be between 0 and 1 s, not {options.CommitDelay}.", nameof(options));
        }
        Options = options;
        Time = time;
        Logger = logger;
        Rollup = new EnergyRollup(options);
        DefaultZone = FindZone(options.DefaultTimeZoneId);
        DistrictZone = FindZone(options.DistrictTimeZoneId ?? options.DefaultTimeZoneId);
        var writers = Math.Max(1, WriterCount(options));
        var perWriter = Math.Max(1, options.QueueCapacity / writers);
        _capacity = perWriter * writers;
        _queues = new Channel<WriteItem>[writers];
        _delayBackoff = new int[writers];
        _delaySkips = new int[writers];
        for (var i = 0; i < writers; i++)
        {
            _queues[i] = Channel.CreateBounded<WriteItem>(new BoundedChannelOptions(perWriter)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
        }
        _since = time.GetUtcNow();
    }

    protected HistoryOptions Options { get; }
    protected TimeProvider Time { get; }
    protected ILogger Logger { get; }
    protected EnergyRollup Rollup { get; }
    protected TimeZoneInfo DefaultZone { get; }
    protected TimeZoneInfo DistrictZone { get; }

    private static TimeZoneInfo FindZone(string id) =>
        TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone)
            ? zone
            : throw new ArgumentException($"Unknown time zone '{id}'; use an IANA id such as Asia/Shanghai.");

    // ---- backend ---------------------------------------------------------------------------

    /// <summary>Creates or migrates the schema; returns the stored school profiles.</summary>
    protected abstract Task<IReadOnlyList<SchoolProfile>> InitializeStorageAsync(CancellationToken cancellationToken);

    protected abstract Task StoreSchoolAsync(SchoolProfile profile, CancellationToken cancellationToken);

    /// <summary>
    /// How many writer loops (each with its own queue, connection and transaction) the backend runs. Writes
    /// are spread over them by device (telemetry), door (access), alert or school, so that the writes of
    /// one device are always committed in order by the same writer.
    /// </summary>
    private protected virtual int WriterCount(HistoryOptions options) => 1;

    /// <summary>Commits the batch of writer <paramref name="writer"/> in one transaction and sets each item's <see cref="WriteItem.Outcome"/>; throws when nothing was committed.</summary>
    protected abstract Task CommitBatchAsync(int writer, List<WriteItem> batch, CancellationToken cancellationToken);

    /// <summary>Called after a failed commit of a writer: drop its connection and caches that may be stale.</summary>
    protected virtual void OnCommitFailed(int writer)
    {
    }

    /// <summary>Proves that the storage takes writes again; throws otherwise.</summary>
    protected abstract Task ProbeAsync(CancellationToken cancellationToken);

    protected abstract Task<long> PurgeTableAsync(PurgeTable table, long olderThanMs, int chunkSize, CancellationToken cancellationToken);

    /// <summary>Bucket rows summed over the entities matched: one entity when given, else every entity of the scope (optionally of one school).</summary>
    protected abstract Task<List<(long Bucket, BucketDelta Row)>> ReadBucketsAsync(bool hourly, int scope, string? entity, string? schoolId, long from, long toExclusive, CancellationToken cancellationToken);

    protected abstract Task<List<(string Entity, double AfterHoursKwh, double EnergyKwh)>> ReadRankingAsync(string? schoolId, int fromDay, int toDay, int offset, int limit, CancellationToken cancellationToken);

    protected abstract Task<Page<StoredTelemetry>> ReadTelemetryAsync(TelemetryQuery query, int limit, Cursor? after, CancellationToken cancellationToken);

    protected abstract Task<Page<StoredAccessLogEntry>> ReadAccessLogAsync(AccessLogQuery query, int limit, Cursor? after, CancellationToken cancellationToken);

    protected abstract Task<Page<StoredAlertSnapshot>> ReadAlertHistoryAsync(AlertHistoryQuery query, int limit, Cursor? after, CancellationToken cancellationToken);

    protected abstract Task<Page<StoredAuditEntry>> ReadAuditLogAsync(AuditLogQuery query, int limit, Cursor? after, CancellationToken cancellationToken);

    protected virtual ValueTask DisposeStorageAsync() => ValueTask.CompletedTask;

    // ---- lifecycle --------------------------------------------------------------------------

    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("InitializeAsync was already called on this history store.");
        }
        IReadOnlyList<SchoolProfile> schools;
        try
        {
            schools = await GuardAsync(() => InitializeStorageAsync(cancellationToken)).ConfigureAwait(false);
        }
        catch (StorageUnavailableException ex)
        {
            // The storage is down at start: stay degraded; InitializeAsync may be called again later.
            _startFailure = ex.Message;
            MarkDegraded(ex.Message);
            Volatile.Write(ref _state, 0);
            throw;
        }
        catch
        {
            Volatile.Write(ref _state, 0);
            throw;
        }
        foreach (var s in schools)
        {
            _schools[s.SchoolId] = s;
        }
        _writers = new Task[_queues.Length];
        for (var i = 0; i < _queues.Length; i++)
        {
            var writer = i;
            _writers[i] = Task.Run(() => WriteLoopAsync(writer), CancellationToken.None);
        }
        _startFailure = null;
        Volatile.Write(ref _state, 2);
        MarkHealthy();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var queue in _queues)
        {
            queue.Writer.TryComplete();
        }
        if (_writers is not null)
        {
            await Task.WhenAll(_writers).ConfigureAwait(false);
        }
        await DisposeStorageAsync().ConfigureAwait(false);
    }

    // ---- schools ----------------------------------------------------------------------------

    public async Task UpsertSchoolAsync(SchoolProfile profile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(profile);
        EnsureInitialized();
        await GuardAsync(() => StoreSchoolAsync(profile, cancellationToken)).ConfigureAwait(false);
        _schools[profile.SchoolId] = profile;
    }

    public SchoolProfile GetSchoolProfile(string schoolId)
    {
        ArgumentException.ThrowIfNullOrEmpty(schoolId);
        return _schools.TryGetValue(schoolId, out var p)
            ? p
            : _schools.GetOrAdd(schoolId, id => new SchoolProfile(id, Options.DefaultTimeZoneId, SchoolProfile.WeekdaysSevenToSix));
    }

    protected IEnumerable<SchoolProfile> KnownSchools => _schools.Values;

    // ---- writes -----------------------------------------------------------------------------

    public ValueTask<AppendResult> AppendAsync(TelemetryRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrEmpty(record.SchoolId, nameof(record.SchoolId));
        ArgumentException.ThrowIfNullOrEmpty(record.RoomId, nameof(record.RoomId));
        ArgumentException.ThrowIfNullOrEmpty(record.DeviceId, nameof(record.DeviceId));
        ArgumentException.ThrowIfNullOrEmpty(record.Kind, nameof(record.Kind));
        return EnqueueAsync(WriteItem.For(record), record.DeviceId, cancellationToken);
    }

    public ValueTask<AppendResult> AppendAccessAsync(AccessLogEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentException.ThrowIfNullOrEmpty(entry.SchoolId, nameof(entry.SchoolId));
        ArgumentException.ThrowIfNullOrEmpty(entry.DoorId, nameof(entry.DoorId));
        ArgumentException.ThrowIfNullOrEmpty(entry.EventType, nameof(entry.EventType));
        if (entry.Boot.HasValue != entry.Seq.HasValue)
        {
            throw new ArgumentException("Give both Boot and Seq of the device message, or neither.", nameof(entry));
        }
        return EnqueueAsync(WriteItem.For(entry), entry.DoorId, cancellationToken);
    }

    public async ValueTask AppendAlertAsync(AlertSnapshot snapshot, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentException.ThrowIfNullOrEmpty(snapshot.SchoolId, nameof(snapshot.SchoolId));
        ArgumentException.ThrowIfNullOrEmpty(snapshot.AlertId, nameof(snapshot.AlertId));
        await EnqueueAsync(WriteItem.For(snapshot), snapshot.AlertId, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentException.ThrowIfNullOrEmpty(entry.Actor, nameof(entry.Actor));
        ArgumentException.ThrowIfNullOrEmpty(entry.Action, nameof(entry.Action));
        ArgumentNullException.ThrowIfNull(entry.Target, nameof(entry.Target));
        await EnqueueAsync(WriteItem.For(entry), entry.SchoolId ?? string.Empty, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask<AppendResult> EnqueueAsync(WriteItem item, string partitionKey, CancellationToken cancellationToken)
    {
        EnsureInitialized();
        var queue = _queues.Length == 1 ? _queues[0] : _queues[(int)((uint)partitionKey.GetHashCode() % (uint)_queues.Length)];
        if (queue.Writer.TryWrite(item))
        {
            return new ValueTask<AppendResult>(cancellationToken.CanBeCanceled ? item.Task.WaitAsync(cancellationToken) : item.Task);
        }
        return EnqueueSlowAsync(queue, item, cancellationToken);
    }

    private static async ValueTask<AppendResult> EnqueueSlowAsync(Channel<WriteItem> queue, WriteItem item, CancellationToken cancellationToken)
    {
        try
        {
            await queue.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(IHistoryStore), "The history store is disposed.");
        }
        return await (cancellationToken.CanBeCanceled ? item.Task.WaitAsync(cancellationToken) : item.Task).ConfigureAwait(false);
    }

    private void EnsureInitialized()
    {
        if (Volatile.Read(ref _state) == 2)
        {
            return;
        }
        if (_startFailure is { } reason)
        {
            throw new StorageUnavailableException($"History storage not ready (its start failed: {reason}).");
        }
        throw new InvalidOperationException("Call InitializeAsync before using the history store.");
    }

    private async Task WriteLoopAsync(int writer)
    {
        var reader = _queues[writer].Reader;
        var batch = new List<WriteItem>(Options.MaxBatchSize);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Off whatever thread completed the last await: with inline socket completions that is a socket
            // engine's thread, which must not build batches and complete appenders for every socket it serves.
            await Task.Yield();
            batch.Clear();
            Take(reader, batch);
            if (batch.Count >= 2 && batch.Count < Math.Min(Options.CommitDelayBelow, Options.MaxBatchSize) && Options.CommitDelay > TimeSpan.Zero)
            {
                await DelayCommitAsync(writer, reader, batch).ConfigureAwait(false);
            }
            try
            {
                await CommitBatchAsync(writer, batch, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsStorageFailure(ex))
            {
                Fail(writer, batch, new StorageUnavailableException($"History storage unavailable: {ex.Message}", ex), ex);
                continue;
            }
            catch (Exception ex)
            {
                // Not a storage outage but a fault: every appender of the batch gets it, it is logged, and
                // the loop goes on so that one bad batch cannot stop all later writes.
                Logger.LogError(ex, "History batch of {Count} writes failed", batch.Count);
                Fail(writer, batch, ex, ex);
                continue;
            }
            foreach (var item in batch)
            {
                item.TrySetResult(item.Outcome);
            }
            CommittedWrites.Add(batch.Count);
            BatchSizes.Record(batch.Count);
            MarkHealthy();
        }
    }

    /// <summary>
    /// Others are writing too: lets them join this transaction. A wait that brought no write (callers that
    /// each wait for their own write before the next cannot add any while the writer waits) is skipped for
    /// the next small batches, twice as many each time it brings nothing (at most 64), so such callers do
    /// not wait the delay on every commit. Real time, not the store's clock: this is a throughput knob,
    /// and a test's manual clock must not hold commits back.
    /// </summary>
    private async Task DelayCommitAsync(int writer, ChannelReader<WriteItem> reader, List<WriteItem> batch)
    {
        if (_delaySkips[writer] > 0)
        {
            _delaySkips[writer]--;
            return;
        }
        var before = batch.Count;
        await (CommitDelayWait?.Invoke() ?? Task.Delay(Options.CommitDelay)).ConfigureAwait(false);
        Interlocked.Increment(ref _commitDelays);
        Take(reader, batch);
        _delayBackoff[writer] = batch.Count > before ? 0 : Math.Min(64, Math.Max(1, _delayBackoff[writer] * 2));
        _delaySkips[writer] = _delayBackoff[writer];
    }

    /// <summary>Tests: awaited instead of the commit delay's timer.</summary>
    internal Func<Task>? CommitDelayWait { get; set; }

    /// <summary>Commit delays waited so far.</summary>
    internal long CommitDelays => Interlocked.Read(ref _commitDelays);

    private void Take(ChannelReader<WriteItem> reader, List<WriteItem> batch)
    {
        while (batch.Count < Options.MaxBatchSize && reader.TryRead(out var item))
        {
            batch.Add(item);
        }
    }

    private void Fail(int writer, List<WriteItem> batch, Exception toCallers, Exception cause)
    {
        try
        {
            OnCommitFailed(writer);
        }
        finally
        {
            foreach (var item in batch)
            {
                item.TrySetException(toCallers);
            }
            FailedWrites.Add(batch.Count);
            MarkDegraded(cause.Message);
        }
    }

    // ---- health -----------------------------------------------------------------------------

    public HistoryHealth Health
    {
        get
        {
            lock (_healthLock)
            {
                var queued = 0;
                foreach (var queue in _queues)
                {
                    queued += queue.Reader.Count;
                }
                if (_failure is not null)
                {
                    return new HistoryHealth(HistoryHealthStatus.Degraded, _failure, _since, queued);
                }
                if (queued >= _capacity * 8L / 10)
                {
                    return new HistoryHealth(HistoryHealthStatus.Degraded, string.Create(CultureInfo.InvariantCulture, $"write backlog: {queued} of {_capacity} queued"), _since, queued);
                }
                return new HistoryHealth(HistoryHealthStatus.Healthy, null, _since, queued);
            }
        }
    }

    public async Task<HistoryHealth> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _state) != 2)
        {
            // Not started (or its start failed): nothing to probe until InitializeAsync succeeds.
            return Health;
        }
        bool failing;
        lock (_healthLock)
        {
            failing = _failure is not null;
        }
        if (failing)
        {
            try
            {
                await ProbeAsync(cancellationToken).ConfigureAwait(false);
                MarkHealthy();
            }
            catch (Exception ex) when (IsStorageFailure(ex))
            {
                MarkDegraded(ex.Message);
            }
        }
        return Health;
    }

    private void MarkHealthy()
    {
        lock (_healthLock)
        {
            if (_failure is null)
            {
                return;
            }
            _failure = null;
            _since = Time.GetUtcNow();
        }
        Logger.LogInformation("History storage recovered");
    }

    private void MarkDegraded(string reason)
    {
        bool changed;
        lock (_healthLock)
        {
            changed = _failure is null;
            if (changed)
            {
                _since = Time.GetUtcNow();
            }
            _failure = reason;
        }
        if (changed)
        {
            Logger.LogWarning("History storage degraded: {Reason}", reason);
        }
    }

    internal static bool IsStorageFailure(Exception ex) =>
        ex is DbException or IOException or TimeoutException or SocketException or StorageUnavailableException
        || (ex.InnerException is { } inner && IsStorageFailure(inner));

    /// <summary>Runs a storage call, turning storage failures into <see cref="StorageUnavailableException"/>.</summary>
    private protected static async Task<T> GuardAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStorageFailure(ex) && ex is not StorageUnavailableException)
        {
            throw new StorageUnavailableException($"History storage unavailable: {ex.Message}", ex);
        }
    }

    private protected static async Task GuardAsync(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStorageFailure(ex) && ex is not StorageUnavailableException)
        {
            throw new StorageUnavailableException($"History storage unavailable: {ex.Message}", ex);
        }
    }

    // ---- retention --------------------------------------------------------------------------

    public async Task<PurgeResult> PurgeAsync(CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        var r = Options.Retention;
        if (r.ChunkSize < 1)
        {
            throw new InvalidOperationException("Retention.ChunkSize must be at least 1.");
        }
        var now = Time.GetUtcNow();
        return new PurgeResult(
            await PurgeAsync(PurgeTable.Telemetry, r.Telemetry, now, r.ChunkSize, cancellationToken).ConfigureAwait(false),
            await PurgeAsync(PurgeTable.AccessLog, r.AccessLog, now, r.ChunkSize, cancellationToken).ConfigureAwait(false),
            await PurgeAsync(PurgeTable.AlertHistory, r.AlertHistory, now, r.ChunkSize, cancellationToken).ConfigureAwait(false),
            await PurgeAsync(PurgeTable.AuditLog, r.AuditLog, now, r.ChunkSize, cancellationToken).ConfigureAwait(false));
    }

    private async Task<long> PurgeAsync(PurgeTable table, TimeSpan? keep, DateTimeOffset now, int chunk, CancellationToken cancellationToken)
    {
        if (keep is not { } k)
        {
            return 0;
        }
        var before = (now - k).ToUnixTimeMilliseconds();
        long total = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var deleted = await GuardAsync(() => PurgeTableAsync(table, before, chunk, cancellationToken)).ConfigureAwait(false);
            total += deleted;
            if (deleted < chunk)
            {
                break;
            }
        }
        if (total > 0)
        {
            Logger.LogInformation("Retention purged {Count} rows of {Table} older than {Before}", total, table, DateTimeOffset.FromUnixTimeMilliseconds(before));
        }
        return total;
    }

    // ---- reads ------------------------------------------------------------------------------

    public Task<Page<StoredTelemetry>> GetTelemetryAsync(TelemetryQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentException.ThrowIfNullOrEmpty(query.SchoolId, nameof(query.SchoolId));
        ArgumentException.ThrowIfNullOrEmpty(query.DeviceId, nameof(query.DeviceId));
        EnsureInitialized();
        var limit = query.Page.CheckedLimit();
        var after = Cursor.Parse(query.Page.After);
        return GuardAsync(() => ReadTelemetryAsync(query, limit, after, cancellationToken));
    }

    public Task<Page<StoredAccessLogEntry>> GetAccessLogAsync(AccessLogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureInitialized();
        var limit = query.Page.CheckedLimit();
        var after = Cursor.Parse(query.Page.After);
        return GuardAsync(() => ReadAccessLogAsync(query, limit, after, cancellationToken));
    }

    public Task<Page<StoredAlertSnapshot>> GetAlertHistoryAsync(AlertHistoryQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureInitialized();
        var limit = query.Page.CheckedLimit();
        var after = Cursor.Parse(query.Page.After);
        return GuardAsync(() => ReadAlertHistoryAsync(query, limit, after, cancellationToken));
    }

    public Task<Page<StoredAuditEntry>> GetAuditLogAsync(AuditLogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        EnsureInitialized();
        var limit = query.Page.CheckedLimit();
        var after = Cursor.Parse(query.Page.After);
        return GuardAsync(() => ReadAuditLogAsync(query, limit, after, cancellationToken));
    }

    public Task<EnergySeries> GetEnergySeriesAsync(EnergySeriesQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Check();
        EnsureInitialized();
        return GuardAsync(() => ReadSeriesAsync(query, cancellationToken));
    }

    public async Task<IReadOnlyList<EnergySeries>> CompareEnergyAsync(IReadOnlyList<EnergyTarget> targets, EnergyGranularity granularity, DateOnly from, DateOnly to, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Count is < 1 or > 20)
        {
            throw new ArgumentException($"Compare 1 to 20 targets; got {targets.Count}.", nameof(targets));
        }
        var result = new List<EnergySeries>(targets.Count);
        foreach (var target in targets)
        {
            result.Add(await GetEnergySeriesAsync(new EnergySeriesQuery(target, granularity, from, to), cancellationToken).ConfigureAwait(false));
        }
        return result;
    }

    public Task<IReadOnlyList<AfterHoursRank>> GetAfterHoursRankingAsync(AfterHoursRankingQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var page = query.Page.Checked();
        if (query.To < query.From)
        {
            throw new ArgumentException("The range ends before it starts.", nameof(query));
        }
        EnsureInitialized();
        return GuardAsync(async () =>
        {
            var rows = await ReadRankingAsync(query.SchoolId, EnergyRollup.DayKey(query.From), EnergyRollup.DayKey(query.To), page.Offset, page.Limit, cancellationToken).ConfigureAwait(false);
            var ranks = new List<AfterHoursRank>(rows.Count);
            for (var i = 0; i < rows.Count; i++)
            {
                var (entity, after, energy) = rows[i];
                EnergyTarget target;
                if (query.SchoolId is null)
                {
                    target = EnergyTarget.School(entity);
                }
                else
                {
                    var slash = entity.IndexOf('/', StringComparison.Ordinal);
                    target = EnergyTarget.Room(entity[..slash], entity[(slash + 1)..]);
                }
                ranks.Add(new AfterHoursRank(page.Offset + i + 1, target, after, energy, energy > 0 ? after / energy : 0));
            }
            return (IReadOnlyList<AfterHoursRank>)ranks;
        });
    }

    public async Task ExportEnergyCsvAsync(EnergySeriesQuery query, TextWriter writer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var series = await GetEnergySeriesAsync(query, cancellationToken).ConfigureAwait(false);
        await EnergyCsv.WriteAsync(series, writer, cancellationToken).ConfigureAwait(false);
    }

    private async Task<EnergySeries> ReadSeriesAsync(EnergySeriesQuery q, CancellationToken cancellationToken)
    {
        var target = q.Target;
        var zone = target.Kind == EnergyTargetKind.District ? DistrictZone : GetSchoolProfile(target.SchoolId!).TimeZone;
        var scope = target.Kind == EnergyTargetKind.Room ? RollupScope.Room : RollupScope.School;
        var entity = target.Kind switch
        {
            EnergyTargetKind.Room => RollupScope.RoomEntity(target.SchoolId!, target.RoomId!),
            EnergyTargetKind.School => target.SchoolId,
            _ => null,
        };
        var points = new List<EnergyPoint>();
        if (q.Granularity == EnergyGranularity.Hour)
        {
            var from = EnergyRollup.LocalMidnight(q.From, zone).ToUnixTimeMilliseconds();
            var to = EnergyRollup.LocalMidnight(q.To.AddDays(1), zone).ToUnixTimeMilliseconds();
            foreach (var (bucket, row) in await ReadBucketsAsync(true, scope, entity, null, from, to, cancellationToken).ConfigureAwait(false))
            {
                points.Add(ToPoint(EnergyRollup.ToLocal(bucket, zone), row));
            }
            return new EnergySeries(target, q.Granularity, points);
        }
        var rows = await ReadBucketsAsync(false, scope, entity, null, EnergyRollup.DayKey(q.From), EnergyRollup.DayKey(q.To) + 1, cancellationToken).ConfigureAwait(false);
        if (q.Granularity == EnergyGranularity.Day)
        {
            foreach (var (day, row) in rows)
            {
                points.Add(ToPoint(EnergyRollup.LocalMidnight(EnergyRollup.FromDayKey(day), zone), row));
            }
            return new EnergySeries(target, q.Granularity, points);
        }
        // Months: summed from the daily buckets (rows come ordered by day).
        long month = -1;
        BucketDelta? sum = null;
        foreach (var (day, row) in rows)
        {
            if (day / 100 != month)
            {
                if (sum is not null)
                {
                    points.Add(ToPoint(MonthStart(month, zone), sum));
                }
                month = day / 100;
                sum = new BucketDelta(row.SchoolId);
            }
            sum!.Add(row);
        }
        if (sum is not null)
        {
            points.Add(ToPoint(MonthStart(month, zone), sum));
        }
        return new EnergySeries(target, q.Granularity, points);
    }

    private static DateTimeOffset MonthStart(long month, TimeZoneInfo zone) =>
        EnergyRollup.LocalMidnight(new DateOnly((int)(month / 100), (int)(month % 100), 1), zone);

    private static EnergyPoint ToPoint(DateTimeOffset start, BucketDelta row) =>
        new(start, row.EnergyKwh, row.AfterHoursKwh, row.PowerCount > 0 ? row.PowerSum / row.PowerCount : null, row.PeakPowerW, row.Samples);
}

internal enum PurgeTable { Telemetry, AccessLog, AlertHistory, AuditLog }
