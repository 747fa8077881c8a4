namespace Campus.Controller.History;

public enum HistoryHealthStatus { Healthy, Degraded }

/// <summary>Health of a history store, in the spirit of an ASP.NET Core health check result.</summary>
/// <param name="Reason">Why it is degraded (the last storage error, or a backlog); null when healthy.</param>
/// <param name="Since">When the status last changed.</param>
/// <param name="QueueLength">Writes waiting for the next group commit.</param>
public sealed record HistoryHealth(HistoryHealthStatus Status, string? Reason, DateTimeOffset Since, int QueueLength)
{
    public bool IsHealthy => Status == HistoryHealthStatus.Healthy;
}

/// <summary>
/// The history storage cannot take writes or answer right now (database down, disk full, file locked).
/// The write was NOT stored: do not acknowledge the message, so that it is delivered again later.
/// </summary>
public sealed class StorageUnavailableException : Exception
{
    public StorageUnavailableException()
        : base("The history storage is unavailable.")
    {
    }

    public StorageUnavailableException(string message)
        : base(message)
    {
    }

    public StorageUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
