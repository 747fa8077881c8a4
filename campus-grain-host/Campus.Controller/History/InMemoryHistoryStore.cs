using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Campus.Controller.History;

/// <summary>
/// The history kept in process memory, for unit tests and demos without a database. Same queue, group
/// commit, rollup logic and query semantics as the SQL stores; "durable" means committed to this object.
/// </summary>
internal sealed class InMemoryHistoryStore : HistoryStoreBase
{
    private readonly InMemoryHistoryDatabase _db;
    private readonly RollupBatch _rollup = new();

    /// <param name="database">The data to work on; a new store on the same database sees what an earlier one committed.</param>
    public InMemoryHistoryStore(HistoryOptions options, TimeProvider? time = null, ILogger? logger = null, InMemoryHistoryDatabase? database = null)
        : base(options, time ?? TimeProvider.System, logger ?? NullLogger.Instance)
    {
        _db = database ?? new InMemoryHistoryDatabase();
    }

    /// <summary>When set, every commit and probe fails with this reason, as a storage outage would.</summary>
    internal string? SimulatedOutage { get; set; }

    /// <summary>When set, a commit holding a write of this kind fails, as one that met an outage would.</summary>
    internal WriteKind? SimulatedOutageFor { get; set; }

    /// <summary>When set, each commit waits for it first, as a slow disk would.</summary>
    internal Func<Task>? BeforeCommit { get; set; }

    protected override Task<IReadOnlyList<SchoolProfile>> InitializeStorageAsync(CancellationToken cancellationToken)
    {
        ThrowIfOutage();
        lock (_db.Gate)
        {
            return Task.FromResult<IReadOnlyList<SchoolProfile>>([.. _db.SchoolRows.Values]);
        }
    }

    protected override Task StoreSchoolAsync(SchoolProfile profile, CancellationToken cancellationToken)
    {
        ThrowIfOutage();
        lock (_db.Gate)
        {
            _db.SchoolRows[profile.SchoolId] = profile;
        }
        return Task.CompletedTask;
    }

    protected override Task ProbeAsync(CancellationToken cancellationToken)
    {
        ThrowIfOutage();
        return Task.CompletedTask;
    }

    private void ThrowIfOutage()
    {
        if (SimulatedOutage is { } reason)
        {
            throw new IOException(reason);
        }
    }

    protected override async Task CommitBatchAsync(int writer, List<WriteItem> batch, CancellationToken cancellationToken)
    {
        if (BeforeCommit is { } wait)
        {
            await wait().ConfigureAwait(false);
        }
        ThrowIfOutage();
        if (SimulatedOutageFor is { } kind && batch.Exists(w => w.Kind == kind))
        {
            throw new IOException($"simulated outage for {kind} writes");
        }
        Commit(batch);
    }

    private void Commit(List<WriteItem> batch)
    {
        lock (_db.Gate)
        {
            _rollup.Clear();
            var seen = new HashSet<(string, uint, uint)>();
            // First decide every outcome, then apply: a commit is all or nothing.
            foreach (var item in batch)
            {
                switch (item.Kind)
                {
                    case WriteKind.Telemetry:
                        var r = item.Telemetry;
                        var key = (r.DeviceId, r.Boot, r.Seq);
                        if (_db.TelemetryKeys.ContainsKey(key) || !seen.Add(key))
                        {
                            item.Outcome = AppendResult.Duplicate;
                            break;
                        }
                        item.Outcome = AppendResult.Inserted;
                        MeterState? previous = _rollup.MeterStates.TryGetValue(r.DeviceId, out var s) ? s
                            : _db.Meters.TryGetValue(r.DeviceId, out s) ? s : null;
                        if (Rollup.Apply(r, previous, GetSchoolProfile(r.SchoolId), _rollup) is { } counted)
                        {
                            _rollup.MeterStates[r.DeviceId] = counted;
                        }
                        break;
                    case WriteKind.Access:
                        var a = item.Access;
                        item.Outcome = a.Boot is { } boot && (_db.AccessKeys.Contains((a.DoorId, boot, a.Seq!.Value)) || !seen.Add(("door:" + a.DoorId, boot, a.Seq!.Value)))
                            ? AppendResult.Duplicate
                            : AppendResult.Inserted;
                        break;
                    default:
                        item.Outcome = AppendResult.Inserted;
                        break;
                }
            }
            foreach (var item in batch)
            {
                if (item.Outcome != AppendResult.Inserted)
                {
                    continue;
                }
                var id = ++_db.NextId;
                switch (item.Kind)
                {
                    case WriteKind.Telemetry:
                        var r = item.Telemetry;
                        _db.TelemetryKeys.Add((r.DeviceId, r.Boot, r.Seq), id);
                        _db.Telemetry.Add(id, new StoredTelemetry(SqlRows.TelemetryId(r.Boot, r.Seq), r));
                        break;
                    case WriteKind.Access:
                        var a = item.Access;
                        if (a.Boot is { } boot)
                        {
                            _db.AccessKeys.Add((a.DoorId, boot, a.Seq!.Value));
                        }
                        _db.Access.Add(id, new StoredAccessLogEntry(id, a));
                        break;
                    case WriteKind.Alert:
                        _db.Alerts.Add(id, new StoredAlertSnapshot(id, item.Alert));
                        break;
                    case WriteKind.Audit:
                        _db.Audit.Add(id, new StoredAuditEntry(id, item.Audit));
                        break;
                }
            }
            Merge(_db.Hourly, _rollup.Hourly);
            Merge(_db.Daily, _rollup.Daily);
            foreach (var (device, state) in _rollup.MeterStates)
            {
                _db.Meters[device] = state;
            }
        }
    }

    private static void Merge(Dictionary<BucketKey, BucketDelta> into, Dictionary<BucketKey, BucketDelta> deltas)
    {
        foreach (var (key, delta) in deltas)
        {
            if (into.TryGetValue(key, out var row))
            {
                row.Add(delta);
            }
            else
            {
                var copy = new BucketDelta(delta.SchoolId);
                copy.Add(delta);
                into.Add(key, copy);
            }
        }
    }

    protected override Task<long> PurgeTableAsync(PurgeTable table, long olderThanMs, int chunkSize, CancellationToken cancellationToken)
    {
        ThrowIfOutage();
        lock (_db.Gate)
        {
            long deleted = 0;
            switch (table)
            {
                case PurgeTable.Telemetry:
                    foreach (var (id, row) in _db.Telemetry.Where(t => t.Value.Record.ReceivedAt.ToUnixTimeMilliseconds() < olderThanMs).Take(chunkSize).ToList())
                    {
                        _db.Telemetry.Remove(id);
                        _db.TelemetryKeys.Remove((row.Record.DeviceId, row.Record.Boot, row.Record.Seq));
                        deleted++;
                    }
                    break;
                case PurgeTable.AccessLog:
                    foreach (var row in _db.Access.Values.Where(t => t.Entry.OccurredAt.ToUnixTimeMilliseconds() < olderThanMs).Take(chunkSize).ToList())
                    {
                        _db.Access.Remove(row.Id);
                        if (row.Entry.Boot is { } boot)
                        {
                            _db.AccessKeys.Remove((row.Entry.DoorId, boot, row.Entry.Seq!.Value));
                        }
                        deleted++;
                    }
                    break;
                case PurgeTable.AlertHistory:
                    deleted = RemoveOlder(_db.Alerts, a => a.Snapshot.ChangedAt, olderThanMs, chunkSize);
                    break;
                case PurgeTable.AuditLog:
                    deleted = RemoveOlder(_db.Audit, a => a.Entry.At, olderThanMs, chunkSize);
                    break;
            }
            return Task.FromResult(deleted);
        }
    }

    private static long RemoveOlder<T>(SortedDictionary<long, T> rows, Func<T, DateTimeOffset> at, long olderThanMs, int chunkSize)
    {
        var ids = rows.Where(kv => at(kv.Value).ToUnixTimeMilliseconds() < olderThanMs).Take(chunkSize).Select(kv => kv.Key).ToList();
        foreach (var id in ids)
        {
            rows.Remove(id);
        }
        return ids.Count;
    }

    protected override Task<List<(long Bucket, BucketDelta Row)>> ReadBucketsAsync(bool hourly, int scope, string? entity, string? schoolId, long from, long toExclusive, CancellationToken cancellationToken)
    {
        ThrowIfOutage();
        lock (_db.Gate)
        {
            var sums = new SortedDictionary<long, BucketDelta>();
            foreach (var (key, row) in hourly ? _db.Hourly : _db.Daily)
            {
                if (key.Scope != scope || key.Bucket < from || key.Bucket >= toExclusive
                    || (entity is not null && key.Entity != entity) || (schoolId is not null && row.SchoolId != schoolId))
                {
                    continue;
                }
                if (!sums.TryGetValue(key.Bucket, out var sum))
                {
                    sums.Add(key.Bucket, sum = new BucketDelta(row.SchoolId));
                }
                sum.Add(row);
            }
            return Task.FromResult(sums.Select(kv => (kv.Key, kv.Value)).ToList());
        }
    }

    protected override Task<List<(string Entity, double AfterHoursKwh, double EnergyKwh)>> ReadRankingAsync(string? schoolId, int fromDay, int toDay, int offset, int limit, CancellationToken cancellationToken)
    {
        ThrowIfOutage();
        lock (_db.Gate)
        {
            var scope = schoolId is null ? RollupScope.School : RollupScope.Room;
            return Task.FromResult(_db.Daily
                .Where(kv => kv.Key.Scope == scope && kv.Key.Bucket >= fromDay && kv.Key.Bucket <= toDay && (schoolId is null || kv.Value.SchoolId == schoolId))
                .GroupBy(kv => kv.Key.Entity, StringComparer.Ordinal)
                .Select(g => (Entity: g.Key, AfterHoursKwh: g.Sum(kv => kv.Value.AfterHoursKwh), EnergyKwh: g.Sum(kv => kv.Value.EnergyKwh)))
                .OrderByDescending(x => x.AfterHoursKwh).ThenBy(x => x.Entity, StringComparer.Ordinal)
                .Skip(offset).Take(limit)
                .ToList());
        }
    }

    protected override Task<Page<StoredTelemetry>> ReadTelemetryAsync(TelemetryQuery query, int limit, Cursor? after, CancellationToken cancellationToken)
    {
        var from = query.From.ToUnixTimeMilliseconds();
        var to = query.To.ToUnixTimeMilliseconds();
        return PageOf(_db.Telemetry, t => t.Record.ReceivedAt, t => t.Id,
            t => t.Record.SchoolId == query.SchoolId && t.Record.DeviceId == query.DeviceId
                && t.Record.ReceivedAt.ToUnixTimeMilliseconds() >= from && t.Record.ReceivedAt.ToUnixTimeMilliseconds() < to,
            limit, after);
    }

    protected override Task<Page<StoredAccessLogEntry>> ReadAccessLogAsync(AccessLogQuery query, int limit, Cursor? after, CancellationToken cancellationToken) =>
        PageOf(_db.Access, e => e.Entry.OccurredAt, e => e.Id,
            e => (query.SchoolId is null || e.Entry.SchoolId == query.SchoolId)
                && (query.DoorId is null || e.Entry.DoorId == query.DoorId)
                && (query.PersonId is null || e.Entry.PersonId == query.PersonId)
                && InRange(e.Entry.OccurredAt, query.From, query.To),
            limit, after);

    protected override Task<Page<StoredAlertSnapshot>> ReadAlertHistoryAsync(AlertHistoryQuery query, int limit, Cursor? after, CancellationToken cancellationToken) =>
        PageOf(_db.Alerts, a => a.Snapshot.ChangedAt, a => a.Id,
            a => (query.SchoolId is null || a.Snapshot.SchoolId == query.SchoolId)
                && (query.AlertId is null || a.Snapshot.AlertId == query.AlertId)
                && InRange(a.Snapshot.ChangedAt, query.From, query.To),
            limit, after);

    protected override Task<Page<StoredAuditEntry>> ReadAuditLogAsync(AuditLogQuery query, int limit, Cursor? after, CancellationToken cancellationToken) =>
        PageOf(_db.Audit, a => a.Entry.At, a => a.Id,
            a => (query.SchoolId is null || a.Entry.SchoolId == query.SchoolId)
                && (query.Actor is null || a.Entry.Actor == query.Actor)
                && InRange(a.Entry.At, query.From, query.To),
            limit, after);

    private static bool InRange(DateTimeOffset at, DateTimeOffset? from, DateTimeOffset? to) =>
        (from is null || at >= from) && (to is null || at < to);

    private Task<Page<T>> PageOf<T>(SortedDictionary<long, T> rows, Func<T, DateTimeOffset> at, Func<T, long> id, Func<T, bool> match, int limit, Cursor? after)
    {
        ThrowIfOutage();
        lock (_db.Gate)
        {
            var items = rows.Values
                .Where(match)
                .Select(r => (Row: r, At: at(r).ToUnixTimeMilliseconds(), Id: id(r)))
                .Where(x => after is not { } c || x.At < c.AtMs || (x.At == c.AtMs && x.Id < c.Id))
                .OrderByDescending(x => x.At).ThenByDescending(x => x.Id)
                .Take(limit + 1)
                .ToList();
            var more = items.Count > limit;
            if (more)
            {
                items.RemoveAt(limit);
            }
            var next = more ? Cursor.Format(items[^1].At, items[^1].Id) : null;
            return Task.FromResult(new Page<T>([.. items.Select(x => x.Row)], next));
        }
    }
}

/// <summary>The rows of an in-memory history; outlives a store, like a database file does.</summary>
internal sealed class InMemoryHistoryDatabase
{
    public object Gate { get; } = new();
    public Dictionary<(string Device, uint Boot, uint Seq), long> TelemetryKeys { get; } = [];
    public SortedDictionary<long, StoredTelemetry> Telemetry { get; } = [];
    public Dictionary<string, MeterState> Meters { get; } = new(StringComparer.Ordinal);
    public Dictionary<BucketKey, BucketDelta> Hourly { get; } = [];
    public Dictionary<BucketKey, BucketDelta> Daily { get; } = [];
    public HashSet<(string Door, uint Boot, uint Seq)> AccessKeys { get; } = [];
    public SortedDictionary<long, StoredAccessLogEntry> Access { get; } = [];
    public SortedDictionary<long, StoredAlertSnapshot> Alerts { get; } = [];
    public SortedDictionary<long, StoredAuditEntry> Audit { get; } = [];
    public Dictionary<string, SchoolProfile> SchoolRows { get; } = new(StringComparer.Ordinal);
    public long NextId { get; set; }
}
