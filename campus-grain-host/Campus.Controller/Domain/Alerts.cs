namespace Campus.Controller.Domain;

/// <summary>The kinds of alert the controller raises.</summary>
public enum AlertType
{
    DoorForced,
    DoorHeldOpen,
    RepeatedDeniedCards,
    AfterHoursEntry,
    DeviceOffline,
    Tamper,
    ForgedAccessEvent,
    ReplayedAccessEvent,
    AfterHoursEnergy,
    ConsumptionSpike,
}

public enum AlertSeverity
{
    Info,
    Warning,
    Major,
    Critical,
}

/// <summary>open -> acknowledged -> resolved -> closed. Open and acknowledged alerts are active.</summary>
public enum AlertStatus
{
    Open,
    Acknowledged,
    Resolved,
    Closed,
}

/// <summary>One step of an alert's life: who moved it, when, and why.</summary>
public sealed record AlertTransition(AlertStatus Status, string By, DateTimeOffset At, string? Note);

/// <summary>
/// An alert of one school. There is at most one active alert per (source, type): a repeat
/// updates it (count, last seen, message, severity if higher).
/// </summary>
public sealed class Alert
{
    public required string Id { get; init; }
    public required string School { get; init; }
    public string? Room { get; init; }
    public required string Source { get; init; }
    public required AlertType Type { get; init; }
    public AlertSeverity Severity { get; set; }
    public AlertStatus Status { get; set; }
    public string Message { get; set; } = "";
    public int Count { get; set; } = 1;
    public DateTimeOffset FirstSeen { get; init; }
    public DateTimeOffset LastSeen { get; set; }
    public List<AlertTransition> History { get; set; } = [];

    public bool IsActive => Status is AlertStatus.Open or AlertStatus.Acknowledged;

    public Alert Clone()
    {
        var copy = (Alert)MemberwiseClone();
        copy.History = [.. History];
        return copy;
    }
}

/// <summary>Why an alert operation was refused.</summary>
public sealed class AlertLifecycleException(string message) : InvalidOperationException(message);

/// <summary>
/// The alerts of one school and their lifecycle. Plain data plus rules, so the school grain
/// persists it as state and tests drive it directly. Closed alerts beyond
/// <see cref="MaxClosedKept"/> are dropped from live state (the audit and event log keep them).
/// </summary>
public sealed class AlertBook
{
    public const int MaxClosedKept = 200;
    public const string System = "system";

    public List<Alert> Alerts { get; set; } = [];
    public long NextId { get; set; } = 1;

    /// <summary>Raises an alert, or updates the active one of the same (source, type).</summary>
    public (Alert Alert, bool IsNew) Raise(string school, string? room, string source, AlertType type, AlertSeverity severity, string message, DateTimeOffset now)
    {
        foreach (var a in Alerts)
        {
            if (!a.IsActive || a.Type != type || !string.Equals(a.Source, source, StringComparison.Ordinal)) continue;
            a.Count++;
            a.LastSeen = now;
            a.Message = message;
            if (severity > a.Severity) a.Severity = severity;
            return (a, false);
        }
        var alert = new Alert
        {
            Id = $"{school}-a{NextId++}",
            School = school,
            Room = room,
            Source = source,
            Type = type,
            Severity = severity,
            Status = AlertStatus.Open,
            Message = message,
            FirstSeen = now,
            LastSeen = now,
        };
        alert.History.Add(new AlertTransition(AlertStatus.Open, System, now, message));
        Alerts.Add(alert);
        return (alert, true);
    }

    public Alert? Find(string id)
    {
        foreach (var a in Alerts)
            if (string.Equals(a.Id, id, StringComparison.Ordinal)) return a;
        return null;
    }

    /// <summary>The active alert of (source, type), if any.</summary>
    public Alert? FindActive(string source, AlertType type)
    {
        foreach (var a in Alerts)
            if (a.IsActive && a.Type == type && string.Equals(a.Source, source, StringComparison.Ordinal)) return a;
        return null;
    }

    public Alert Acknowledge(string id, string by, string? note, DateTimeOffset now) =>
        Move(id, AlertStatus.Acknowledged, by, note, now, static s => s == AlertStatus.Open);

    /// <summary>Resolves an active alert (a person did, or the condition cleared).</summary>
    public Alert Resolve(string id, string by, string? note, DateTimeOffset now) =>
        Move(id, AlertStatus.Resolved, by, note, now, static s => s is AlertStatus.Open or AlertStatus.Acknowledged);

    /// <summary>Closes an alert; an active one may be closed directly (e.g. a false alarm), with a note.</summary>
    public Alert Close(string id, string by, string? note, DateTimeOffset now)
    {
        var alert = Move(id, AlertStatus.Closed, by, note, now, static s => s != AlertStatus.Closed);
        Trim();
        return alert;
    }

    /// <summary>Resolves the active alert of (source, type) because its condition cleared; null when none.</summary>
    public Alert? ResolveCondition(string source, AlertType type, string note, DateTimeOffset now)
    {
        var a = FindActive(source, type);
        if (a is null) return null;
        return Move(a.Id, AlertStatus.Resolved, System, note, now, static _ => true);
    }

    public int ActiveCount(string? room = null)
    {
        var n = 0;
        foreach (var a in Alerts)
            if (a.IsActive && (room is null || string.Equals(a.Room, room, StringComparison.Ordinal))) n++;
        return n;
    }

    private Alert Move(string id, AlertStatus to, string by, string? note, DateTimeOffset now, Func<AlertStatus, bool> allowedFrom)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        var a = Find(id) ?? throw new AlertLifecycleException($"No alert '{id}' in this school; list the school's alerts for valid ids.");
        if (!allowedFrom(a.Status))
            throw new AlertLifecycleException($"Alert '{id}' is {a.Status}; it cannot become {to}.");
        a.Status = to;
        a.History.Add(new AlertTransition(to, by, now, note));
        return a;
    }

    private void Trim()
    {
        var closed = 0;
        for (var i = Alerts.Count - 1; i >= 0; i--)
        {
            if (Alerts[i].Status != AlertStatus.Closed) continue;
            if (++closed > MaxClosedKept) Alerts.RemoveAt(i);
        }
    }
}
