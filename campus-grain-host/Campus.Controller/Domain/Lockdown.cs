namespace Campus.Controller.Domain;

/// <summary>One device's answer to the current lockdown command.</summary>
public sealed record LockdownAck(string Device, bool Ok, string? Error, DateTimeOffset At);

/// <summary>
/// A school's lockdown: whether it is active, the command id of the latest `cmd/lockdown`
/// (start or lift), every door and class sign it went to, and which of them acknowledged it.
/// </summary>
public sealed class LockdownState
{
    public bool Active { get; set; }
    public string? Message { get; set; }
    public string? By { get; set; }
    public DateTimeOffset? Since { get; set; }
    public string? CommandId { get; set; }
    public DateTimeOffset? CommandAt { get; set; }
    public List<string> Targets { get; set; } = [];
    public Dictionary<string, LockdownAck> Acks { get; set; } = new(StringComparer.Ordinal);

    public void Begin(string commandId, bool active, string? message, string by, IEnumerable<string> targets, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        Active = active;
        Message = active ? message : null;
        By = by;
        Since = active ? now : null;
        CommandId = commandId;
        CommandAt = now;
        Targets = [.. targets.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        Acks.Clear();
    }

    /// <summary>Records an acknowledgement; false when it is for another command or from a device not targeted.</summary>
    public bool Acknowledge(string device, string commandId, bool ok, string? error, DateTimeOffset now)
    {
        if (!string.Equals(commandId, CommandId, StringComparison.Ordinal)) return false;
        if (!Targets.Contains(device, StringComparer.Ordinal)) return false;
        if (Acks.ContainsKey(device)) return true;
        Acks[device] = new LockdownAck(device, ok, error, now);
        return true;
    }

    /// <summary>Targets that have not acknowledged the current command successfully.</summary>
    public List<string> NotAcknowledged()
    {
        var missing = new List<string>();
        foreach (var t in Targets)
            if (!Acks.TryGetValue(t, out var a) || !a.Ok) missing.Add(t);
        return missing;
    }
}
