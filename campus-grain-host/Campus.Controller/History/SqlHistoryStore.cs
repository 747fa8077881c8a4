using System.Data.Common;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Campus.Controller.History;

/// <summary>Column lists and row readers shared by the SQL stores.</summary>
internal static class SqlRows
{
    public const string TelemetryColumns =
        "device, boot, seq, school, room, kind, device_time, received_at, energy_kwh, power_w, voltage_v, current_a, power_factor, temperature_c, humidity_pct, occupied, readings";

    public const string AccessColumns = "school, room, door, event_type, person, card, result, reason, source, details, occurred_at, boot, seq";

    public const string AlertColumns = "school, alert_id, source, type, severity, state, room, message, count, changed_by, note, changed_at";

    public const string AuditColumns = "school, actor, action, target, details, at";

    public const string RollupColumns = "scope, entity, bucket, school, energy_kwh, after_hours_kwh, power_sum, power_count, peak_power_w, samples";

    /// <summary>A telemetry row's id: its (boot, seq), unique per device.</summary>
    public static long TelemetryId(uint boot, uint seq) => ((long)boot << 32) | seq;

    public static double? NullableDouble(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);

    public static string? NullableString(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static DateTimeOffset Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs);

    public static object Db(object? value) => value ?? DBNull.Value;

    public static object Db(DateTimeOffset? value) => value is { } v ? v.ToUnixTimeMilliseconds() : DBNull.Value;

    /// <summary>Reads a telemetry row selected as <c>TelemetryColumns</c>.</summary>
    public static TelemetryRecord ReadTelemetry(DbDataReader r) => new()
    {
        DeviceId = r.GetString(0),
        Boot = checked((uint)r.GetInt64(1)),
        Seq = checked((uint)r.GetInt64(2)),
        SchoolId = r.GetString(3),
        RoomId = r.GetString(4),
        Kind = r.GetString(5),
        DeviceTime = r.IsDBNull(6) ? null : Time(r.GetInt64(6)),
        ReceivedAt = Time(r.GetInt64(7)),
        EnergyKwh = NullableDouble(r, 8),
        PowerW = NullableDouble(r, 9),
        VoltageV = NullableDouble(r, 10),
        CurrentA = NullableDouble(r, 11),
        PowerFactor = NullableDouble(r, 12),
        TemperatureC = NullableDouble(r, 13),
        HumidityPct = NullableDouble(r, 14),
        Occupied = r.IsDBNull(15) ? null : r.GetBoolean(15),
        ReadingsJson = NullableString(r, 16),
    };
}

/// <summary>
/// What the SQLite and PostgreSQL stores share: the queries (plain SQL that both dialects accept, with
/// only the filters asked for) and the retention purge loop. Each backend brings its connection,
/// schema migrations and batch commit.
/// </summary>
internal abstract class SqlHistoryStore : HistoryStoreBase
{
    protected SqlHistoryStore(HistoryOptions options, TimeProvider time, ILogger logger)
        : base(options, time, logger)
    {
    }

    /// <summary>An open connection for a query; disposed by the caller.</summary>
    protected abstract ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken);

    /// <summary>A text column in byte order (PostgreSQL's default collation is linguistic).</summary>
    protected virtual string Ordinal(string column) => column;

    /// <summary>Deletes at most @limit rows older than @before (Unix ms) of one table.</summary>
    protected abstract string PurgeSql(PurgeTable table);

    protected static DbCommand Command(DbConnection connection, string sql)
    {
        var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd;
    }

    protected static void Add(DbCommand cmd, string name, object value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        cmd.Parameters.Add(p);
    }

    protected override async Task<long> PurgeTableAsync(PurgeTable table, long olderThanMs, int chunkSize, CancellationToken cancellationToken)
    {
        await using var conn = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(conn, PurgeSql(table));
        Add(cmd, "before", olderThanMs);
        Add(cmd, "limit", chunkSize);
        return await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task<List<(long Bucket, BucketDelta Row)>> ReadBucketsAsync(bool hourly, int scope, string? entity, string? schoolId, long from, long toExclusive, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder(
            "SELECT bucket, SUM(energy_kwh), SUM(after_hours_kwh), SUM(power_sum), CAST(SUM(power_count) AS bigint), MAX(peak_power_w), CAST(SUM(samples) AS bigint) FROM ")
            .Append(hourly ? "energy_hourly" : "energy_daily")
            .Append(" WHERE scope = @scope AND bucket >= @from AND bucket < @to");
        if (entity is not null)
        {
            sql.Append(" AND entity = @entity");
        }
        if (schoolId is not null)
        {
            sql.Append(" AND school = @school");
        }
        sql.Append(" GROUP BY bucket ORDER BY bucket");
        await using var conn = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(conn, sql.ToString());
        Add(cmd, "scope", (short)scope);
        Add(cmd, "from", from);
        Add(cmd, "to", toExclusive);
        if (entity is not null)
        {
            Add(cmd, "entity", entity);
        }
        if (schoolId is not null)
        {
            Add(cmd, "school", schoolId);
        }
        var rows = new List<(long, BucketDelta)>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add((r.GetInt64(0), new BucketDelta(schoolId ?? string.Empty)
            {
                EnergyKwh = r.GetDouble(1),
                AfterHoursKwh = r.GetDouble(2),
                PowerSum = r.GetDouble(3),
                PowerCount = r.GetInt64(4),
                PeakPowerW = SqlRows.NullableDouble(r, 5),
                Samples = r.GetInt64(6),
            }));
        }
        return rows;
    }

    protected override async Task<List<(string Entity, double AfterHoursKwh, double EnergyKwh)>> ReadRankingAsync(string? schoolId, int fromDay, int toDay, int offset, int limit, CancellationToken cancellationToken)
    {
        var sql = "SELECT entity, SUM(after_hours_kwh) AS after_hours, SUM(energy_kwh) FROM energy_daily WHERE scope = @scope AND bucket >= @from AND bucket <= @to"
            + (schoolId is null ? string.Empty : " AND school = @school")
            + " GROUP BY entity ORDER BY after_hours DESC, " + Ordinal("entity") + " LIMIT @limit OFFSET @offset";
        await using var conn = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(conn, sql);
        Add(cmd, "scope", (short)(schoolId is null ? RollupScope.School : RollupScope.Room));
        Add(cmd, "from", (long)fromDay);
        Add(cmd, "to", (long)toDay);
        if (schoolId is not null)
        {
            Add(cmd, "school", schoolId);
        }
        Add(cmd, "limit", (long)limit);
        Add(cmd, "offset", (long)offset);
        var rows = new List<(string, double, double)>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add((r.GetString(0), r.GetDouble(1), r.GetDouble(2)));
        }
        return rows;
    }

    protected override async Task<Page<StoredTelemetry>> ReadTelemetryAsync(TelemetryQuery query, int limit, Cursor? after, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("SELECT ").Append(SqlRows.TelemetryColumns)
            .Append(" FROM telemetry WHERE device = @device AND school = @school AND received_at >= @from AND received_at < @to");
        if (after is not null)
        {
            sql.Append(" AND (received_at, boot, seq) < (@cat, @cboot, @cseq)");
        }
        sql.Append(" ORDER BY received_at DESC, boot DESC, seq DESC LIMIT @limit");
        await using var conn = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(conn, sql.ToString());
        Add(cmd, "device", query.DeviceId);
        Add(cmd, "school", query.SchoolId);
        Add(cmd, "from", query.From.ToUnixTimeMilliseconds());
        Add(cmd, "to", query.To.ToUnixTimeMilliseconds());
        if (after is { } c)
        {
            Add(cmd, "cat", c.AtMs);
            Add(cmd, "cboot", (long)((ulong)c.Id >> 32));
            Add(cmd, "cseq", c.Id & uint.MaxValue);
        }
        Add(cmd, "limit", (long)limit + 1);
        var items = new List<StoredTelemetry>(Math.Min(limit + 1, 256));
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var record = SqlRows.ReadTelemetry(r);
            items.Add(new StoredTelemetry(SqlRows.TelemetryId(record.Boot, record.Seq), record));
        }
        return PageOf(items, limit, t => t.Record.ReceivedAt, t => t.Id);
    }

    protected override async Task<Page<StoredAccessLogEntry>> ReadAccessLogAsync(AccessLogQuery query, int limit, Cursor? after, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("SELECT id, ").Append(SqlRows.AccessColumns).Append(" FROM access_log WHERE 1 = 1");
        await using var conn = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(conn, string.Empty);
        Filter(cmd, sql, "school", query.SchoolId);
        Filter(cmd, sql, "door", query.DoorId);
        Filter(cmd, sql, "person", query.PersonId);
        Range(cmd, sql, "occurred_at", query.From, query.To, after);
        sql.Append(" ORDER BY occurred_at DESC, id DESC LIMIT @limit");
        AddCursor(cmd, after, limit);
        cmd.CommandText = sql.ToString();
        var items = new List<StoredAccessLogEntry>(Math.Min(limit + 1, 256));
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(new StoredAccessLogEntry(r.GetInt64(0), new AccessLogEntry
            {
                SchoolId = r.GetString(1),
                RoomId = r.GetString(2),
                DoorId = r.GetString(3),
                EventType = r.GetString(4),
                PersonId = SqlRows.NullableString(r, 5),
                Card = SqlRows.NullableString(r, 6),
                Result = SqlRows.NullableString(r, 7),
                Reason = SqlRows.NullableString(r, 8),
                Source = SqlRows.NullableString(r, 9),
                Details = SqlRows.NullableString(r, 10),
                OccurredAt = SqlRows.Time(r.GetInt64(11)),
                Boot = r.IsDBNull(12) ? null : checked((uint)r.GetInt64(12)),
                Seq = r.IsDBNull(13) ? null : checked((uint)r.GetInt64(13)),
            }));
        }
        return PageOf(items, limit, e => e.Entry.OccurredAt, e => e.Id);
    }

    protected override async Task<Page<StoredAlertSnapshot>> ReadAlertHistoryAsync(AlertHistoryQuery query, int limit, Cursor? after, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("SELECT id, ").Append(SqlRows.AlertColumns).Append(" FROM alert_history WHERE 1 = 1");
        await using var conn = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(conn, string.Empty);
        Filter(cmd, sql, "school", query.SchoolId);
        Filter(cmd, sql, "alert_id", query.AlertId);
        Range(cmd, sql, "changed_at", query.From, query.To, after);
        sql.Append(" ORDER BY changed_at DESC, id DESC LIMIT @limit");
        AddCursor(cmd, after, limit);
        cmd.CommandText = sql.ToString();
        var items = new List<StoredAlertSnapshot>(Math.Min(limit + 1, 256));
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(new StoredAlertSnapshot(r.GetInt64(0), new AlertSnapshot
            {
                SchoolId = r.GetString(1),
                AlertId = r.GetString(2),
                Source = r.GetString(3),
                Type = r.GetString(4),
                Severity = r.GetString(5),
                State = r.GetString(6),
                RoomId = SqlRows.NullableString(r, 7),
                Message = SqlRows.NullableString(r, 8),
                Count = checked((int)r.GetInt64(9)),
                ChangedBy = SqlRows.NullableString(r, 10),
                Note = SqlRows.NullableString(r, 11),
                ChangedAt = SqlRows.Time(r.GetInt64(12)),
            }));
        }
        return PageOf(items, limit, a => a.Snapshot.ChangedAt, a => a.Id);
    }

    protected override async Task<Page<StoredAuditEntry>> ReadAuditLogAsync(AuditLogQuery query, int limit, Cursor? after, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("SELECT id, ").Append(SqlRows.AuditColumns).Append(" FROM audit_log WHERE 1 = 1");
        await using var conn = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = Command(conn, string.Empty);
        Filter(cmd, sql, "school", query.SchoolId);
        Filter(cmd, sql, "actor", query.Actor);
        Range(cmd, sql, "at", query.From, query.To, after);
        sql.Append(" ORDER BY at DESC, id DESC LIMIT @limit");
        AddCursor(cmd, after, limit);
        cmd.CommandText = sql.ToString();
        var items = new List<StoredAuditEntry>(Math.Min(limit + 1, 256));
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(new StoredAuditEntry(r.GetInt64(0), new AuditEntry
            {
                SchoolId = SqlRows.NullableString(r, 1),
                Actor = r.GetString(2),
                Action = r.GetString(3),
                Target = r.GetString(4),
                Details = SqlRows.NullableString(r, 5),
                At = SqlRows.Time(r.GetInt64(6)),
            }));
        }
        return PageOf(items, limit, a => a.Entry.At, a => a.Id);
    }

    private static void Filter(DbCommand cmd, StringBuilder sql, string column, string? value)
    {
        if (value is null)
        {
            return;
        }
        sql.Append(" AND ").Append(column).Append(" = @").Append(column);
        Add(cmd, column, value);
    }

    private static void Range(DbCommand cmd, StringBuilder sql, string column, DateTimeOffset? from, DateTimeOffset? to, Cursor? after)
    {
        if (from is { } f)
        {
            sql.Append(" AND ").Append(column).Append(" >= @from");
            Add(cmd, "from", f.ToUnixTimeMilliseconds());
        }
        if (to is { } t)
        {
            sql.Append(" AND ").Append(column).Append(" < @to");
            Add(cmd, "to", t.ToUnixTimeMilliseconds());
        }
        if (after is not null)
        {
            sql.Append(" AND (").Append(column).Append(", id) < (@cat, @cid)");
        }
    }

    private static void AddCursor(DbCommand cmd, Cursor? after, int limit)
    {
        if (after is { } c)
        {
            Add(cmd, "cat", c.AtMs);
            Add(cmd, "cid", c.Id);
        }
        Add(cmd, "limit", (long)limit + 1);
    }

    /// <summary>Rows were read with limit + 1: the extra row only tells that there is a next page.</summary>
    private static Page<T> PageOf<T>(List<T> items, int limit, Func<T, DateTimeOffset> at, Func<T, long> id)
    {
        if (items.Count <= limit)
        {
            return new Page<T>(items, null);
        }
        items.RemoveAt(limit);
        var last = items[^1];
        return new Page<T>(items, Cursor.Format(at(last).ToUnixTimeMilliseconds(), id(last)));
    }
}
