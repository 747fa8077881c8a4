namespace Campus.Controller.Domain;

/// <summary>
/// What a detector asks of the school's alert book: raise (or update) the alert of its type
/// for the source, or, with <see cref="Clears"/>, resolve it because the condition ended.
/// <see cref="Order"/>, when set, names the device message that raised it (boot * 2^32 + seq): a signal
/// of the same source and type with the order of the last one applied changes nothing, so a signal
/// sent again after its answer was lost is not counted twice.
/// </summary>
public readonly record struct AlertSignal(AlertType Type, AlertSeverity Severity, string Message, bool Clears = false, long? Order = null)
{
    public static AlertSignal Clear(AlertType type, string message) => new(type, AlertSeverity.Info, message, Clears: true);
}

public enum DoorState
{
    Unknown,
    Closed,
    Open,
}

/// <summary>Timing of the door state machine; mirrors the door's `config` (openMs, heldOpenS, heldAlarmS).</summary>
public sealed record DoorTimings
{
    /// <summary>After a grant or a request-to-exit, opening the door within this time is authorized.</summary>
    public TimeSpan AuthorizedWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Open this long: held-open pre-alarm.</summary>
    public TimeSpan HeldOpenPreAlarm { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Open this long: held-open alarm.</summary>
    public TimeSpan HeldOpenAlarm { get; init; } = TimeSpan.FromSeconds(90);
}

public enum HeldOpenStage
{
    None,
    PreAlarm,
    Alarm,
}

/// <summary>
/// The controller's view of one door: open / closed, whether an opening was authorized (a
/// grant or a request-to-exit shortly before), and the held-open stages. Forced opening raises
/// a critical alert; a door open past the pre-alarm time raises a warning that becomes a major
/// alarm later; closing the door resolves the held-open alert. Plain data, persisted by the
/// door grain; the grain calls <see cref="Tick"/> from a timer at <see cref="NextDeadline"/>.
/// </summary>
public sealed class DoorMonitor
{
    public DoorState State { get; set; } = DoorState.Unknown;
    public DateTimeOffset? OpenedAt { get; set; }
    public DateTimeOffset? AuthorizedAt { get; set; }
    public bool OpenedByForce { get; set; }
    public HeldOpenStage Stage { get; set; }

    public void Granted(DateTimeOffset now) => AuthorizedAt = now;

    public void RequestToExit(DateTimeOffset now) => AuthorizedAt = now;

    public AlertSignal? Opened(DateTimeOffset now, DoorTimings timings)
    {
        if (State == DoorState.Open) return null;
        State = DoorState.Open;
        OpenedAt = now;
        Stage = HeldOpenStage.None;
        var authorized = AuthorizedAt is { } at && now - at <= timings.AuthorizedWindow && now >= at;
        AuthorizedAt = null; // one grant, one opening
        OpenedByForce = !authorized;
        return authorized ? null : new AlertSignal(AlertType.DoorForced, AlertSeverity.Critical, "Door opened without a grant or a request-to-exit.");
    }

    public AlertSignal? Closed(DateTimeOffset now)
    {
        var wasHeld = Stage != HeldOpenStage.None;
        State = DoorState.Closed;
        OpenedAt = null;
        OpenedByForce = false;
        Stage = HeldOpenStage.None;
        _ = now;
        return wasHeld ? AlertSignal.Clear(AlertType.DoorHeldOpen, "Door closed.") : null;
    }

    public AlertSignal? Tick(DateTimeOffset now, DoorTimings timings)
    {
        if (State != DoorState.Open || OpenedAt is not { } opened) return null;
        var open = now - opened;
        if (open >= timings.HeldOpenAlarm && Stage < HeldOpenStage.Alarm)
        {
            Stage = HeldOpenStage.Alarm;
            return new AlertSignal(AlertType.DoorHeldOpen, AlertSeverity.Major, $"Door held open for {open.TotalSeconds:0} s (alarm).");
        }
        if (open >= timings.HeldOpenPreAlarm && Stage < HeldOpenStage.PreAlarm)
        {
            Stage = HeldOpenStage.PreAlarm;
            return new AlertSignal(AlertType.DoorHeldOpen, AlertSeverity.Warning, $"Door held open for {open.TotalSeconds:0} s (pre-alarm).");
        }
        return null;
    }

    /// <summary>When <see cref="Tick"/> next has something to do; null when nothing is pending.</summary>
    public DateTimeOffset? NextDeadline(DoorTimings timings)
    {
        if (State != DoorState.Open || OpenedAt is not { } opened) return null;
        return Stage switch
        {
            HeldOpenStage.None => opened + timings.HeldOpenPreAlarm,
            HeldOpenStage.PreAlarm => opened + timings.HeldOpenAlarm,
            _ => null,
        };
    }
}

/// <summary>Counts denied cards at one door: N denials within M minutes raise an alert.</summary>
public sealed class DeniedCardWindow
{
    public List<DateTimeOffset> Recent { get; set; } = [];

    public AlertSignal? Denied(DateTimeOffset now, string card, int threshold, TimeSpan window)
    {
        Recent.Add(now);
        var cutoff = now - window;
        var drop = 0;
        while (drop < Recent.Count && Recent[drop] <= cutoff) drop++;
        if (drop > 0) Recent.RemoveRange(0, drop);
        if (Recent.Count < threshold) return null;
        return new AlertSignal(AlertType.RepeatedDeniedCards, AlertSeverity.Warning,
            $"{Recent.Count} denied cards within {window.TotalMinutes:0} min (last card {card}).");
    }
}

/// <summary>
/// Online/offline of one device: a last will or an `offline` status takes it offline at once;
/// no message for longer than its kind's timeout takes it offline at the next check; any
/// message brings it back (and resolves the offline alert).
/// </summary>
public sealed class PresenceMonitor
{
    public bool Online { get; set; }
    public bool Known { get; set; }
    public DateTimeOffset LastSeen { get; set; }

    public AlertSignal? Seen(DateTimeOffset now)
    {
        LastSeen = now;
        var wasOffline = Known && !Online;
        Known = true;
        Online = true;
        return wasOffline ? AlertSignal.Clear(AlertType.DeviceOffline, "Device is back online.") : null;
    }

    public AlertSignal? WentOffline(DateTimeOffset now, string why)
    {
        _ = now;
        if (Known && !Online) return null;
        Known = true;
        Online = false;
        return new AlertSignal(AlertType.DeviceOffline, AlertSeverity.Major, why);
    }

    public AlertSignal? Check(DateTimeOffset now, TimeSpan timeout)
    {
        if (!Online || now - LastSeen <= timeout) return null;
        return WentOffline(now, $"No heartbeat for {(now - LastSeen).TotalSeconds:0} s (timeout {timeout.TotalSeconds:0} s).");
    }
}

/// <summary>
/// A cumulative energy counter (kWh). The delta of each reading is new energy; a reading
/// below the previous one is a counter reset (meter replaced or cleared): it counts nothing and
/// becomes the new base, never negative energy.
/// </summary>
public sealed class EnergyCounter
{
    public double? LastKwh { get; set; }
    public int Resets { get; set; }

    public double Observe(double kwh)
    {
        if (LastKwh is not { } last)
        {
            LastKwh = kwh;
            return 0;
        }
        LastKwh = kwh;
        if (kwh >= last) return kwh - last;
        Resets++;
        return 0;
    }
}

/// <summary>Energy of the current local day; starts again at the school's local midnight.</summary>
public sealed class EnergyDay
{
    public DateOnly Day { get; set; }
    public double Kwh { get; set; }

    public void Add(double kwh, DateTimeOffset now, TimeZoneInfo zone)
    {
        Roll(now, zone);
        Kwh += kwh;
    }

    public void Roll(DateTimeOffset now, TimeZoneInfo zone)
    {
        var day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime);
        if (day == Day) return;
        Day = day;
        Kwh = 0;
    }
}

/// <summary>
/// Energy used in an empty room after hours: the school is closed, no occupancy node of the
/// room reports presence, and the room draws more than a threshold for at least a minimum time.
/// </summary>
public sealed class AfterHoursEnergyWatch
{
    public DateTimeOffset? WastingSince { get; set; }
    public bool Raised { get; set; }

    public AlertSignal? Update(DateTimeOffset now, double powerW, bool occupied, bool schoolOpen, double thresholdW, TimeSpan minDuration)
    {
        var wasting = !schoolOpen && !occupied && powerW > thresholdW;
        if (!wasting)
        {
            WastingSince = null;
            if (!Raised) return null;
            Raised = false;
            return AlertSignal.Clear(AlertType.AfterHoursEnergy, "Room no longer draws power while empty after hours.");
        }
        WastingSince ??= now;
        if (Raised || now - WastingSince.Value < minDuration) return null;
        Raised = true;
        return new AlertSignal(AlertType.AfterHoursEnergy, AlertSeverity.Warning,
            $"Empty room draws {powerW:0} W after hours (threshold {thresholdW:0} W) since {WastingSince.Value:u}.");
    }
}
