using System.Text.Json.Serialization;

namespace Campus.Contracts;

/// <summary>Command names (the <c>{name}</c> of <c>cmd/{name}</c>).</summary>
public static class CommandNames
{
    /// <summary>Access decision for a door: <see cref="AccessCommand"/>.</summary>
    public const string Access = "access";
    /// <summary>Remote unlock: <see cref="UnlockCommand"/>.</summary>
    public const string Unlock = "unlock";
    /// <summary>Lockdown on/off (retained): <see cref="LockdownCommand"/>.</summary>
    public const string Lockdown = "lockdown";
    /// <summary>Card allow-list (retained): <see cref="AllowlistCommand"/>.</summary>
    public const string Allowlist = "allowlist";
    /// <summary>Class-sign timetable (retained): <see cref="TimetableCommand"/>.</summary>
    public const string Timetable = "timetable";
    /// <summary>Class-sign notices (retained): <see cref="NoticesCommand"/>.</summary>
    public const string Notices = "notices";
    /// <summary>Device configuration (retained): <see cref="ConfigCommand"/>.</summary>
    public const string Config = "config";

    /// <summary>True when the command is published retained.</summary>
    public static bool IsRetained(string name) => name is Lockdown or Allowlist or Timetable or Notices or Config;

    /// <summary>True when a device of <paramref name="kind"/> takes the command.</summary>
    public static bool AppliesTo(string name, DeviceKind kind) => name switch
    {
        Access or Unlock or Allowlist => kind == DeviceKind.Door,
        Lockdown => kind is DeviceKind.Door or DeviceKind.Sign,
        Timetable or Notices => kind == DeviceKind.Sign,
        Config => kind is not DeviceKind.Unknown,
        _ => false,
    };
}

/// <summary>
/// A command (<c>cmd/{name}</c>, controller → device): <c>v</c>, <c>id</c>, <c>ts</c> and the name-specific
/// members of the concrete record. The name travels in the topic, not in the document.
/// </summary>
public abstract record DeviceCommand : IContractPayload
{
    private protected DeviceCommand(string name) => Name = name;

    /// <inheritdoc />
    [JsonPropertyOrder(-10)] public int V { get; init; } = SchemaVersion.Current;
    /// <summary>Command id; the device acknowledges each id once.</summary>
    [JsonPropertyOrder(-9)] public string Id { get; init; } = "";
    /// <summary>Controller time, Unix milliseconds UTC.</summary>
    [JsonPropertyOrder(-8)] public long Ts { get; init; }
    /// <summary>The command name (topic segment); not written to the document.</summary>
    [JsonIgnore] public string Name { get; }
}

/// <summary><c>access</c>: the controller's decision on an access request.</summary>
public sealed record AccessCommand() : DeviceCommand(CommandNames.Access)
{
    /// <summary>The request id of the access-request event.</summary>
    public string Req { get; init; } = "";
    /// <summary>Card UID.</summary>
    public string Card { get; init; } = "";
    /// <summary>True to open.</summary>
    public bool Grant { get; init; }
    /// <summary>Reason of the decision.</summary>
    public AccessReason Reason { get; init; }
    /// <summary>Strike time in ms (1–60000); the device's configured time when null.</summary>
    public int? OpenMs { get; init; }
}

/// <summary><c>unlock</c>: open the door once.</summary>
public sealed record UnlockCommand() : DeviceCommand(CommandNames.Unlock)
{
    /// <summary>Strike time in ms (1–60000); the device's configured time when null.</summary>
    public int? OpenMs { get; init; }
    /// <summary>The user who asked.</summary>
    public string By { get; init; } = "";
}

/// <summary><c>lockdown</c> (retained): doors refuse every card; signs show the message.</summary>
public sealed record LockdownCommand() : DeviceCommand(CommandNames.Lockdown)
{
    /// <summary>True while the lockdown lasts.</summary>
    public bool Active { get; init; }
    /// <summary>Message shown on class signs (at most 256 characters).</summary>
    public string? Message { get; init; }
}

/// <summary><c>allowlist</c> (retained): the cards a door admits offline, with time windows.</summary>
public sealed record AllowlistCommand() : DeviceCommand(CommandNames.Allowlist)
{
    /// <summary>List version, increasing.</summary>
    public int Version { get; init; }
    /// <summary>Offset of local time from UTC, minutes (-720–840).</summary>
    public int TzOffsetMin { get; init; }
    /// <summary>
    /// The school's next UTC offset change (daylight saving time), Unix milliseconds UTC, after <see cref="DeviceCommand.Ts"/>:
    /// from that instant the door reads its windows with <see cref="NextOffsetMin"/>, even if no new list reaches it.
    /// Optional, together with <see cref="NextOffsetMin"/> (both or neither).
    /// </summary>
    public long? NextOffsetAt { get; init; }
    /// <summary>Offset of local time from UTC from <see cref="NextOffsetAt"/> on, minutes (-720–840).</summary>
    public int? NextOffsetMin { get; init; }
    /// <summary>
    /// The school's upcoming UTC offset changes (about two years of them), in strictly increasing order, all after
    /// <see cref="DeviceCommand.Ts"/>, at most <see cref="MaxOffsetChanges"/>: the door reads its windows with the
    /// offset of the latest change whose instant has passed, so it follows several changes without a new list.
    /// Optional (a zone without daylight saving time, an older controller); when given with
    /// <see cref="NextOffsetAt"/>, its first entry equals <see cref="NextOffsetAt"/> and <see cref="NextOffsetMin"/>.
    /// </summary>
    public IReadOnlyList<OffsetChange>? OffsetChanges { get; init; }
    /// <summary>Allowed cards.</summary>
    public IReadOnlyList<AllowlistEntry> Entries { get; init; } = [];

    /// <summary>Most entries of <see cref="OffsetChanges"/>.</summary>
    public const int MaxOffsetChanges = 8;
}

/// <summary>A change of the school's UTC offset: from <see cref="At"/> on, local time is UTC + <see cref="Min"/>.</summary>
public sealed record OffsetChange
{
    /// <summary>The instant of the change, Unix milliseconds UTC (required).</summary>
    public long? At { get; init; }
    /// <summary>Offset of local time from UTC from <see cref="At"/> on, minutes (-720–840; required).</summary>
    public int? Min { get; init; }
}

/// <summary>One card of an allow-list.</summary>
public sealed record AllowlistEntry
{
    /// <summary>Card UID.</summary>
    public string Card { get; init; } = "";
    /// <summary>When the card is allowed (local time).</summary>
    public IReadOnlyList<AccessWindow> Windows { get; init; } = [];
}

/// <summary>
/// A weekly time window, local time, starting on each of <see cref="Days"/> at <see cref="From"/>. A window whose
/// <see cref="To"/> is before its <see cref="From"/> runs past midnight and ends at <see cref="To"/> on the next day
/// (Monday 22:00–06:00 covers Monday 22:00 to Tuesday 06:00; Sunday's night ends on Monday).
/// </summary>
public sealed record AccessWindow
{
    /// <summary>Start days, digits 1 (Monday) to 7 (Sunday), each at most once, e.g. <c>12345</c>.</summary>
    public string Days { get; init; } = "";
    /// <summary>Start, <c>HH:mm</c> (inclusive).</summary>
    public string From { get; init; } = "";
    /// <summary>End, <c>HH:mm</c> (exclusive), not equal to <see cref="From"/>; before it for a window over midnight.</summary>
    public string To { get; init; } = "";
}

/// <summary><c>timetable</c> (retained): the day's lessons for a class sign.</summary>
public sealed record TimetableCommand() : DeviceCommand(CommandNames.Timetable)
{
    /// <summary>Day, <c>yyyy-MM-dd</c>.</summary>
    public string Date { get; init; } = "";
    /// <summary>Room display name.</summary>
    public string Room { get; init; } = "";
    /// <summary>Lessons of the day.</summary>
    public IReadOnlyList<Lesson> Lessons { get; init; } = [];
}

/// <summary>A lesson on a timetable.</summary>
public sealed record Lesson
{
    /// <summary>Lesson id, used by check-in events.</summary>
    public string Id { get; init; } = "";
    /// <summary>Period number (1–20).</summary>
    public int Period { get; init; }
    /// <summary>Start, <c>HH:mm</c>.</summary>
    public string From { get; init; } = "";
    /// <summary>End, <c>HH:mm</c>.</summary>
    public string To { get; init; } = "";
    /// <summary>Subject.</summary>
    public string Subject { get; init; } = "";
    /// <summary>Teacher.</summary>
    public string? Teacher { get; init; }
    /// <summary>Class.</summary>
    public string? Class { get; init; }
}

/// <summary><c>notices</c> (retained): notices shown on a class sign.</summary>
public sealed record NoticesCommand() : DeviceCommand(CommandNames.Notices)
{
    /// <summary>The notices.</summary>
    public IReadOnlyList<Notice> Items { get; init; } = [];
}

/// <summary>A notice.</summary>
public sealed record Notice
{
    /// <summary>Text (1–500 characters).</summary>
    public string Text { get; init; } = "";
    /// <summary>Shown until, Unix milliseconds UTC.</summary>
    public long Until { get; init; }
}

/// <summary><c>config</c> (retained): settings; a member left out keeps the device's current value.</summary>
public sealed record ConfigCommand() : DeviceCommand(CommandNames.Config)
{
    /// <summary>Heartbeat (online status) interval, s (5–86400).</summary>
    public int? HeartbeatS { get; init; }
    /// <summary>Telemetry interval, s (1–86400).</summary>
    public int? PublishS { get; init; }
    /// <summary>energy/env: publish early when power changes by this many W.</summary>
    public double? DeltaW { get; init; }
    /// <summary>energy/env: publish early when temperature changes by this many °C.</summary>
    public double? DeltaC { get; init; }
    /// <summary>energy/env: at most one early publish per this many s.</summary>
    public int? ThrottleS { get; init; }
    /// <summary>door: strike time, ms (1–60000).</summary>
    public int? OpenMs { get; init; }
    /// <summary>door: held-open pre-alarm after s.</summary>
    public int? HeldOpenS { get; init; }
    /// <summary>door: held-open alarm after s.</summary>
    public int? HeldAlarmS { get; init; }
    /// <summary>maker: sensors of the kit.</summary>
    public IReadOnlyList<SensorConfig>? Sensors { get; init; }
    /// <summary>maker: rules raising a rule-triggered milestone.</summary>
    public IReadOnlyList<RuleConfig>? Rules { get; init; }
}

/// <summary>A maker-kit sensor.</summary>
public sealed record SensorConfig
{
    /// <summary>Reading name.</summary>
    public string Name { get; init; } = "";
    /// <summary>Driver type, e.g. <c>adc</c>.</summary>
    public string Type { get; init; } = "";
    /// <summary>GPIO pin (0–48).</summary>
    public int Pin { get; init; }
}

/// <summary>A maker-kit rule: fires when a reading goes above or below a threshold.</summary>
public sealed record RuleConfig
{
    /// <summary>Sensor name.</summary>
    public string Sensor { get; init; } = "";
    /// <summary>Fire above this value.</summary>
    public double? Above { get; init; }
    /// <summary>Fire below this value.</summary>
    public double? Below { get; init; }
}
