namespace Campus.Grains;

/// <summary>A grain that receives reminders: persistent, periodic wake-ups that survive deactivation and restarts.</summary>
public interface IRemindable : IGrain
{
    /// <summary>Called as a turn of the grain when reminder <paramref name="reminderName"/> is due; activates the grain if needed.</summary>
    Task ReceiveReminder(string reminderName, TickStatus status);
}

/// <summary>About one reminder tick.</summary>
public readonly record struct TickStatus(DateTime FirstTickTime, TimeSpan Period, DateTime CurrentTickTime);

/// <summary>A registered reminder.</summary>
public interface IGrainReminder
{
    string ReminderName { get; }
}

/// <summary>One row of the reminder table.</summary>
public sealed record ReminderEntry
{
    public required GrainId GrainId { get; init; }
    public required string ReminderName { get; init; }

    /// <summary>UTC time of the first tick.</summary>
    public required DateTime StartAt { get; init; }

    public required TimeSpan Period { get; init; }

    /// <summary>Version of the row; set by the table.</summary>
    public string? ETag { get; init; }
}

/// <summary>Where reminders are persisted (memory, SQLite, PostgreSQL).</summary>
public interface IReminderTable
{
    Task<IReadOnlyList<ReminderEntry>> ReadAllRowsAsync();
    Task<IReadOnlyList<ReminderEntry>> ReadRowsAsync(GrainId grainId);
    Task<ReminderEntry?> ReadRowAsync(GrainId grainId, string reminderName);

    /// <summary>Inserts or replaces the row; returns its new etag.</summary>
    Task<string> UpsertRowAsync(ReminderEntry entry);

    /// <summary>Removes the row if its etag still matches; false otherwise (or when absent).</summary>
    Task<bool> RemoveRowAsync(GrainId grainId, string reminderName, string eTag);
}
