namespace Campus.Controller.Hosting;

public enum CampusStorageProvider
{
    Sqlite,
    Postgres,
    InMemory,
}

/// <summary>Where grain state and history live (section "Campus:Storage").</summary>
public sealed class CampusStorageOptions
{
    public const string SectionName = "Campus:Storage";

    public CampusStorageProvider Provider { get; set; } = CampusStorageProvider.Sqlite;

    /// <summary>SQLite file of grain state and reminders. History goes to a second file beside it (see <see cref="HistorySqlitePath"/>) so the two writers never wait on each other's lock.</summary>
    public string SqlitePath { get; set; } = "./data/campus.db";

    /// <summary>SQLite file of the history (telemetry, rollups, access, alerts, audit); default: "{SqlitePath without .db}-history.db".</summary>
    public string? HistorySqlitePath { get; set; }

    /// <summary>PostgreSQL connection string (grain state, reminders and history share the database).</summary>
    public string? PostgresConnectionString { get; set; }

    internal string HistoryPath => HistorySqlitePath ?? Path.ChangeExtension(SqlitePath, null) + "-history.db";

    internal void Validate()
    {
        if (Provider == CampusStorageProvider.Postgres && string.IsNullOrWhiteSpace(PostgresConnectionString))
            throw new InvalidOperationException("Campus:Storage:Provider is Postgres but Campus:Storage:PostgresConnectionString is empty; set it (e.g. Host=127.0.0.1;Username=campus;Database=campus).");
        if (Provider == CampusStorageProvider.Sqlite && string.IsNullOrWhiteSpace(SqlitePath))
            throw new InvalidOperationException("Campus:Storage:SqlitePath is empty; set a file path such as ./data/campus.db.");
    }
}
