using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Campus.Controller.History;

/// <summary>
/// The history in a SQLite file (the embedded default). WAL journal, synchronous=FULL, one writer
/// connection with prepared statements and one IMMEDIATE transaction per batch; queries on pooled
/// connections of their own (WAL lets them read while the writer writes).
/// </summary>
internal sealed class SqliteHistoryStore : SqlHistoryStore
{
    private static readonly string[][] Migrations =
    [
        [
            "CREATE TABLE history_schools (school TEXT PRIMARY KEY, time_zone TEXT NOT NULL, opening_hours TEXT NOT NULL)",
            """
            CREATE TABLE telemetry (
                device TEXT NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL, school TEXT NOT NULL, room TEXT NOT NULL, kind TEXT NOT NULL,
                device_time INTEGER, received_at INTEGER NOT NULL, energy_kwh REAL, power_w REAL, voltage_v REAL, current_a REAL,
                power_factor REAL, temperature_c REAL, humidity_pct REAL, occupied INTEGER, readings TEXT)
            """,
            "CREATE UNIQUE INDEX telemetry_key ON telemetry (device, boot, seq)",
            "CREATE INDEX telemetry_device_time ON telemetry (device, received_at)",
            "CREATE INDEX telemetry_received ON telemetry (received_at)",
            "CREATE TABLE meter_state (device TEXT PRIMARY KEY, boot INTEGER NOT NULL, seq INTEGER NOT NULL, energy_kwh REAL NOT NULL, at_ms INTEGER NOT NULL) WITHOUT ROWID",
            """
            CREATE TABLE energy_hourly (scope INTEGER NOT NULL, entity TEXT NOT NULL, bucket INTEGER NOT NULL, school TEXT NOT NULL,
                energy_kwh REAL NOT NULL, after_hours_kwh REAL NOT NULL, power_sum REAL NOT NULL, power_count INTEGER NOT NULL,
                peak_power_w REAL, samples INTEGER NOT NULL, PRIMARY KEY (scope, entity, bucket)) WITHOUT ROWID
            """,
            "CREATE INDEX energy_hourly_scope_bucket ON energy_hourly (scope, bucket)",
            """
            CREATE TABLE energy_daily (scope INTEGER NOT NULL, entity TEXT NOT NULL, bucket INTEGER NOT NULL, school TEXT NOT NULL,
                energy_kwh REAL NOT NULL, after_hours_kwh REAL NOT NULL, power_sum REAL NOT NULL, power_count INTEGER NOT NULL,
                peak_power_w REAL, samples INTEGER NOT NULL, PRIMARY KEY (scope, entity, bucket)) WITHOUT ROWID
            """,
            "CREATE INDEX energy_daily_scope_bucket ON energy_daily (scope, bucket)",
            "CREATE INDEX energy_daily_school ON energy_daily (scope, school, bucket)",
            """
            CREATE TABLE access_log (id INTEGER PRIMARY KEY AUTOINCREMENT, school TEXT NOT NULL, room TEXT NOT NULL, door TEXT NOT NULL,
                event_type TEXT NOT NULL, person TEXT, card TEXT, result TEXT, reason TEXT, source TEXT, details TEXT,
                occurred_at INTEGER NOT NULL, boot INTEGER, seq INTEGER)
            """,
            "CREATE UNIQUE INDEX access_log_key ON access_log (door, boot, seq)",
            "CREATE INDEX access_log_school ON access_log (school, occurred_at, id)",
            "CREATE INDEX access_log_door ON access_log (school, door, occurred_at, id)",
            "CREATE INDEX access_log_person ON access_log (school, person, occurred_at, id)",
            "CREATE INDEX access_log_time ON access_log (occurred_at, id)",
            """
            CREATE TABLE alert_history (id INTEGER PRIMARY KEY AUTOINCREMENT, school TEXT NOT NULL, alert_id TEXT NOT NULL, source TEXT NOT NULL,
                type TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL, room TEXT, message TEXT, count INTEGER NOT NULL,
                changed_by TEXT, note TEXT, changed_at INTEGER NOT NULL)
            """,
            "CREATE INDEX alert_history_school ON alert_history (school, changed_at, id)",
            "CREATE INDEX alert_history_alert ON alert_history (alert_id, changed_at, id)",
            "CREATE INDEX alert_history_time ON alert_history (changed_at, id)",
            """
            CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, school TEXT, actor TEXT NOT NULL, action TEXT NOT NULL,
                target TEXT NOT NULL, details TEXT, at INTEGER NOT NULL)
            """,
            "CREATE INDEX audit_log_school ON audit_log (school, at, id)",
            "CREATE INDEX audit_log_time ON audit_log (at, id)",
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        ],
    ];

    private readonly string _connectionString;
    private readonly Dictionary<string, MeterState> _meters = new(StringComparer.Ordinal);
    private readonly RollupBatch _rollup = new();
    private Writer? _writer;

    public SqliteHistoryStore(HistoryOptions options, TimeProvider time, ILogger logger)
        : base(options, time, logger)
    {
        var builder = new SqliteConnectionStringBuilder(options.ConnectionString)
        {
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(options.SqliteBusyTimeout.TotalSeconds)),
        };
        _connectionString = builder.ToString();
        if (!string.IsNullOrEmpty(builder.DataSource) && builder.DataSource != ":memory:")
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var conn = new SqliteConnection(_connectionString);
        try
        {
            await conn.OpenAsync(cancellationToken).ConfigureAwait(false);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    protected override async ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) =>
        await OpenAsync(cancellationToken).ConfigureAwait(false);

    protected override async Task<IReadOnlyList<SchoolProfile>> InitializeStorageAsync(CancellationToken cancellationToken)
    {
        await using var conn = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var wal = Command(conn, "PRAGMA journal_mode=WAL"))
        {
            await wal.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        // IMMEDIATE: two processes starting at once migrate one after the other.
        await using (var tx = conn.BeginTransaction(deferred: false))
        {
            await using (var create = Command(conn, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"))
            {
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            long current;
            await using (var get = Command(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_version"))
            {
                current = (long)(await get.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
            for (var v = (int)current; v < Migrations.Length; v++)
            {
                foreach (var statement in Migrations[v])
                {
                    await using var cmd = Command(conn, statement);
                    await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                await using var mark = Command(conn, "INSERT INTO schema_version (version, applied_at) VALUES (@v, @at)");
                Add(mark, "v", v + 1);
                Add(mark, "at", Time.GetUtcNow().ToUnixTimeMilliseconds());
                await mark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                Logger.LogInformation("History schema migrated to version {Version}", v + 1);
            }
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        var schools = new List<SchoolProfile>();
        await using var read = Command(conn, "SELECT school, time_zone, opening_hours FROM history_schools");
        await using var r = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            schools.Add(new SchoolProfile(r.GetString(0), r.GetString(1), SchoolProfile.ParseOpeningHours(r.GetString(2))));
        }
        return schools;
    }

    protected override async Task StoreSchoolAsync(SchoolProfile profile, CancellationToken cancellationToken)
    {
        await using var conn = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(conn, """
            INSERT INTO history_schools (school, time_zone, opening_hours) VALUES (@school, @zone, @hours)
            ON CONFLICT (school) DO UPDATE SET time_zone = excluded.time_zone, opening_hours = excluded.opening_hours
            """);
        Add(cmd, "school", profile.SchoolId);
        Add(cmd, "zone", profile.TimeZoneId);
        Add(cmd, "hours", profile.FormatOpeningHours());
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ProbeAsync(CancellationToken cancellationToken)
    {
        // A write lock proves that writes can go through again.
        await using var conn = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = conn.BeginTransaction(deferred: false);
        await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override string PurgeSql(PurgeTable table) => table switch
    {
        PurgeTable.Telemetry => "DELETE FROM telemetry WHERE rowid IN (SELECT rowid FROM telemetry WHERE received_at < @before LIMIT @limit)",
        PurgeTable.AccessLog => "DELETE FROM access_log WHERE id IN (SELECT id FROM access_log WHERE occurred_at < @before ORDER BY occurred_at LIMIT @limit)",
        PurgeTable.AlertHistory => "DELETE FROM alert_history WHERE id IN (SELECT id FROM alert_history WHERE changed_at < @before ORDER BY changed_at LIMIT @limit)",
        _ => "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < @before ORDER BY at LIMIT @limit)",
    };

    protected override void OnCommitFailed(int writer)
    {
        // The commit may have happened before the failure was seen: forget cached meter readings.
        _meters.Clear();
        _writer?.Dispose();
        _writer = null;
        using var pooled = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(pooled);
    }

    protected override ValueTask DisposeStorageAsync()
    {
        _writer?.Dispose();
        _writer = null;
        using var pooled = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(pooled);
        return ValueTask.CompletedTask;
    }

    protected override async Task CommitBatchAsync(int writer, List<WriteItem> batch, CancellationToken cancellationToken)
    {
        _writer ??= await Writer.OpenAsync(this, cancellationToken).ConfigureAwait(false);
        var w = _writer;
        _rollup.Clear();
        using var tx = w.Connection.BeginTransaction(deferred: false);
        w.Enlist(tx);
        foreach (var item in batch)
        {
            switch (item.Kind)
            {
                case WriteKind.Telemetry:
                    var r = item.Telemetry;
                    item.Outcome = w.InsertTelemetry(r) ? AppendResult.Inserted : AppendResult.Duplicate;
                    if (item.Outcome == AppendResult.Inserted)
                    {
                        if (Rollup.Apply(r, r.EnergyKwh is null ? null : LastReading(w, r.DeviceId), GetSchoolProfile(r.SchoolId), _rollup) is { } counted)
                        {
                            _rollup.MeterStates[r.DeviceId] = counted;
                        }
                    }
                    break;
                case WriteKind.Access:
                    item.Outcome = w.InsertAccess(item.Access) ? AppendResult.Inserted : AppendResult.Duplicate;
                    break;
                case WriteKind.Alert:
                    w.InsertAlert(item.Alert);
                    item.Outcome = AppendResult.Inserted;
                    break;
                case WriteKind.Audit:
                    w.InsertAudit(item.Audit);
                    item.Outcome = AppendResult.Inserted;
                    break;
            }
        }
        foreach (var (key, delta) in _rollup.Hourly)
        {
            w.UpsertBucket(w.UpsertHourly, key, delta);
        }
        foreach (var (key, delta) in _rollup.Daily)
        {
            w.UpsertBucket(w.UpsertDaily, key, delta);
        }
        foreach (var (device, state) in _rollup.MeterStates)
        {
            w.UpsertMeter(device, state);
        }
        tx.Commit();
        foreach (var (device, state) in _rollup.MeterStates)
        {
            _meters[device] = state;
        }
    }

    private MeterState? LastReading(Writer w, string device)
    {
        if (_rollup.MeterStates.TryGetValue(device, out var pending))
        {
            return pending;
        }
        if (_meters.TryGetValue(device, out var known))
        {
            return known;
        }
        return w.ReadMeter(device);
    }

    /// <summary>The writer connection and its prepared statements.</summary>
    private sealed class Writer : IDisposable
    {
        private readonly SqliteCommand[] _all;
        private readonly SqliteCommand _telemetry;
        private readonly SqliteCommand _access;
        private readonly SqliteCommand _alert;
        private readonly SqliteCommand _audit;
        private readonly SqliteCommand _readMeter;
        private readonly SqliteCommand _upsertMeter;

        private Writer(SqliteConnection connection)
        {
            Connection = connection;
            _telemetry = Prepare("INSERT INTO telemetry (" + SqlRows.TelemetryColumns + ") VALUES (" + Values(17) + ") ON CONFLICT DO NOTHING", 17);
            _access = Prepare("INSERT INTO access_log (" + SqlRows.AccessColumns + ") VALUES (" + Values(13) + ") ON CONFLICT DO NOTHING", 13);
            _alert = Prepare("INSERT INTO alert_history (" + SqlRows.AlertColumns + ") VALUES (" + Values(12) + ")", 12);
            _audit = Prepare("INSERT INTO audit_log (" + SqlRows.AuditColumns + ") VALUES (" + Values(6) + ")", 6);
            _readMeter = Prepare("SELECT boot, seq, energy_kwh, at_ms FROM meter_state WHERE device = $p0", 1);
            _upsertMeter = Prepare("""
                INSERT INTO meter_state (device, boot, seq, energy_kwh, at_ms) VALUES ($p0, $p1, $p2, $p3, $p4)
                ON CONFLICT (device) DO UPDATE SET boot = excluded.boot, seq = excluded.seq, energy_kwh = excluded.energy_kwh, at_ms = excluded.at_ms
                """, 5);
            UpsertHourly = Prepare(UpsertSql("energy_hourly"), 10);
            UpsertDaily = Prepare(UpsertSql("energy_daily"), 10);
            _all = [_telemetry, _access, _alert, _audit, _readMeter, _upsertMeter, UpsertHourly, UpsertDaily];
        }

        public SqliteConnection Connection { get; }
        public SqliteCommand UpsertHourly { get; }
        public SqliteCommand UpsertDaily { get; }

        public static async Task<Writer> OpenAsync(SqliteHistoryStore store, CancellationToken cancellationToken)
        {
            var conn = await store.OpenAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await using (var pragma = Command(conn, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"))
                {
                    await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                return new Writer(conn);
            }
            catch
            {
                await conn.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        private static string Values(int n) => string.Join(", ", Enumerable.Range(0, n).Select(i => "$p" + i.ToString(CultureInfo.InvariantCulture)));

        private static string UpsertSql(string table) => $"""
            INSERT INTO {table} ({SqlRows.RollupColumns}) VALUES ({Values(10)})
            ON CONFLICT (scope, entity, bucket) DO UPDATE SET
                energy_kwh = energy_kwh + excluded.energy_kwh,
                after_hours_kwh = after_hours_kwh + excluded.after_hours_kwh,
                power_sum = power_sum + excluded.power_sum,
                power_count = power_count + excluded.power_count,
                peak_power_w = CASE WHEN peak_power_w IS NULL OR excluded.peak_power_w > peak_power_w THEN excluded.peak_power_w ELSE peak_power_w END,
                samples = samples + excluded.samples
            """;

        private SqliteCommand Prepare(string sql, int parameters)
        {
            var cmd = Connection.CreateCommand();
            cmd.CommandText = sql;
            for (var i = 0; i < parameters; i++)
            {
                cmd.Parameters.Add(new SqliteParameter("$p" + i.ToString(CultureInfo.InvariantCulture), null));
            }
            return cmd;
        }

        public void Enlist(SqliteTransaction tx)
        {
            foreach (var cmd in _all)
            {
                cmd.Transaction = tx;
            }
        }

        private static int Run(SqliteCommand cmd, params ReadOnlySpan<object?> values)
        {
            for (var i = 0; i < values.Length; i++)
            {
                cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
            }
            return cmd.ExecuteNonQuery();
        }

        public bool InsertTelemetry(TelemetryRecord r) => Run(_telemetry,
            r.DeviceId, (long)r.Boot, (long)r.Seq, r.SchoolId, r.RoomId, r.Kind, SqlRows.Db(r.DeviceTime), r.ReceivedAt.ToUnixTimeMilliseconds(),
            r.EnergyKwh, r.PowerW, r.VoltageV, r.CurrentA, r.PowerFactor, r.TemperatureC, r.HumidityPct, r.Occupied, r.ReadingsJson) == 1;

        public bool InsertAccess(AccessLogEntry e) => Run(_access,
            e.SchoolId, e.RoomId, e.DoorId, e.EventType, e.PersonId, e.Card, e.Result, e.Reason, e.Source, e.Details,
            e.OccurredAt.ToUnixTimeMilliseconds(), e.Boot is { } b ? (long)b : null, e.Seq is { } s ? (long)s : null) == 1;

        public void InsertAlert(AlertSnapshot a) => Run(_alert,
            a.SchoolId, a.AlertId, a.Source, a.Type, a.Severity, a.State, a.RoomId, a.Message, a.Count, a.ChangedBy, a.Note, a.ChangedAt.ToUnixTimeMilliseconds());

        public void InsertAudit(AuditEntry a) => Run(_audit, a.SchoolId, a.Actor, a.Action, a.Target, a.Details, a.At.ToUnixTimeMilliseconds());

        public void UpsertBucket(SqliteCommand cmd, BucketKey key, BucketDelta d) => Run(cmd,
            key.Scope, key.Entity, key.Bucket, d.SchoolId, d.EnergyKwh, d.AfterHoursKwh, d.PowerSum, d.PowerCount, d.PeakPowerW, d.Samples);

        public void UpsertMeter(string device, MeterState s) => Run(_upsertMeter, device, (long)s.Boot, (long)s.Seq, s.EnergyKwh, s.AtMs);

        public MeterState? ReadMeter(string device)
        {
            _readMeter.Parameters[0].Value = device;
            using var r = _readMeter.ExecuteReader();
            return r.Read() ? new MeterState((uint)r.GetInt64(0), (uint)r.GetInt64(1), r.GetDouble(2), r.GetInt64(3)) : null;
        }

        public void Dispose()
        {
            foreach (var cmd in _all)
            {
                cmd.Dispose();
            }
            Connection.Dispose();
        }
    }
}
