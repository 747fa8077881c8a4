using System.Text.Json.Serialization;

namespace Campus.Contracts;

/// <summary>A payload of the contracts: every document carries the schema version <c>v</c>.</summary>
public interface IContractPayload
{
    /// <summary>Schema version; <see cref="SchemaVersion.Current"/>.</summary>
    int V { get; }
}

/// <summary>Schema versions this library reads and writes.</summary>
public static class SchemaVersion
{
    /// <summary>The version written by this library.</summary>
    public const int Current = 1;

    /// <summary>True when a reader of this library understands <paramref name="v"/>.</summary>
    public static bool IsKnown(int v) => v == 1;
}

/// <summary>Telemetry of an energy or environment node (<c>telemetry</c>, kinds <c>energy</c>, <c>env</c>). Every measurement is optional.</summary>
public sealed record Telemetry : IContractPayload
{
    /// <inheritdoc />
    [JsonPropertyOrder(-10)] public int V { get; init; } = SchemaVersion.Current;
    /// <summary>Boot counter.</summary>
    [JsonPropertyOrder(-9)] public uint Boot { get; init; }
    /// <summary>Sequence number within the boot (1, 2, 3...).</summary>
    [JsonPropertyOrder(-8)] public uint Seq { get; init; }
    /// <summary>Device time, Unix milliseconds UTC; 0 when the clock is not set.</summary>
    [JsonPropertyOrder(-7)] public long Ts { get; init; }
    /// <summary>Cumulative energy counter, kWh (&gt;= 0). A lower value than before is a meter reset.</summary>
    public double? EnergyKwh { get; init; }
    /// <summary>Active power, W (&gt;= 0).</summary>
    public double? PowerW { get; init; }
    /// <summary>Voltage, V (0–1000).</summary>
    public double? VoltageV { get; init; }
    /// <summary>Current, A (&gt;= 0).</summary>
    public double? CurrentA { get; init; }
    /// <summary>Power factor (-1–1).</summary>
    public double? PowerFactor { get; init; }
    /// <summary>Temperature, °C (-60–150).</summary>
    public double? TemperatureC { get; init; }
    /// <summary>Relative humidity, % (0–100).</summary>
    public double? HumidityPct { get; init; }
    /// <summary>Room occupied.</summary>
    public bool? Occupied { get; init; }
}

/// <summary>Readings of a maker kit (<c>telemetry</c>, kind <c>maker</c>).</summary>
public sealed record MakerReading : IContractPayload
{
    /// <inheritdoc />
    [JsonPropertyOrder(-10)] public int V { get; init; } = SchemaVersion.Current;
    /// <summary>Boot counter.</summary>
    [JsonPropertyOrder(-9)] public uint Boot { get; init; }
    /// <summary>Sequence number within the boot.</summary>
    [JsonPropertyOrder(-8)] public uint Seq { get; init; }
    /// <summary>Device time, Unix milliseconds UTC.</summary>
    [JsonPropertyOrder(-7)] public long Ts { get; init; }
    /// <summary>Project id.</summary>
    public string Project { get; init; } = "";
    /// <summary>Sensor name (as configured on the kit) to value; at most 32 finite numbers.</summary>
    public IReadOnlyDictionary<string, double> Readings { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// Device status (<c>status</c>, retained). The last will has only <c>v</c> and <c>state: "offline"</c>:
/// then <see cref="Boot"/>, <see cref="Seq"/> and <see cref="Ts"/> are null and <see cref="IsLastWill"/> is true.
/// </summary>
public sealed record DeviceStatus : IContractPayload
{
    /// <summary>The last will every device sets on its status topic: <c>{"v":1,"state":"offline"}</c>.</summary>
    public static ReadOnlySpan<byte> LastWillUtf8 => """{"v":1,"state":"offline"}"""u8;

    /// <inheritdoc />
    [JsonPropertyOrder(-10)] public int V { get; init; } = SchemaVersion.Current;
    /// <summary>Boot counter; null in the last will.</summary>
    [JsonPropertyOrder(-9)] public uint? Boot { get; init; }
    /// <summary>Sequence number; null in the last will.</summary>
    [JsonPropertyOrder(-8)] public uint? Seq { get; init; }
    /// <summary>Device time; null in the last will.</summary>
    [JsonPropertyOrder(-7)] public long? Ts { get; init; }
    /// <summary>online or offline.</summary>
    public DeviceState State { get; init; }
    /// <summary>Firmware version.</summary>
    public string? Fw { get; init; }
    /// <summary>Seconds since boot.</summary>
    public long? UptimeS { get; init; }
    /// <summary>Wi-Fi signal, dBm (-127–0).</summary>
    public int? Rssi { get; init; }
    /// <summary>Messages dropped from the offline queue since boot.</summary>
    public uint? Dropped { get; init; }
    /// <summary>True for the last-will form (no boot, seq or ts).</summary>
    [JsonIgnore] public bool IsLastWill => Boot is null;
}

/// <summary>
/// An event (<c>event</c> stream). The concrete type follows <c>type</c>: <see cref="AccessRequestEvent"/>,
/// <see cref="AccessEvent"/>, <see cref="DoorEvent"/>, <see cref="RexEvent"/>, <see cref="ForcedEvent"/>,
/// <see cref="HeldOpenEvent"/>, <see cref="TamperEvent"/>, <see cref="CheckinEvent"/>, <see cref="MilestoneEvent"/>.
/// </summary>
public abstract record DeviceEvent : IContractPayload
{
    private protected DeviceEvent(EventType type) => Type = type;

    /// <inheritdoc />
    [JsonPropertyOrder(-10)] public int V { get; init; } = SchemaVersion.Current;
    /// <summary>Boot counter.</summary>
    [JsonPropertyOrder(-9)] public uint Boot { get; init; }
    /// <summary>Sequence number within the boot.</summary>
    [JsonPropertyOrder(-8)] public uint Seq { get; init; }
    /// <summary>Device time, Unix milliseconds UTC.</summary>
    [JsonPropertyOrder(-7)] public long Ts { get; init; }
    /// <summary>The event type (the <c>type</c> member).</summary>
    [JsonPropertyOrder(-6)] public EventType Type { get; }
    /// <summary>HMAC of a door event as read (base64); null when unsigned. Write events without it and sign with <see cref="EventSigner"/>.</summary>
    [JsonPropertyOrder(1000)] public string? Sig { get; init; }
}

/// <summary><c>access-request</c>: a card was presented; the controller answers with <c>cmd/access</c>.</summary>
public sealed record AccessRequestEvent() : DeviceEvent(EventType.AccessRequest)
{
    /// <summary>Request id, echoed by the access command.</summary>
    public string Req { get; init; } = "";
    /// <summary>Card UID, upper-case hex, 8 or 14 digits.</summary>
    public string Card { get; init; } = "";
}

/// <summary><c>access</c>: the outcome of a card presentation.</summary>
public sealed record AccessEvent() : DeviceEvent(EventType.Access)
{
    /// <summary>Request id; empty when decided offline.</summary>
    public string Req { get; init; } = "";
    /// <summary>Card UID.</summary>
    public string Card { get; init; } = "";
    /// <summary>granted or denied.</summary>
    public AccessResult Result { get; init; }
    /// <summary>Reason of the decision.</summary>
    public AccessReason Reason { get; init; }
    /// <summary>Who decided: controller or cache.</summary>
    public DecisionSource Source { get; init; }
}

/// <summary><c>door</c>: the door contact changed.</summary>
public sealed record DoorEvent() : DeviceEvent(EventType.Door)
{
    /// <summary>open or closed.</summary>
    public ContactState State { get; init; }
}

/// <summary><c>rex</c>: the request-to-exit button was pressed.</summary>
public sealed record RexEvent() : DeviceEvent(EventType.Rex);

/// <summary><c>forced</c>: the door opened with no grant and no request-to-exit.</summary>
public sealed record ForcedEvent() : DeviceEvent(EventType.Forced);

/// <summary><c>held-open</c>: the door stays open too long.</summary>
public sealed record HeldOpenEvent() : DeviceEvent(EventType.HeldOpen)
{
    /// <summary>pre-alarm or alarm.</summary>
    public HeldOpenStage Stage { get; init; }
    /// <summary>Seconds the door has been open.</summary>
    public uint OpenS { get; init; }
}

/// <summary><c>tamper</c>: the enclosure switch changed.</summary>
public sealed record TamperEvent() : DeviceEvent(EventType.Tamper)
{
    /// <summary>open or closed.</summary>
    public ContactState State { get; init; }
}

/// <summary><c>checkin</c>: a card was presented at a class sign.</summary>
public sealed record CheckinEvent() : DeviceEvent(EventType.Checkin)
{
    /// <summary>Card UID.</summary>
    public string Card { get; init; } = "";
    /// <summary>Lesson id from the timetable.</summary>
    public string Lesson { get; init; } = "";
}

/// <summary><c>milestone</c>: a maker project reached a milestone.</summary>
public sealed record MilestoneEvent() : DeviceEvent(EventType.Milestone)
{
    /// <summary>Project id.</summary>
    public string Project { get; init; } = "";
    /// <summary>The milestone.</summary>
    public MilestoneKind Milestone { get; init; }
    /// <summary>Free text (at most 256 characters).</summary>
    public string? Detail { get; init; }
}

/// <summary>Answer of a device to a command (<c>cmd/{name}/ack</c>).</summary>
public sealed record CommandAck : IContractPayload
{
    /// <inheritdoc />
    [JsonPropertyOrder(-10)] public int V { get; init; } = SchemaVersion.Current;
    /// <summary>Boot counter.</summary>
    [JsonPropertyOrder(-9)] public uint Boot { get; init; }
    /// <summary>Sequence number within the boot.</summary>
    [JsonPropertyOrder(-8)] public uint Seq { get; init; }
    /// <summary>Device time, Unix milliseconds UTC.</summary>
    [JsonPropertyOrder(-7)] public long Ts { get; init; }
    /// <summary>The command id.</summary>
    public string Id { get; init; } = "";
    /// <summary>True when the command was applied.</summary>
    public bool Ok { get; init; }
    /// <summary>Why not; written as null when there is none.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Error { get; init; }
}
