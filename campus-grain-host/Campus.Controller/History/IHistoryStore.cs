namespace Campus.Controller.History;

/// <summary>Telemetry history: the controller appends, the dashboard reads.</summary>
public interface ITelemetryHistory
{
    /// <summary>
    /// Stores one accepted telemetry message and updates the energy rollups. Completes when the row is
    /// committed (group commit: concurrent appends share a transaction). A message with a (device, boot, seq)
    /// already stored returns <see cref="AppendResult.Duplicate"/> and changes nothing.
    /// Waits while the write queue is full (backpressure).
    /// </summary>
    /// <exception cref="StorageUnavailableException">Not stored; do not acknowledge the message.</exception>
    ValueTask<AppendResult> AppendAsync(TelemetryRecord record, CancellationToken cancellationToken = default);

    Task<Page<StoredTelemetry>> GetTelemetryAsync(TelemetryQuery query, CancellationToken cancellationToken = default);
}

/// <summary>Energy rollups: hourly, daily and monthly buckets per room, school and district.</summary>
public interface IEnergyHistory
{
    Task<EnergySeries> GetEnergySeriesAsync(EnergySeriesQuery query, CancellationToken cancellationToken = default);

    /// <summary>Several rooms or schools side by side over the same range (at most 20 targets).</summary>
    Task<IReadOnlyList<EnergySeries>> CompareEnergyAsync(IReadOnlyList<EnergyTarget> targets, EnergyGranularity granularity, DateOnly from, DateOnly to, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<AfterHoursRank>> GetAfterHoursRankingAsync(AfterHoursRankingQuery query, CancellationToken cancellationToken = default);

    /// <summary>Writes the series as CSV (RFC 4180, invariant culture, header line first).</summary>
    Task ExportEnergyCsvAsync(EnergySeriesQuery query, TextWriter writer, CancellationToken cancellationToken = default);
}

/// <summary>Access decisions and door events.</summary>
public interface IAccessLog
{
    /// <summary>Completes when durable. An entry with a (door, boot, seq) already stored is a duplicate.</summary>
    ValueTask<AppendResult> AppendAccessAsync(AccessLogEntry entry, CancellationToken cancellationToken = default);

    Task<Page<StoredAccessLogEntry>> GetAccessLogAsync(AccessLogQuery query, CancellationToken cancellationToken = default);
}

/// <summary>Alert snapshots, one per change of an alert.</summary>
public interface IAlertHistory
{
    ValueTask AppendAlertAsync(AlertSnapshot snapshot, CancellationToken cancellationToken = default);

    Task<Page<StoredAlertSnapshot>> GetAlertHistoryAsync(AlertHistoryQuery query, CancellationToken cancellationToken = default);
}

/// <summary>The audit log of security actions: append-only.</summary>
public interface IAuditLog
{
    ValueTask AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken = default);

    Task<Page<StoredAuditEntry>> GetAuditLogAsync(AuditLogQuery query, CancellationToken cancellationToken = default);
}

/// <summary>
/// The controller's history store: telemetry, energy rollups, access log, alert history and audit log,
/// behind one group-committing writer. Implementations: in-memory (tests), SQLite, PostgreSQL.
/// </summary>
public interface IHistoryStore : ITelemetryHistory, IEnergyHistory, IAccessLog, IAlertHistory, IAuditLog, IAsyncDisposable
{
    /// <summary>Creates or migrates the schema and loads the school profiles. Call once before use.</summary>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    /// <summary>Registers or changes a school's time zone and opening hours (applies to readings from now on).</summary>
    Task UpsertSchoolAsync(SchoolProfile profile, CancellationToken cancellationToken = default);

    /// <summary>The profile used for a school: the registered one, or the default one.</summary>
    SchoolProfile GetSchoolProfile(string schoolId);

    /// <summary>The last known health, without touching the storage.</summary>
    HistoryHealth Health { get; }

    /// <summary>Probes the storage (when degraded) and returns the resulting health.</summary>
    Task<HistoryHealth> CheckHealthAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes rows older than the retention of each table, in bounded chunks.</summary>
    Task<PurgeResult> PurgeAsync(CancellationToken cancellationToken = default);
}
