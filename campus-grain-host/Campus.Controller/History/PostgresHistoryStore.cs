using System.Data.Common;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Campus.Controller.History;

/// <summary>
/// The history in PostgreSQL. One writer connection; per batch, one transaction in two round trips, and
/// one multi-row statement per table: <c>INSERT ... SELECT * FROM unnest(arrays) ON CONFLICT DO NOTHING RETURNING</c>
/// stores the telemetry and tells new rows from duplicates; rollups, meter states and log rows go the
/// same way. A large batch (option <see cref="HistoryOptions.PostgresCopyMinRows"/>) stores its telemetry
/// with a binary COPY straight into the table instead, which costs the server less per row (for up to
/// three more round trips); a COPY that meets a stored row (a redelivery) fails as a whole, and that batch is inserted as above. (A COPY into
/// a temporary staging table was measured first: truncating the staging table at every commit cost more
/// than the COPY saved.) Queries use pooled connections of a data source; statements are auto-prepared.
/// </summary>
internal sealed class PostgresHistoryStore : SqlHistoryStore
{
    private const long MigrationLockKey = 0x43616d7075734831; // "CampusH1"

    private static readonly string[][] Migrations =
    [
        [
            "CREATE TABLE history_schools (school text PRIMARY KEY, time_zone text NOT NULL, opening_hours text NOT NULL)",
            """
            CREATE TABLE telemetry (
                device text NOT NULL, boot bigint NOT NULL, seq bigint NOT NULL, school text NOT NULL, room text NOT NULL, kind text NOT NULL,
                device_time bigint, received_at bigint NOT NULL, energy_kwh double precision, power_w double precision,
                voltage_v double precision, current_a double precision, power_factor double precision, temperature_c double precision,
                humidity_pct double precision, occupied boolean, readings text,
                PRIMARY KEY (device, boot, seq))
            """,
            "CREATE INDEX telemetry_device_time ON telemetry (device, received_at)",
            // Rows arrive in time order: a BRIN index finds old rows for the purge at almost no write cost.
            "CREATE INDEX telemetry_received ON telemetry USING brin (received_at)",
            "CREATE TABLE meter_state (device text PRIMARY KEY, boot bigint NOT NULL, seq bigint NOT NULL, energy_kwh double precision NOT NULL, at_ms bigint NOT NULL)",
            """
            CREATE TABLE energy_hourly (scope smallint NOT NULL, entity text NOT NULL, bucket bigint NOT NULL, school text NOT NULL,
                energy_kwh double precision NOT NULL, after_hours_kwh double precision NOT NULL, power_sum double precision NOT NULL,
                power_count bigint NOT NULL, peak_power_w double precision, samples bigint NOT NULL, PRIMARY KEY (scope, entity, bucket))
            """,
            "CREATE INDEX energy_hourly_scope_bucket ON energy_hourly (scope, bucket)",
            """
            CREATE TABLE energy_daily (scope smallint NOT NULL, entity text NOT NULL, bucket bigint NOT NULL, school text NOT NULL,
                energy_kwh double precision NOT NULL, after_hours_kwh double precision NOT NULL, power_sum double precision NOT NULL,
                power_count bigint NOT NULL, peak_power_w double precision, samples bigint NOT NULL, PRIMARY KEY (scope, entity, bucket))
            """,
            "CREATE INDEX energy_daily_scope_bucket ON energy_daily (scope, bucket)",
            "CREATE INDEX energy_daily_school ON energy_daily (scope, school, bucket)",
            """
            CREATE TABLE access_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, school text NOT NULL, room text NOT NULL,
                door text NOT NULL, event_type text NOT NULL, person text, card text, result text, reason text, source text, details text,
                occurred_at bigint NOT NULL, boot bigint, seq bigint)
            """,
            "CREATE UNIQUE INDEX access_log_key ON access_log (door, boot, seq)",
            "CREATE INDEX access_log_school ON access_log (school, occurred_at, id)",
            "CREATE INDEX access_log_door ON access_log (school, door, occurred_at, id)",
            "CREATE INDEX access_log_person ON access_log (school, person, occurred_at, id)",
            "CREATE INDEX access_log_time ON access_log (occurred_at, id)",
            """
            CREATE TABLE alert_history (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, school text NOT NULL, alert_id text NOT NULL,
                source text NOT NULL, type text NOT NULL, severity text NOT NULL, state text NOT NULL, room text, message text,
                count bigint NOT NULL, changed_by text, note text, changed_at bigint NOT NULL)
            """,
            "CREATE INDEX alert_history_school ON alert_history (school, changed_at, id)",
            "CREATE INDEX alert_history_alert ON alert_history (alert_id, changed_at, id)",
            "CREATE INDEX alert_history_time ON alert_history (changed_at, id)",
            """
            CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, school text, actor text NOT NULL, action text NOT NULL,
                target text NOT NULL, details text, at bigint NOT NULL)
            """,
            "CREATE INDEX audit_log_school ON audit_log (school, at, id)",
            "CREATE INDEX audit_log_time ON audit_log (at, id)",
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
            """,
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        ],
        [
            // Telemetry only grows (the purge deletes in chunks and is followed by the usual vacuum): by
            // default an insert-triggered vacuum runs after 1,000 + 20% more rows, so a young, fast-filling
            // table is scanned again and again; here after a million + 20% more rows (PostgreSQL 13+).
            "ALTER TABLE telemetry SET (autovacuum_vacuum_insert_threshold = 1000000)",
            // A meter's row, when it has one, is updated in place: leave room on its page for the new
            // version, so the update stays on the page and touches no index (a HOT update).
            "ALTER TABLE meter_state SET (fillfactor = 50)",
        ],
    ];

    private static readonly string InsertTelemetry =
        "INSERT INTO telemetry (" + SqlRows.TelemetryColumns + ") SELECT * FROM unnest(@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, @p13, @p14, @p15, @p16)"
        + " ON CONFLICT DO NOTHING RETURNING device, boot, seq";

    private static readonly string CopyTelemetry = "COPY telemetry (" + SqlRows.TelemetryColumns + ") FROM STDIN (FORMAT BINARY)";

    /// <summary>After a COPY hit a stored row, how long the writer inserts instead.</summary>
    private static readonly TimeSpan CopyPause = TimeSpan.FromMinutes(1);

    private static readonly System.Diagnostics.Metrics.Counter<long> CopyFallbacks = HistoryMeter.CreateCounter<long>(
            "campus.history.copy_fallbacks", description: "Telemetry batches whose COPY met a stored row and were inserted instead");

    private static readonly string InsertAccess =
        "INSERT INTO access_log (" + SqlRows.AccessColumns + ") SELECT * FROM unnest(@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12)"
        + " ON CONFLICT DO NOTHING RETURNING door, boot, seq";

    private static readonly string InsertAlerts =
        "INSERT INTO alert_history (" + SqlRows.AlertColumns + ") SELECT * FROM unnest(@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11)";

    private static readonly string InsertAudit =
        "INSERT INTO audit_log (" + SqlRows.AuditColumns + ") SELECT * FROM unnest(@p0, @p1, @p2, @p3, @p4, @p5)";

    private const string UpsertMeters = """
        INSERT INTO meter_state (device, boot, seq, energy_kwh, at_ms) SELECT * FROM unnest(@p0, @p1, @p2, @p3, @p4)
        ON CONFLICT (device) DO UPDATE SET boot = EXCLUDED.boot, seq = EXCLUDED.seq, energy_kwh = EXCLUDED.energy_kwh, at_ms = EXCLUDED.at_ms
        """;

    private const string DeleteMeters = "DELETE FROM meter_state WHERE device = ANY(@p0)";

    /// <summary>
    /// Per meter: its <c>meter_state</c> row, if any, and its stored reading with the highest (boot, seq),
    /// found backwards on the primary key. Runs before the batch's telemetry is stored, in its transaction.
    /// </summary>
    private const string LoadMeters = """
        SELECT d.device, m.boot, m.seq, m.energy_kwh, m.at_ms, t.boot, t.seq, t.energy_kwh, t.device_time, t.received_at
        FROM unnest(@devices) AS d(device)
        LEFT JOIN meter_state m ON m.device = d.device
        LEFT JOIN LATERAL (SELECT boot, seq, energy_kwh, device_time, received_at FROM telemetry
            WHERE telemetry.device = d.device AND energy_kwh IS NOT NULL ORDER BY boot DESC, seq DESC LIMIT 1) t ON true
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly WriterState[] _writers;
    private readonly int _copyMinRows;
    private long _copyFallbacks;

    public PostgresHistoryStore(HistoryOptions options, TimeProvider time, ILogger logger)
        : base(options, time, logger)
    {
        var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        builder.ConnectionStringBuilder.CommandTimeout = Math.Max(1, (int)Math.Ceiling(options.CommandTimeout.TotalSeconds));
        // The writer's few statements run for every batch: let Npgsql prepare them on the server.
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 32;
            builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        }
        _dataSource = builder.Build();
        _copyMinRows = options.PostgresCopyMinRows;
        _writers = new WriterState[Math.Max(1, WriterCount(options))];
        for (var i = 0; i < _writers.Length; i++)
        {
            _writers[i] = new WriterState();
        }
    }

    /// <summary>Batches whose COPY met a stored row and were inserted instead.</summary>
    internal long CopyFallbackCount => Interlocked.Read(ref _copyFallbacks);

    /// <summary>Writer loops, each with its own connection.</summary>
    internal int WriterLoops => _writers.Length;

    /// <summary>
    /// Writers in parallel (option <see cref="HistoryOptions.Writers"/>, default 2), each on its own
    /// connection (one server process each): one writer's transaction runs in the server while the other
    /// builds its next batch, and the telemetry inserts run side by side; rollup rows shared by writers are
    /// upserted in one key order by all of them, so they wait on each other but never deadlock. With one
    /// writer its cycle (COPY, rollups, COMMIT) was the serial step of ingestion under load: on the 2-core
    /// test machine, two made 16,143–16,537 msg/s durable at 20,000/s offered where one made 13,980–15,547,
    /// with 1.87 cores busy instead of 1.71.
    /// </summary>
    private protected override int WriterCount(HistoryOptions options) => options.Writers > 0 ? options.Writers : 2;

    /// <summary>What one writer loop owns: its connection, its meters and its batch buffers.</summary>
    private sealed class WriterState
    {
        public NpgsqlConnection? Connection { get; set; }
        public Dictionary<string, MeterEntry> Meters { get; } = new(StringComparer.Ordinal);
        public RollupBatch Rollup { get; } = new();
        public HashSet<(string, long, long)> Keys { get; } = [];
        public List<TelemetryRecord> Fresh { get; } = [];
        public List<string> MissingMeters { get; } = [];
        public Dictionary<string, MeterEntry> LoadedMeters { get; } = new(StringComparer.Ordinal);
        /// <summary>Meters with a new reading in this batch.</summary>
        public List<MeterEntry> TouchedMeters { get; } = [];
        public List<MeterEntry> MeterUpserts { get; } = [];
        public List<string> MeterDeletes { get; } = [];
        /// <summary>Counts the writer's batches (marks the meters touched by the current one).</summary>
        public long BatchNumber { get; set; }
        public List<AccessLogEntry> Access { get; } = [];
        /// <summary>The batch's telemetry rows in COPY's binary format.</summary>
        public System.Buffers.ArrayBufferWriter<byte> CopyBuffer { get; } = new(64 * 1024);
        /// <summary>When the writer may COPY again after a COPY met a stored row.</summary>
        public DateTimeOffset CopyAgainAt { get; set; }
        public HashSet<(string, long, long)> AccessKeys { get; } = [];
        public List<AlertSnapshot> Alerts { get; } = [];
        public List<AuditEntry> Audit { get; } = [];
    }

    /// <summary>
    /// What a writer knows of one meter. Its state (the last reading counted, where the next delta starts)
    /// is, in the database, either the meter's <c>meter_state</c> row or, when it has none, its stored
    /// reading with the highest (boot, seq). The writer keeps it that way in every batch's transaction: it
    /// writes the row only while the state is not that reading (a reading of a new boot whose clock is
    /// behind was not counted, or a meter whose boot counter was reset counted a lower boot) and deletes
    /// it once it is again. So in the usual case, readings counted in order, a batch writes no meter row
    /// at all; and the retention purge keeps each meter's newest reading.
    /// </summary>
    private sealed class MeterEntry(string device)
    {
        public string Device { get; } = device;
        public MeterState? State { get; set; }
        public bool HasTop { get; set; }
        public uint TopBoot { get; set; }
        public uint TopSeq { get; set; }
        /// <summary>Whether <c>meter_state</c> holds <see cref="State"/>.</summary>
        public bool HasRow { get; set; }
        public long TouchedIn { get; set; } = -1;
        /// <summary>Whether a reading of the batch that touched it last changed its state.</summary>
        public bool CountedInBatch { get; set; }

        public bool StateIsTop => HasTop && State is { } s && s.Boot == TopBoot && s.Seq == TopSeq;

        public void See(uint boot, uint seq)
        {
            if (!HasTop || boot > TopBoot || (boot == TopBoot && seq > TopSeq))
            {
                (HasTop, TopBoot, TopSeq) = (true, boot, seq);
            }
        }
    }

    protected override async ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    protected override string Ordinal(string column) => column + " COLLATE \"C\"";

    protected override async Task<IReadOnlyList<SchoolProfile>> InitializeStorageAsync(CancellationToken cancellationToken)
    {
        await using var conn = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (var tx = await conn.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            await using (var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", conn, tx))
            {
                cmd.Parameters.AddWithValue("key", MigrationLockKey);
                await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await using (var cmd = new NpgsqlCommand("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL)", conn, tx))
            {
                await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            int current;
            await using (var cmd = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_version", conn, tx))
            {
                current = (int)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
            for (var v = current; v < Migrations.Length; v++)
            {
                foreach (var statement in Migrations[v])
                {
                    await using var cmd = new NpgsqlCommand(statement, conn, tx);
                    await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                await using var mark = new NpgsqlCommand("INSERT INTO schema_version (version, applied_at) VALUES (@v, @at)", conn, tx);
                mark.Parameters.AddWithValue("v", v + 1);
                mark.Parameters.AddWithValue("at", Time.GetUtcNow().ToUnixTimeMilliseconds());
                await mark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                Logger.LogInformation("History schema migrated to version {Version}", v + 1);
            }
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        var schools = new List<SchoolProfile>();
        await using var read = new NpgsqlCommand("SELECT school, time_zone, opening_hours FROM history_schools", conn);
        await using var r = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            schools.Add(new SchoolProfile(r.GetString(0), r.GetString(1), SchoolProfile.ParseOpeningHours(r.GetString(2))));
        }
        return schools;
    }

    protected override async Task StoreSchoolAsync(SchoolProfile profile, CancellationToken cancellationToken)
    {
        await using var cmd = _dataSource.CreateCommand("""
            INSERT INTO history_schools (school, time_zone, opening_hours) VALUES (@school, @zone, @hours)
            ON CONFLICT (school) DO UPDATE SET time_zone = EXCLUDED.time_zone, opening_hours = EXCLUDED.opening_hours
            """);
        cmd.Parameters.AddWithValue("school", profile.SchoolId);
        cmd.Parameters.AddWithValue("zone", profile.TimeZoneId);
        cmd.Parameters.AddWithValue("hours", profile.FormatOpeningHours());
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var cmd = _dataSource.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            _dataSource.Clear();
            throw;
        }
    }

    protected override string PurgeSql(PurgeTable table) => table switch
    {
        // Telemetry has its own loop (PurgeTableAsync below): each meter's newest reading stays.
        PurgeTable.Telemetry => throw new InvalidOperationException("Telemetry is purged by PurgeTableAsync."),
        PurgeTable.AccessLog => "DELETE FROM access_log WHERE id IN (SELECT id FROM access_log WHERE occurred_at < @before ORDER BY occurred_at LIMIT @limit)",
        PurgeTable.AlertHistory => "DELETE FROM alert_history WHERE id IN (SELECT id FROM alert_history WHERE changed_at < @before ORDER BY changed_at LIMIT @limit)",
        _ => "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < @before ORDER BY at LIMIT @limit)",
    };

    /// <summary>
    /// One chunk of old telemetry: up to <c>@limit</c> old rows not kept before in this purge, found by the
    /// BRIN index or the table scan alone (with a per-row check in the same scan, the planner chose to
    /// walk the whole (device, received_at) index once half the table was old); then, per meter among
    /// them, its newest reading with a counter (one backward probe of the primary key), which stays: it
    /// can be the meter's state (see MeterEntry). Returns the rows looked at, the rows deleted and the
    /// kept rows, which the next chunks skip.
    /// </summary>
    private const string PurgeTelemetryChunk = """
        WITH c AS MATERIALIZED (
            SELECT ctid, device, boot, seq, energy_kwh IS NOT NULL AS counted FROM telemetry
            WHERE received_at < @before AND ctid <> ALL(CAST(@kept AS tid[])) LIMIT @limit),
        newest AS MATERIALIZED (
            SELECT d.device, n.boot, n.seq FROM (SELECT DISTINCT device FROM c WHERE counted) d
            CROSS JOIN LATERAL (SELECT boot, seq FROM telemetry t WHERE t.device = d.device AND t.energy_kwh IS NOT NULL
                ORDER BY boot DESC, seq DESC LIMIT 1) n),
        keep AS MATERIALIZED (
            SELECT c.ctid FROM c JOIN newest n ON n.device = c.device AND n.boot = c.boot AND n.seq = c.seq),
        gone AS (
            DELETE FROM telemetry WHERE ctid = ANY (ARRAY(SELECT c.ctid FROM c LEFT JOIN keep k ON k.ctid = c.ctid WHERE k.ctid IS NULL))
            RETURNING 1)
        SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM gone), ARRAY(SELECT ctid::text FROM keep)
        """;

    /// <summary>
    /// Telemetry: chunk after chunk (each its own statement) until a chunk finds fewer rows than it may
    /// take. Kept rows are skipped by the next chunks, so every chunk looks at new rows and the loop ends.
    /// </summary>
    protected override async Task<long> PurgeTableAsync(PurgeTable table, long olderThanMs, int chunkSize, CancellationToken cancellationToken)
    {
        if (table != PurgeTable.Telemetry)
        {
            return await base.PurgeTableAsync(table, olderThanMs, chunkSize, cancellationToken).ConfigureAwait(false);
        }
        var kept = new List<string>();
        long deleted = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await using var cmd = _dataSource.CreateCommand(PurgeTelemetryChunk);
            cmd.Parameters.AddWithValue("before", olderThanMs);
            cmd.Parameters.AddWithValue("limit", chunkSize);
            cmd.Parameters.AddWithValue("kept", NpgsqlDbType.Array | NpgsqlDbType.Text, kept.ToArray());
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await r.ReadAsync(cancellationToken).ConfigureAwait(false);
            var examined = r.GetInt64(0);
            deleted += r.GetInt64(1);
            kept.AddRange(r.GetFieldValue<string[]>(2));
            if (examined < chunkSize)
            {
                return deleted;
            }
        }
    }

    protected override void OnCommitFailed(int writer)
    {
        // The commit may have happened before the failure was seen, and the batch changed meter entries
        // before it committed: forget every cached meter, drop the writer connection and every idle
        // pooled one (a restarted server killed them all).
        var w = _writers[writer];
        w.Meters.Clear();
        w.TouchedMeters.Clear();
        w.LoadedMeters.Clear();
        w.Connection?.Dispose();
        w.Connection = null;
        _dataSource.Clear();
    }

    protected override async ValueTask DisposeStorageAsync()
    {
        foreach (var w in _writers)
        {
            if (w.Connection is not null)
            {
                await w.Connection.DisposeAsync().ConfigureAwait(false);
                w.Connection = null;
            }
        }
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Two round trips per batch. First: BEGIN, the meters not cached yet, the telemetry insert (RETURNING
    /// the new keys), the access insert (RETURNING its new keys), alerts and audit rows. Then the rollups
    /// are computed here, and the second trip upserts them with the meter rows that changed and COMMITs.
    /// </summary>
    protected override async Task CommitBatchAsync(int writer, List<WriteItem> batch, CancellationToken cancellationToken)
    {
        var w = _writers[writer];
        w.Connection ??= await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var conn = w.Connection;
        w.Rollup.Clear();
        w.BatchNumber++;
        w.LoadedMeters.Clear();
        SplitBatch(w, batch);
        // In key order, consecutive rows descend the telemetry indexes along the same path (pages still in
        // the CPU's caches) instead of to a random one of thousands of devices each time.
        w.Fresh.Sort(TelemetryKeyOrder);

        var copied = _copyMinRows > 0 && w.Fresh.Count >= _copyMinRows && Time.GetUtcNow() >= w.CopyAgainAt
            && await TryCopyTelemetryAsync(w, conn, cancellationToken).ConfigureAwait(false);
        await using (var first = new NpgsqlBatch(conn))
        {
            if (!copied)
            {
                // The meters are read before the batch's own rows are stored (the COPY path read them first).
                first.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
                AddLoadMeters(first, w);
            }
            if (w.Fresh.Count > 0 && !copied)
            {
                var cmd = new NpgsqlBatchCommand(InsertTelemetry);
                AddTelemetryArrays(cmd.Parameters, w.Fresh);
                first.BatchCommands.Add(cmd);
            }
            if (w.Access.Count > 0)
            {
                first.BatchCommands.Add(AccessCommand(w.Access));
            }
            if (w.Alerts.Count > 0)
            {
                first.BatchCommands.Add(AlertCommand(w.Alerts));
            }
            if (w.Audit.Count > 0)
            {
                first.BatchCommands.Add(AuditCommand(w.Audit));
            }
            w.Keys.Clear();
            w.AccessKeys.Clear();
            if (copied)
            {
                // COPY succeeded, so every row was new.
                foreach (var t in w.Fresh)
                {
                    w.Keys.Add((t.DeviceId, t.Boot, t.Seq));
                }
            }
            // After a COPY with nothing else to send, there is no first trip at all.
            if (first.BatchCommands.Count > 0)
            {
                await ReadFirstAsync(first, w, copied, cancellationToken).ConfigureAwait(false);
            }
        }

        // The rollups of up to a whole batch run on the thread pool, not on the socket engine's thread that
        // completed the read (inline socket completions).
        await Task.Yield();
        SetOutcomes(w, batch);
        ChooseMeterRows(w);

        await using (var second = new NpgsqlBatch(conn))
        {
            AddBuckets(second, "energy_hourly", w.Rollup.Hourly);
            AddBuckets(second, "energy_daily", w.Rollup.Daily);
            AddMeterRows(second, w);
            second.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            await second.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The meters this batch needs and the writer has not cached yet (see <see cref="LoadMeters"/>).</summary>
    private static void AddLoadMeters(NpgsqlBatch batch, WriterState w)
    {
        if (w.MissingMeters.Count > 0)
        {
            var cmd = new NpgsqlBatchCommand(LoadMeters);
            cmd.Parameters.AddWithValue("devices", NpgsqlDbType.Array | NpgsqlDbType.Text, w.MissingMeters.ToArray());
            batch.BatchCommands.Add(cmd);
        }
    }

    /// <summary>Reads the result of <see cref="LoadMeters"/>: a meter's row wins, else its newest reading is its state.</summary>
    private async Task ReadMetersAsync(NpgsqlDataReader r, WriterState w, CancellationToken cancellationToken)
    {
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var meter = new MeterEntry(r.GetString(0));
            if (!r.IsDBNull(5))
            {
                meter.See((uint)r.GetInt64(5), (uint)r.GetInt64(6));
                long? deviceTime = r.IsDBNull(8) ? null : r.GetInt64(8);
                meter.State = new MeterState(meter.TopBoot, meter.TopSeq, r.GetDouble(7), Rollup.BookingTimeMs(deviceTime, r.GetInt64(9)));
            }
            if (!r.IsDBNull(1))
            {
                meter.State = new MeterState((uint)r.GetInt64(1), (uint)r.GetInt64(2), r.GetDouble(3), r.GetInt64(4));
                meter.HasRow = true;
            }
            w.LoadedMeters[meter.Device] = meter;
        }
    }

    /// <summary>
    /// Per meter with a new reading in the batch: its row is written when its state is not its newest
    /// reading and the row does not hold it yet, and deleted when its state is that reading again.
    /// </summary>
    private static void ChooseMeterRows(WriterState w)
    {
        w.MeterUpserts.Clear();
        w.MeterDeletes.Clear();
        foreach (var meter in w.TouchedMeters)
        {
            if (meter.StateIsTop)
            {
                if (meter.HasRow)
                {
                    w.MeterDeletes.Add(meter.Device);
                    meter.HasRow = false;
                }
            }
            else if (meter.State is not null && (!meter.HasRow || meter.CountedInBatch))
            {
                w.MeterUpserts.Add(meter);
                meter.HasRow = true;
            }
        }
        w.TouchedMeters.Clear();
    }

    /// <summary>Runs the first trip and reads what it returns: stored meters, new telemetry keys, new access keys.</summary>
    private async Task ReadFirstAsync(NpgsqlBatch first, WriterState w, bool copied, CancellationToken cancellationToken)
    {
        // Statements without rows (BEGIN, plain INSERT) yield no result set: the reader skips them.
        await using var r = await first.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var more = true;
        if (w.MissingMeters.Count > 0 && !copied)
        {
            await ReadMetersAsync(r, w, cancellationToken).ConfigureAwait(false);
            more = await r.NextResultAsync(cancellationToken).ConfigureAwait(false);
        }
        if (w.Fresh.Count > 0 && !copied && more)
        {
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                w.Keys.Add((r.GetString(0), r.GetInt64(1), r.GetInt64(2)));
            }
            more = await r.NextResultAsync(cancellationToken).ConfigureAwait(false);
        }
        if (w.Access.Count > 0 && more)
        {
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!r.IsDBNull(1))
                {
                    w.AccessKeys.Add((r.GetString(0), r.GetInt64(1), r.GetInt64(2)));
                }
            }
        }
        while (await r.NextResultAsync(cancellationToken).ConfigureAwait(false))
        {
            // Drain: errors of later statements surface here.
        }
    }

    /// <summary>
    /// Large batches: BEGIN, then a binary COPY of the telemetry rows. COPY has no ON CONFLICT, so a batch
    /// holding a row stored before (a redelivery after a crash) fails with a unique violation: the
    /// transaction is rolled back, the batch takes the INSERT path, and so do the writer's batches of the
    /// next minute (redeliveries come in bursts). Returns whether the rows were copied, inside an open
    /// transaction.
    /// </summary>
    private async Task<bool> TryCopyTelemetryAsync(WriterState w, NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        await using (var begin = new NpgsqlBatch(conn))
        {
            begin.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            AddLoadMeters(begin, w);
            await using var r = await begin.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (w.MissingMeters.Count > 0)
            {
                await ReadMetersAsync(r, w, cancellationToken).ConfigureAwait(false);
            }
        }
        try
        {
            w.CopyBuffer.ResetWrittenCount();
            TelemetryCopyFormat.Write(w.CopyBuffer, w.Fresh);
            var stream = await conn.BeginRawBinaryCopyAsync(CopyTelemetry, cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(w.CopyBuffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            }
            // Disposing the stream ended the COPY and read the server's answer: a stored row fails it here.
            return true;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await using (var rollback = new NpgsqlCommand("ROLLBACK", conn))
            {
                await rollback.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            // The INSERT path reads them again, in its own transaction.
            w.LoadedMeters.Clear();
            w.CopyAgainAt = Time.GetUtcNow() + CopyPause;
            Interlocked.Increment(ref _copyFallbacks);
            CopyFallbacks.Add(1);
            return false;
        }
    }

    private static readonly Comparison<TelemetryRecord> TelemetryKeyOrder = static (a, b) =>
    {
        var c = string.CompareOrdinal(a.DeviceId, b.DeviceId);
        if (c != 0) return c;
        c = a.Boot.CompareTo(b.Boot);
        return c != 0 ? c : a.Seq.CompareTo(b.Seq);
    };

    /// <summary>Sorts the batch by table; copies inside one batch are duplicates of their first copy.</summary>
    private static void SplitBatch(WriterState w, List<WriteItem> batch)
    {
        w.Keys.Clear();
        w.Fresh.Clear();
        w.Access.Clear();
        w.Alerts.Clear();
        w.Audit.Clear();
        w.MissingMeters.Clear();
        var meterDevices = new HashSet<string>(StringComparer.Ordinal);
        var accessKeys = new HashSet<(string, long, long)>();
        foreach (var item in batch)
        {
            switch (item.Kind)
            {
                case WriteKind.Telemetry:
                    var t = item.Telemetry;
                    if (w.Keys.Add((t.DeviceId, t.Boot, t.Seq)))
                    {
                        w.Fresh.Add(t);
                        if (t.EnergyKwh is not null && !w.Meters.ContainsKey(t.DeviceId) && meterDevices.Add(t.DeviceId))
                        {
                            w.MissingMeters.Add(t.DeviceId);
                        }
                    }
                    break;
                case WriteKind.Access:
                    var a = item.Access;
                    if (a.Boot is not { } boot || accessKeys.Add((a.DoorId, boot, a.Seq!.Value)))
                    {
                        w.Access.Add(a);
                    }
                    break;
                case WriteKind.Alert:
                    w.Alerts.Add(item.Alert);
                    break;
                case WriteKind.Audit:
                    w.Audit.Add(item.Audit);
                    break;
            }
        }
    }

    /// <summary>New rows are taken by their first copy in the batch; rollups follow the batch order.</summary>
    private void SetOutcomes(WriterState w, List<WriteItem> batch)
    {
        foreach (var item in batch)
        {
            switch (item.Kind)
            {
                case WriteKind.Telemetry:
                    var r = item.Telemetry;
                    if (!w.Keys.Remove((r.DeviceId, r.Boot, r.Seq)))
                    {
                        item.Outcome = AppendResult.Duplicate;
                        break;
                    }
                    item.Outcome = AppendResult.Inserted;
                    if (r.EnergyKwh is null)
                    {
                        Rollup.Apply(r, null, GetSchoolProfile(r.SchoolId), w.Rollup);
                        break;
                    }
                    var meter = TouchMeter(w, r.DeviceId);
                    meter.See(r.Boot, r.Seq);
                    if (Rollup.Apply(r, meter.State, GetSchoolProfile(r.SchoolId), w.Rollup) is { } counted)
                    {
                        meter.State = counted;
                        meter.CountedInBatch = true;
                    }
                    break;
                case WriteKind.Access:
                    var e = item.Access;
                    item.Outcome = e.Boot is not { } boot || w.AccessKeys.Remove((e.DoorId, boot, e.Seq!.Value)) ? AppendResult.Inserted : AppendResult.Duplicate;
                    break;
                default:
                    item.Outcome = AppendResult.Inserted;
                    break;
            }
        }
    }

    /// <summary>
    /// The writer's entry of a meter with a new reading in this batch: cached, loaded by this batch or new.
    /// Changed before the batch commits: a failed commit drops every cached entry (<see cref="OnCommitFailed"/>).
    /// </summary>
    private static MeterEntry TouchMeter(WriterState w, string device)
    {
        if (!w.Meters.TryGetValue(device, out var meter))
        {
            if (!w.LoadedMeters.TryGetValue(device, out meter))
            {
                meter = new MeterEntry(device);
            }
            w.Meters.Add(device, meter);
        }
        if (meter.TouchedIn != w.BatchNumber)
        {
            meter.TouchedIn = w.BatchNumber;
            meter.CountedInBatch = false;
            w.TouchedMeters.Add(meter);
        }
        return meter;
    }

    /// <summary>One array per column: the whole batch goes as one statement, whatever its size.</summary>
    private static void AddTelemetryArrays(NpgsqlParameterCollection p, List<TelemetryRecord> rows)
    {
        var n = rows.Count;
        var device = new string[n];
        var boot = new long[n];
        var seq = new long[n];
        var school = new string[n];
        var room = new string[n];
        var kind = new string[n];
        var deviceTime = new long?[n];
        var received = new long[n];
        var energy = new double?[n];
        var power = new double?[n];
        var voltage = new double?[n];
        var current = new double?[n];
        var factor = new double?[n];
        var temperature = new double?[n];
        var humidity = new double?[n];
        var occupied = new bool?[n];
        var readings = new string?[n];
        for (var i = 0; i < n; i++)
        {
            var r = rows[i];
            device[i] = r.DeviceId;
            boot[i] = r.Boot;
            seq[i] = r.Seq;
            school[i] = r.SchoolId;
            room[i] = r.RoomId;
            kind[i] = r.Kind;
            deviceTime[i] = r.DeviceTime?.ToUnixTimeMilliseconds();
            received[i] = r.ReceivedAt.ToUnixTimeMilliseconds();
            energy[i] = r.EnergyKwh;
            power[i] = r.PowerW;
            voltage[i] = r.VoltageV;
            current[i] = r.CurrentA;
            factor[i] = r.PowerFactor;
            temperature[i] = r.TemperatureC;
            humidity[i] = r.HumidityPct;
            occupied[i] = r.Occupied;
            readings[i] = r.ReadingsJson;
        }
        p.AddWithValue("p0", NpgsqlDbType.Array | NpgsqlDbType.Text, device);
        p.AddWithValue("p1", NpgsqlDbType.Array | NpgsqlDbType.Bigint, boot);
        p.AddWithValue("p2", NpgsqlDbType.Array | NpgsqlDbType.Bigint, seq);
        p.AddWithValue("p3", NpgsqlDbType.Array | NpgsqlDbType.Text, school);
        p.AddWithValue("p4", NpgsqlDbType.Array | NpgsqlDbType.Text, room);
        p.AddWithValue("p5", NpgsqlDbType.Array | NpgsqlDbType.Text, kind);
        p.AddWithValue("p6", NpgsqlDbType.Array | NpgsqlDbType.Bigint, deviceTime);
        p.AddWithValue("p7", NpgsqlDbType.Array | NpgsqlDbType.Bigint, received);
        p.AddWithValue("p8", NpgsqlDbType.Array | NpgsqlDbType.Double, energy);
        p.AddWithValue("p9", NpgsqlDbType.Array | NpgsqlDbType.Double, power);
        p.AddWithValue("p10", NpgsqlDbType.Array | NpgsqlDbType.Double, voltage);
        p.AddWithValue("p11", NpgsqlDbType.Array | NpgsqlDbType.Double, current);
        p.AddWithValue("p12", NpgsqlDbType.Array | NpgsqlDbType.Double, factor);
        p.AddWithValue("p13", NpgsqlDbType.Array | NpgsqlDbType.Double, temperature);
        p.AddWithValue("p14", NpgsqlDbType.Array | NpgsqlDbType.Double, humidity);
        p.AddWithValue("p15", NpgsqlDbType.Array | NpgsqlDbType.Boolean, occupied);
        p.AddWithValue("p16", NpgsqlDbType.Array | NpgsqlDbType.Text, readings);
    }

    private static NpgsqlBatchCommand AccessCommand(List<AccessLogEntry> items)
    {
        var cmd = new NpgsqlBatchCommand(InsertAccess);
        var p = cmd.Parameters;
        p.AddWithValue("p0", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.SchoolId).ToArray());
        p.AddWithValue("p1", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.RoomId).ToArray());
        p.AddWithValue("p2", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.DoorId).ToArray());
        p.AddWithValue("p3", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.EventType).ToArray());
        p.AddWithValue("p4", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.PersonId).ToArray());
        p.AddWithValue("p5", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.Card).ToArray());
        p.AddWithValue("p6", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.Result).ToArray());
        p.AddWithValue("p7", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.Reason).ToArray());
        p.AddWithValue("p8", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.Source).ToArray());
        p.AddWithValue("p9", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(e => e.Details).ToArray());
        p.AddWithValue("p10", NpgsqlDbType.Array | NpgsqlDbType.Bigint, items.Select(e => e.OccurredAt.ToUnixTimeMilliseconds()).ToArray());
        p.AddWithValue("p11", NpgsqlDbType.Array | NpgsqlDbType.Bigint, items.Select(e => (long?)e.Boot).ToArray());
        p.AddWithValue("p12", NpgsqlDbType.Array | NpgsqlDbType.Bigint, items.Select(e => (long?)e.Seq).ToArray());
        return cmd;
    }

    private static NpgsqlBatchCommand AlertCommand(List<AlertSnapshot> items)
    {
        var cmd = new NpgsqlBatchCommand(InsertAlerts);
        var p = cmd.Parameters;
        p.AddWithValue("p0", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.SchoolId).ToArray());
        p.AddWithValue("p1", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.AlertId).ToArray());
        p.AddWithValue("p2", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Source).ToArray());
        p.AddWithValue("p3", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Type).ToArray());
        p.AddWithValue("p4", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Severity).ToArray());
        p.AddWithValue("p5", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.State).ToArray());
        p.AddWithValue("p6", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.RoomId).ToArray());
        p.AddWithValue("p7", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Message).ToArray());
        p.AddWithValue("p8", NpgsqlDbType.Array | NpgsqlDbType.Bigint, items.Select(a => (long)a.Count).ToArray());
        p.AddWithValue("p9", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.ChangedBy).ToArray());
        p.AddWithValue("p10", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Note).ToArray());
        p.AddWithValue("p11", NpgsqlDbType.Array | NpgsqlDbType.Bigint, items.Select(a => a.ChangedAt.ToUnixTimeMilliseconds()).ToArray());
        return cmd;
    }

    private static NpgsqlBatchCommand AuditCommand(List<AuditEntry> items)
    {
        var cmd = new NpgsqlBatchCommand(InsertAudit);
        var p = cmd.Parameters;
        p.AddWithValue("p0", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.SchoolId).ToArray());
        p.AddWithValue("p1", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Actor).ToArray());
        p.AddWithValue("p2", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Action).ToArray());
        p.AddWithValue("p3", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Target).ToArray());
        p.AddWithValue("p4", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(a => a.Details).ToArray());
        p.AddWithValue("p5", NpgsqlDbType.Array | NpgsqlDbType.Bigint, items.Select(a => a.At.ToUnixTimeMilliseconds()).ToArray());
        return cmd;
    }

    private static void AddMeterRows(NpgsqlBatch batch, WriterState w)
    {
        if (w.MeterDeletes.Count > 0)
        {
            var delete = new NpgsqlBatchCommand(DeleteMeters);
            delete.Parameters.AddWithValue("p0", NpgsqlDbType.Array | NpgsqlDbType.Text, w.MeterDeletes.ToArray());
            batch.BatchCommands.Add(delete);
        }
        var n = w.MeterUpserts.Count;
        if (n == 0)
        {
            return;
        }
        var devices = new string[n];
        var boots = new long[n];
        var seqs = new long[n];
        var kwh = new double[n];
        var at = new long[n];
        for (var i = 0; i < n; i++)
        {
            var meter = w.MeterUpserts[i];
            var s = meter.State!.Value;
            devices[i] = meter.Device;
            boots[i] = s.Boot;
            seqs[i] = s.Seq;
            kwh[i] = s.EnergyKwh;
            at[i] = s.AtMs;
        }
        var cmd = new NpgsqlBatchCommand(UpsertMeters);
        cmd.Parameters.AddWithValue("p0", NpgsqlDbType.Array | NpgsqlDbType.Text, devices);
        cmd.Parameters.AddWithValue("p1", NpgsqlDbType.Array | NpgsqlDbType.Bigint, boots);
        cmd.Parameters.AddWithValue("p2", NpgsqlDbType.Array | NpgsqlDbType.Bigint, seqs);
        cmd.Parameters.AddWithValue("p3", NpgsqlDbType.Array | NpgsqlDbType.Double, kwh);
        cmd.Parameters.AddWithValue("p4", NpgsqlDbType.Array | NpgsqlDbType.Bigint, at);
        batch.BatchCommands.Add(cmd);
    }

    private static void AddBuckets(NpgsqlBatch batch, string table, Dictionary<BucketKey, BucketDelta> buckets)
    {
        var n = buckets.Count;
        if (n == 0)
        {
            return;
        }
        var scope = new short[n];
        var entity = new string[n];
        var bucket = new long[n];
        var school = new string[n];
        var energy = new double[n];
        var after = new double[n];
        var powerSum = new double[n];
        var powerCount = new long[n];
        var peak = new double?[n];
        var samples = new long[n];
        var i = 0;
        // Every writer locks shared rollup rows in the same order: no deadlocks between writers.
        foreach (var (key, d) in buckets.OrderBy(kv => kv.Key.Scope).ThenBy(kv => kv.Key.Entity, StringComparer.Ordinal).ThenBy(kv => kv.Key.Bucket))
        {
            scope[i] = (short)key.Scope;
            entity[i] = key.Entity;
            bucket[i] = key.Bucket;
            school[i] = d.SchoolId;
            energy[i] = d.EnergyKwh;
            after[i] = d.AfterHoursKwh;
            powerSum[i] = d.PowerSum;
            powerCount[i] = d.PowerCount;
            peak[i] = d.PeakPowerW;
            samples[i] = d.Samples;
            i++;
        }
        var cmd = new NpgsqlBatchCommand($"""
            INSERT INTO {table} AS t ({SqlRows.RollupColumns}) SELECT * FROM unnest(@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9)
            ON CONFLICT (scope, entity, bucket) DO UPDATE SET
                energy_kwh = t.energy_kwh + EXCLUDED.energy_kwh,
                after_hours_kwh = t.after_hours_kwh + EXCLUDED.after_hours_kwh,
                power_sum = t.power_sum + EXCLUDED.power_sum,
                power_count = t.power_count + EXCLUDED.power_count,
                peak_power_w = GREATEST(t.peak_power_w, EXCLUDED.peak_power_w),
                samples = t.samples + EXCLUDED.samples
            """);
        var p = cmd.Parameters;
        p.AddWithValue("p0", NpgsqlDbType.Array | NpgsqlDbType.Smallint, scope);
        p.AddWithValue("p1", NpgsqlDbType.Array | NpgsqlDbType.Text, entity);
        p.AddWithValue("p2", NpgsqlDbType.Array | NpgsqlDbType.Bigint, bucket);
        p.AddWithValue("p3", NpgsqlDbType.Array | NpgsqlDbType.Text, school);
        p.AddWithValue("p4", NpgsqlDbType.Array | NpgsqlDbType.Double, energy);
        p.AddWithValue("p5", NpgsqlDbType.Array | NpgsqlDbType.Double, after);
        p.AddWithValue("p6", NpgsqlDbType.Array | NpgsqlDbType.Double, powerSum);
        p.AddWithValue("p7", NpgsqlDbType.Array | NpgsqlDbType.Bigint, powerCount);
        p.AddWithValue("p8", NpgsqlDbType.Array | NpgsqlDbType.Double, peak);
        p.AddWithValue("p9", NpgsqlDbType.Array | NpgsqlDbType.Bigint, samples);
        batch.BatchCommands.Add(cmd);
    }
}
