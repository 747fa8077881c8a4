using System.Data.Common;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Campus.Controller.History;

/// <summary>
/// The history in PostgreSQL. One writer connection; per batch, one transaction: telemetry goes by binary
/// COPY into a temporary staging table, then <c>INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING</c>
/// tells new rows from duplicates; rollups, meter states and log rows go as multi-row statements over
/// <c>unnest</c> of arrays. Queries use pooled connections of a data source.
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
    ];

    private static readonly string CopyTelemetry = "COPY telemetry_staging (" + SqlRows.TelemetryColumns + ") FROM STDIN (FORMAT BINARY)";

    private static readonly string InsertTelemetry =
        "INSERT INTO telemetry (" + SqlRows.TelemetryColumns + ") SELECT " + SqlRows.TelemetryColumns
        + " FROM telemetry_staging ON CONFLICT DO NOTHING RETURNING device, boot, seq";

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

    private readonly NpgsqlDataSource _dataSource;
    private readonly Dictionary<string, MeterState> _meters = new(StringComparer.Ordinal);
    private readonly RollupBatch _rollup = new();
    private readonly HashSet<(string, long, long)> _keys = [];
    private readonly List<TelemetryRecord> _fresh = [];
    private readonly List<string> _missingMeters = [];
    private NpgsqlConnection? _writer;

    public PostgresHistoryStore(HistoryOptions options, TimeProvider time, ILogger logger)
        : base(options, time, logger)
    {
        var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        builder.ConnectionStringBuilder.CommandTimeout = Math.Max(1, (int)Math.Ceiling(options.CommandTimeout.TotalSeconds));
        _dataSource = builder.Build();
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
        PurgeTable.Telemetry => "DELETE FROM telemetry WHERE ctid = ANY (ARRAY(SELECT ctid FROM telemetry WHERE received_at < @before LIMIT @limit))",
        PurgeTable.AccessLog => "DELETE FROM access_log WHERE id IN (SELECT id FROM access_log WHERE occurred_at < @before ORDER BY occurred_at LIMIT @limit)",
        PurgeTable.AlertHistory => "DELETE FROM alert_history WHERE id IN (SELECT id FROM alert_history WHERE changed_at < @before ORDER BY changed_at LIMIT @limit)",
        _ => "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < @before ORDER BY at LIMIT @limit)",
    };

    protected override void OnCommitFailed()
    {
        // The commit may have happened before the failure was seen: forget cached meter readings,
        // drop the writer connection and every idle pooled one (a restarted server killed them all).
        _meters.Clear();
        _writer?.Dispose();
        _writer = null;
        _dataSource.Clear();
    }

    protected override async ValueTask DisposeStorageAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            _writer = null;
        }
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<NpgsqlConnection> OpenWriterAsync(CancellationToken cancellationToken)
    {
        var conn = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var cmd = new NpgsqlCommand("CREATE TEMP TABLE IF NOT EXISTS telemetry_staging (LIKE telemetry) ON COMMIT DELETE ROWS", conn);
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    protected override async Task CommitBatchAsync(List<WriteItem> batch, CancellationToken cancellationToken)
    {
        _writer ??= await OpenWriterAsync(cancellationToken).ConfigureAwait(false);
        var conn = _writer;
        _rollup.Clear();
        await using var tx = await conn.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await WriteTelemetryAsync(conn, tx, batch, cancellationToken).ConfigureAwait(false);
        await WriteAccessAsync(conn, tx, batch, cancellationToken).ConfigureAwait(false);
        await WriteAlertsAsync(conn, tx, batch, cancellationToken).ConfigureAwait(false);
        await WriteAuditAsync(conn, tx, batch, cancellationToken).ConfigureAwait(false);
        await WriteRollupsAsync(conn, tx, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (device, state) in _rollup.MeterStates)
        {
            _meters[device] = state;
        }
    }

    private async Task WriteTelemetryAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<WriteItem> batch, CancellationToken cancellationToken)
    {
        // Copies inside one batch are duplicates of the first; only first copies go to the database.
        _keys.Clear();
        _fresh.Clear();
        foreach (var item in batch)
        {
            if (item.Kind != WriteKind.Telemetry)
            {
                continue;
            }
            var r = item.Telemetry;
            if (_keys.Add((r.DeviceId, r.Boot, r.Seq)))
            {
                _fresh.Add(r);
            }
        }
        if (_fresh.Count == 0)
        {
            return;
        }
        await using (var importer = await conn.BeginBinaryImportAsync(CopyTelemetry, cancellationToken).ConfigureAwait(false))
        {
            foreach (var r in _fresh)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                importer.Write(r.DeviceId, NpgsqlDbType.Text);
                importer.Write((long)r.Boot, NpgsqlDbType.Bigint);
                importer.Write((long)r.Seq, NpgsqlDbType.Bigint);
                importer.Write(r.SchoolId, NpgsqlDbType.Text);
                importer.Write(r.RoomId, NpgsqlDbType.Text);
                importer.Write(r.Kind, NpgsqlDbType.Text);
                WriteNullable(importer, r.DeviceTime?.ToUnixTimeMilliseconds());
                importer.Write(r.ReceivedAt.ToUnixTimeMilliseconds(), NpgsqlDbType.Bigint);
                WriteNullable(importer, r.EnergyKwh);
                WriteNullable(importer, r.PowerW);
                WriteNullable(importer, r.VoltageV);
                WriteNullable(importer, r.CurrentA);
                WriteNullable(importer, r.PowerFactor);
                WriteNullable(importer, r.TemperatureC);
                WriteNullable(importer, r.HumidityPct);
                if (r.Occupied is { } occupied)
                {
                    importer.Write(occupied, NpgsqlDbType.Boolean);
                }
                else
                {
                    importer.WriteNull();
                }
                if (r.ReadingsJson is { } json)
                {
                    importer.Write(json, NpgsqlDbType.Text);
                }
                else
                {
                    importer.WriteNull();
                }
            }
            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        _keys.Clear();
        await using (var insert = new NpgsqlCommand(InsertTelemetry, conn, tx))
        await using (var reader = await insert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                _keys.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
            }
        }
        // _keys now holds the rows that were new; each is taken by its first copy in the batch.
        _missingMeters.Clear();
        foreach (var r in _fresh)
        {
            if (r.EnergyKwh is not null && _keys.Contains((r.DeviceId, r.Boot, r.Seq)) && !_meters.ContainsKey(r.DeviceId))
            {
                _missingMeters.Add(r.DeviceId);
            }
        }
        var loaded = await ReadMetersAsync(conn, tx, cancellationToken).ConfigureAwait(false);
        foreach (var item in batch)
        {
            if (item.Kind != WriteKind.Telemetry)
            {
                continue;
            }
            var r = item.Telemetry;
            if (!_keys.Remove((r.DeviceId, r.Boot, r.Seq)))
            {
                item.Outcome = AppendResult.Duplicate;
                continue;
            }
            item.Outcome = AppendResult.Inserted;
            MeterState? previous = null;
            if (r.EnergyKwh is not null)
            {
                previous = _rollup.MeterStates.TryGetValue(r.DeviceId, out var s) ? s
                    : _meters.TryGetValue(r.DeviceId, out s) ? s
                    : loaded is not null && loaded.TryGetValue(r.DeviceId, out s) ? s : null;
            }
            Rollup.Apply(r, previous, GetSchoolProfile(r.SchoolId), _rollup);
        }
    }

    private static void WriteNullable(NpgsqlBinaryImporter importer, double? value)
    {
        if (value is { } v)
        {
            importer.Write(v, NpgsqlDbType.Double);
        }
        else
        {
            importer.WriteNull();
        }
    }

    private static void WriteNullable(NpgsqlBinaryImporter importer, long? value)
    {
        if (value is { } v)
        {
            importer.Write(v, NpgsqlDbType.Bigint);
        }
        else
        {
            importer.WriteNull();
        }
    }

    private async Task<Dictionary<string, MeterState>?> ReadMetersAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        if (_missingMeters.Count == 0)
        {
            return null;
        }
        var loaded = new Dictionary<string, MeterState>(_missingMeters.Count, StringComparer.Ordinal);
        await using var cmd = new NpgsqlCommand("SELECT device, boot, seq, energy_kwh, at_ms FROM meter_state WHERE device = ANY(@devices)", conn, tx);
        cmd.Parameters.AddWithValue("devices", _missingMeters.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            loaded[r.GetString(0)] = new MeterState((uint)r.GetInt64(1), (uint)r.GetInt64(2), r.GetDouble(3), r.GetInt64(4));
        }
        return loaded;
    }

    private static async Task WriteAccessAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<WriteItem> batch, CancellationToken cancellationToken)
    {
        var items = new List<WriteItem>();
        var keys = new HashSet<(string, long, long)>();
        foreach (var item in batch)
        {
            if (item.Kind != WriteKind.Access)
            {
                continue;
            }
            var e = item.Access;
            if (e.Boot is { } boot && !keys.Add((e.DoorId, boot, e.Seq!.Value)))
            {
                item.Outcome = AppendResult.Duplicate;
                continue;
            }
            items.Add(item);
        }
        if (items.Count == 0)
        {
            return;
        }
        await using var cmd = new NpgsqlCommand(InsertAccess, conn, tx);
        cmd.Parameters.AddWithValue("p0", items.Select(i => i.Access.SchoolId).ToArray());
        cmd.Parameters.AddWithValue("p1", items.Select(i => i.Access.RoomId).ToArray());
        cmd.Parameters.AddWithValue("p2", items.Select(i => i.Access.DoorId).ToArray());
        cmd.Parameters.AddWithValue("p3", items.Select(i => i.Access.EventType).ToArray());
        cmd.Parameters.AddWithValue("p4", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Access.PersonId).ToArray());
        cmd.Parameters.AddWithValue("p5", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Access.Card).ToArray());
        cmd.Parameters.AddWithValue("p6", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Access.Result).ToArray());
        cmd.Parameters.AddWithValue("p7", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Access.Reason).ToArray());
        cmd.Parameters.AddWithValue("p8", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Access.Source).ToArray());
        cmd.Parameters.AddWithValue("p9", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Access.Details).ToArray());
        cmd.Parameters.AddWithValue("p10", items.Select(i => i.Access.OccurredAt.ToUnixTimeMilliseconds()).ToArray());
        cmd.Parameters.AddWithValue("p11", NpgsqlDbType.Array | NpgsqlDbType.Bigint, items.Select(i => (long?)i.Access.Boot).ToArray());
        cmd.Parameters.AddWithValue("p12", NpgsqlDbType.Array | NpgsqlDbType.Bigint, items.Select(i => (long?)i.Access.Seq).ToArray());
        keys.Clear();
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!r.IsDBNull(1))
                {
                    keys.Add((r.GetString(0), r.GetInt64(1), r.GetInt64(2)));
                }
            }
        }
        foreach (var item in items)
        {
            var e = item.Access;
            item.Outcome = e.Boot is not { } boot || keys.Contains((e.DoorId, boot, e.Seq!.Value)) ? AppendResult.Inserted : AppendResult.Duplicate;
        }
    }

    private static async Task WriteAlertsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<WriteItem> batch, CancellationToken cancellationToken)
    {
        var items = batch.Where(i => i.Kind == WriteKind.Alert).ToList();
        if (items.Count == 0)
        {
            return;
        }
        await using var cmd = new NpgsqlCommand(InsertAlerts, conn, tx);
        cmd.Parameters.AddWithValue("p0", items.Select(i => i.Alert.SchoolId).ToArray());
        cmd.Parameters.AddWithValue("p1", items.Select(i => i.Alert.AlertId).ToArray());
        cmd.Parameters.AddWithValue("p2", items.Select(i => i.Alert.Source).ToArray());
        cmd.Parameters.AddWithValue("p3", items.Select(i => i.Alert.Type).ToArray());
        cmd.Parameters.AddWithValue("p4", items.Select(i => i.Alert.Severity).ToArray());
        cmd.Parameters.AddWithValue("p5", items.Select(i => i.Alert.State).ToArray());
        cmd.Parameters.AddWithValue("p6", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Alert.RoomId).ToArray());
        cmd.Parameters.AddWithValue("p7", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Alert.Message).ToArray());
        cmd.Parameters.AddWithValue("p8", items.Select(i => (long)i.Alert.Count).ToArray());
        cmd.Parameters.AddWithValue("p9", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Alert.ChangedBy).ToArray());
        cmd.Parameters.AddWithValue("p10", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Alert.Note).ToArray());
        cmd.Parameters.AddWithValue("p11", items.Select(i => i.Alert.ChangedAt.ToUnixTimeMilliseconds()).ToArray());
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        foreach (var item in items)
        {
            item.Outcome = AppendResult.Inserted;
        }
    }

    private static async Task WriteAuditAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<WriteItem> batch, CancellationToken cancellationToken)
    {
        var items = batch.Where(i => i.Kind == WriteKind.Audit).ToList();
        if (items.Count == 0)
        {
            return;
        }
        await using var cmd = new NpgsqlCommand(InsertAudit, conn, tx);
        cmd.Parameters.AddWithValue("p0", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Audit.SchoolId).ToArray());
        cmd.Parameters.AddWithValue("p1", items.Select(i => i.Audit.Actor).ToArray());
        cmd.Parameters.AddWithValue("p2", items.Select(i => i.Audit.Action).ToArray());
        cmd.Parameters.AddWithValue("p3", items.Select(i => i.Audit.Target).ToArray());
        cmd.Parameters.AddWithValue("p4", NpgsqlDbType.Array | NpgsqlDbType.Text, items.Select(i => i.Audit.Details).ToArray());
        cmd.Parameters.AddWithValue("p5", items.Select(i => i.Audit.At.ToUnixTimeMilliseconds()).ToArray());
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        foreach (var item in items)
        {
            item.Outcome = AppendResult.Inserted;
        }
    }

    private async Task WriteRollupsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await UpsertBucketsAsync(conn, tx, "energy_hourly", _rollup.Hourly, cancellationToken).ConfigureAwait(false);
        await UpsertBucketsAsync(conn, tx, "energy_daily", _rollup.Daily, cancellationToken).ConfigureAwait(false);
        if (_rollup.MeterStates.Count == 0)
        {
            return;
        }
        var n = _rollup.MeterStates.Count;
        var devices = new string[n];
        var boots = new long[n];
        var seqs = new long[n];
        var kwh = new double[n];
        var at = new long[n];
        var i = 0;
        foreach (var (device, s) in _rollup.MeterStates)
        {
            devices[i] = device;
            boots[i] = s.Boot;
            seqs[i] = s.Seq;
            kwh[i] = s.EnergyKwh;
            at[i] = s.AtMs;
            i++;
        }
        await using var cmd = new NpgsqlCommand(UpsertMeters, conn, tx);
        cmd.Parameters.AddWithValue("p0", devices);
        cmd.Parameters.AddWithValue("p1", boots);
        cmd.Parameters.AddWithValue("p2", seqs);
        cmd.Parameters.AddWithValue("p3", kwh);
        cmd.Parameters.AddWithValue("p4", at);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task UpsertBucketsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string table, Dictionary<BucketKey, BucketDelta> buckets, CancellationToken cancellationToken)
    {
        if (buckets.Count == 0)
        {
            return;
        }
        var n = buckets.Count;
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
        foreach (var (key, d) in buckets)
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
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO {table} AS t ({SqlRows.RollupColumns}) SELECT * FROM unnest(@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9)
            ON CONFLICT (scope, entity, bucket) DO UPDATE SET
                energy_kwh = t.energy_kwh + EXCLUDED.energy_kwh,
                after_hours_kwh = t.after_hours_kwh + EXCLUDED.after_hours_kwh,
                power_sum = t.power_sum + EXCLUDED.power_sum,
                power_count = t.power_count + EXCLUDED.power_count,
                peak_power_w = GREATEST(t.peak_power_w, EXCLUDED.peak_power_w),
                samples = t.samples + EXCLUDED.samples
            """, conn, tx);
        cmd.Parameters.AddWithValue("p0", scope);
        cmd.Parameters.AddWithValue("p1", entity);
        cmd.Parameters.AddWithValue("p2", bucket);
        cmd.Parameters.AddWithValue("p3", school);
        cmd.Parameters.AddWithValue("p4", energy);
        cmd.Parameters.AddWithValue("p5", after);
        cmd.Parameters.AddWithValue("p6", powerSum);
        cmd.Parameters.AddWithValue("p7", powerCount);
        cmd.Parameters.AddWithValue("p8", peak);
        cmd.Parameters.AddWithValue("p9", samples);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
