using Campus.Contracts;
using Campus.Controller.Domain;

namespace Campus.Controller.Grains;

/// <summary>A school as registered: identity, time zone (IANA), opening hours and access zones.</summary>
public sealed record SchoolSpec(
    string Id,
    string Name,
    string TimeZoneId,
    WeeklySchedule OpeningHours,
    IReadOnlyList<AccessZoneSpec> Zones);

/// <summary>An access zone: a named set of rooms of one school (e.g. "labs": r201, r202).</summary>
public sealed record AccessZoneSpec(string Id, IReadOnlyList<string> Rooms);

/// <summary>
/// A building of a school (District -> School -> Building -> Room). Rooms registered without a
/// building belong to the school's default building, <see cref="DefaultId"/>.
/// </summary>
public sealed record BuildingSpec(string School, string Id, string Name)
{
    /// <summary>The id of the building a room without one belongs to.</summary>
    public const string DefaultId = "main";

    /// <summary>The name of the default building unless it is registered with another.</summary>
    public const string DefaultName = "Main building";

    /// <summary>The default building of a school.</summary>
    public static BuildingSpec Default(string school) => new(school, DefaultId, DefaultName);
}

/// <summary>
/// A room as registered. <paramref name="IdlePowerW"/>: more than this while empty after hours is
/// waste. <paramref name="Building"/>: the building of the school it is in; none means the
/// school's default building (<see cref="BuildingSpec.DefaultId"/>), and the registry lists every
/// room with its building filled in.
/// </summary>
public sealed record RoomSpec(string School, string Id, string Name, double IdlePowerW = 200, string? Building = null)
{
    /// <summary>The building the room is in: <see cref="Building"/> or the default building.</summary>
    public string BuildingOrDefault() => Building ?? BuildingSpec.DefaultId;
}

/// <summary>A device as registered (without its secrets).</summary>
public sealed record DeviceSpec(string School, string Room, DeviceKind Kind, string Id, string? Name = null);

/// <summary>
/// The secrets of a device, returned once when they are issued or rotated: the MQTT password
/// (client id = user name = device id) and the base64 HMAC key for signed events. Only a hash
/// of the password is kept.
/// </summary>
public sealed record DeviceCredentials(string DeviceId, string MqttPassword, string HmacKeyBase64, DateTimeOffset IssuedAt);

/// <summary>Power, occupancy, door and presence of one device, as its room aggregates them.</summary>
public sealed record DeviceLive(
    string Device,
    DeviceKind Kind,
    bool Online,
    double? PowerW,
    double EnergyDeltaKwh,
    bool? Occupied,
    double? TemperatureC,
    DoorState? Door,
    DateTimeOffset At);

/// <summary>A device's live view for the dashboard.</summary>
public sealed record DeviceSnapshot(
    string Device,
    string School,
    string Room,
    DeviceKind Kind,
    bool Online,
    DateTimeOffset? LastSeen,
    uint Boot,
    uint LastSeq,
    long Accepted,
    long Duplicates,
    long Missed,
    string? Firmware,
    double? PowerW,
    double? EnergyKwh,
    double? TemperatureC,
    double? HumidityPct,
    bool? Occupied,
    DoorState? Door,
    bool Tampered,
    long Entries,
    IReadOnlyDictionary<string, double>? Readings);

/// <summary>A room's live aggregate: power now, energy today (school local day), occupancy, doors, open alerts; and its building.</summary>
public sealed record RoomSnapshot(
    string School,
    string Room,
    double PowerW,
    double EnergyTodayKwh,
    bool Occupied,
    double? TemperatureC,
    IReadOnlyDictionary<string, DoorState> Doors,
    int DevicesOnline,
    int DevicesOffline,
    DateTimeOffset UpdatedAt,
    string Building = BuildingSpec.DefaultId);

/// <summary>A building's live aggregate: the sum of its rooms that have reported (<paramref name="Rooms"/>: their ids).</summary>
public sealed record BuildingSnapshot(
    string Building,
    string Name,
    double PowerW,
    double EnergyTodayKwh,
    int OccupiedRooms,
    int DoorsOpen,
    int DevicesOnline,
    int DevicesOffline,
    IReadOnlyList<string> Rooms);

/// <summary>A school's live aggregate, with its rooms, its buildings (ordered by id) and alert and lockdown summary.</summary>
public sealed record SchoolSnapshot(
    string School,
    double PowerW,
    double EnergyTodayKwh,
    int OccupiedRooms,
    int DoorsOpen,
    int DevicesOnline,
    int DevicesOffline,
    int OpenAlerts,
    bool Lockdown,
    IReadOnlyList<RoomSnapshot> Rooms,
    IReadOnlyDictionary<string, int> OpenAlertsByRoom,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<BuildingSnapshot>? Buildings = null);

/// <summary>A district-wide aggregate over all schools.</summary>
public sealed record DistrictSnapshot(double PowerW, double EnergyTodayKwh, int OpenAlerts, int SchoolsInLockdown, IReadOnlyList<SchoolSnapshot> Schools);

/// <summary>A read-only copy of an alert.</summary>
public sealed record AlertView(
    string Id,
    string School,
    string? Room,
    string Source,
    AlertType Type,
    AlertSeverity Severity,
    AlertStatus Status,
    string Message,
    int Count,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    IReadOnlyList<AlertTransition> History)
{
    internal static AlertView Of(Alert a) =>
        new(a.Id, a.School, a.Room, a.Source, a.Type, a.Severity, a.Status, a.Message, a.Count, a.FirstSeen, a.LastSeen, [.. a.History]);
}

/// <summary>A school's lockdown: state, who, since, and per-device acknowledgement of the latest command.</summary>
public sealed record LockdownView(
    string School,
    bool Active,
    string? Message,
    string? By,
    DateTimeOffset? Since,
    string? CommandId,
    IReadOnlyList<string> Targets,
    IReadOnlyList<LockdownAck> Acknowledged,
    IReadOnlyList<string> NotAcknowledged);

/// <summary>The answer of the school to a door's access request.</summary>
public sealed record AccessVerdict(AccessDecision Decision, bool AfterHours, PersonRole? Role);

/// <summary>What a device grain did with one message.</summary>
public enum IngestOutcome
{
    Accepted,
    Duplicate,
    Rejected,
}

/// <summary>The result of handing one message to a device grain; <paramref name="Reason"/> names a rejection.</summary>
public readonly record struct IngestResult(IngestOutcome Outcome, string? Reason = null)
{
    public static readonly IngestResult Accepted = new(IngestOutcome.Accepted);
    public static readonly IngestResult Duplicate = new(IngestOutcome.Duplicate);
    public static IngestResult Rejected(string reason) => new(IngestOutcome.Rejected, reason);
}

/// <summary>
/// One parsed device message as ingestion hands it to the device grain: the topic, the parsed
/// payload (a contracts record) and, for signed events, the raw bytes the MAC covers.
/// <paramref name="PossibleRedelivery"/> is true when the transport says this may be a copy of a
/// message sent before (the device set MQTT's DUP flag on the PUBLISH) or cannot say (a message
/// through an external broker); false when the device published it as a new message. A door
/// takes a byte-identical copy of a verified event as a redelivery only when this is true.
/// </summary>
public sealed record DeviceMessage(DeviceTopic Topic, IContractPayload Payload, ReadOnlyMemory<byte> Raw, DateTimeOffset ReceivedAt, bool PossibleRedelivery = false);
