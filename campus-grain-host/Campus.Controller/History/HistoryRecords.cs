namespace Campus.Controller.History;

/// <summary>
/// One accepted device telemetry message, as the history keeps it. (DeviceId, Boot, Seq) identifies it:
/// appending the same triple again is a duplicate and changes nothing.
/// </summary>
public sealed record TelemetryRecord
{
    public required string SchoolId { get; init; }
    public required string RoomId { get; init; }
    public required string DeviceId { get; init; }
    /// <summary>Device kind as on the topic: energy, env, door, sign, maker.</summary>
    public required string Kind { get; init; }
    public required uint Boot { get; init; }
    public required uint Seq { get; init; }
    /// <summary>Device clock (<c>ts</c>); null when the device clock was not set (<c>ts = 0</c>).</summary>
    public DateTimeOffset? DeviceTime { get; init; }
    /// <summary>When the controller received the message.</summary>
    public required DateTimeOffset ReceivedAt { get; init; }
    /// <summary>The meter's cumulative counter; rollups come from the deltas between readings.</summary>
    public double? EnergyKwh { get; init; }
    public double? PowerW { get; init; }
    public double? VoltageV { get; init; }
    public double? CurrentA { get; init; }
    public double? PowerFactor { get; init; }
    public double? TemperatureC { get; init; }
    public double? HumidityPct { get; init; }
    public bool? Occupied { get; init; }
    /// <summary>Maker kits: the <c>readings</c> object as JSON text, e.g. <c>{"soil":512}</c>.</summary>
    public string? ReadingsJson { get; init; }
}

/// <summary>What <see cref="ITelemetryHistory.AppendAsync"/> did. Both results mean "durable": the caller may acknowledge.</summary>
public enum AppendResult
{
    /// <summary>The row is new and committed.</summary>
    Inserted,
    /// <summary>A row with the same (device, boot, seq) was already stored; nothing changed.</summary>
    Duplicate,
}

/// <summary>An access decision or a door event (who, card, door, result, reason, source, time).</summary>
public sealed record AccessLogEntry
{
    public required string SchoolId { get; init; }
    public required string RoomId { get; init; }
    /// <summary>The door (card reader) device id.</summary>
    public required string DoorId { get; init; }
    /// <summary>Event type as on the wire: access, door, rex, forced, held-open, tamper, ...</summary>
    public required string EventType { get; init; }
    /// <summary>The card holder, when known.</summary>
    public string? PersonId { get; init; }
    public string? Card { get; init; }
    /// <summary>granted / denied (access events); null for other event types.</summary>
    public string? Result { get; init; }
    public string? Reason { get; init; }
    /// <summary>controller / cache.</summary>
    public string? Source { get; init; }
    /// <summary>Free text or JSON with type-specific details (door state, held-open stage, ...).</summary>
    public string? Details { get; init; }
    public required DateTimeOffset OccurredAt { get; init; }
    /// <summary>Device boot and seq, when the entry comes from a device message: a second copy is a duplicate.</summary>
    public uint? Boot { get; init; }
    public uint? Seq { get; init; }
}

/// <summary>A stored access entry with its id.</summary>
public sealed record StoredAccessLogEntry(long Id, AccessLogEntry Entry);

/// <summary>A snapshot of an alert each time it changes (raised, repeated, acknowledged, resolved, closed).</summary>
public sealed record AlertSnapshot
{
    public required string SchoolId { get; init; }
    public required string AlertId { get; init; }
    /// <summary>What raised it: a device id, a room, ...</summary>
    public required string Source { get; init; }
    public required string Type { get; init; }
    public required string Severity { get; init; }
    /// <summary>open, acknowledged, resolved, closed.</summary>
    public required string State { get; init; }
    public string? RoomId { get; init; }
    public string? Message { get; init; }
    public int Count { get; init; } = 1;
    /// <summary>Who changed it (a user), or null for the system.</summary>
    public string? ChangedBy { get; init; }
    public string? Note { get; init; }
    public required DateTimeOffset ChangedAt { get; init; }
}

public sealed record StoredAlertSnapshot(long Id, AlertSnapshot Snapshot);

/// <summary>One security action: who did what, to what, when. The audit log is append-only.</summary>
public sealed record AuditEntry
{
    /// <summary>The school the action concerns; null for district-wide actions.</summary>
    public string? SchoolId { get; init; }
    public required string Actor { get; init; }
    /// <summary>e.g. unlock, lockdown.start, alert.acknowledge, credential.issue, user.update.</summary>
    public required string Action { get; init; }
    public required string Target { get; init; }
    public string? Details { get; init; }
    public required DateTimeOffset At { get; init; }
}

public sealed record StoredAuditEntry(long Id, AuditEntry Entry);
