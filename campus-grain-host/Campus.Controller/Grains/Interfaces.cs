using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Grains;

namespace Campus.Controller.Grains;

/// <summary>
/// Follows a school live: aggregates, alerts and lockdown. The grain does not wait for the
/// returned tasks (a slow or failed observer never holds a grain up).
/// </summary>
public interface ISchoolObserver : IGrainObserver
{
    Task SchoolChanged(SchoolSnapshot snapshot);
    Task AlertChanged(AlertView alert);
    Task LockdownChanged(LockdownView lockdown);
}

/// <summary>Follows a room live.</summary>
public interface IRoomObserver : IGrainObserver
{
    Task RoomChanged(RoomSnapshot snapshot);
}

/// <summary>Follows a device live.</summary>
public interface IDeviceObserver : IGrainObserver
{
    Task DeviceChanged(DeviceSnapshot snapshot);
}

/// <summary>
/// Provisioning for the whole district (key <see cref="RegistryKey"/>): schools, rooms, devices,
/// people, and device secrets. Every change is audited with the acting user.
/// </summary>
public interface IRegistryGrain : IGrainWithStringKey
{
    const string RegistryKey = "district";

    Task<SchoolSpec> UpsertSchool(SchoolSpec school, string by);

    /// <summary>Registers or renames a building of a school; rooms refer to it by id.</summary>
    Task<BuildingSpec> UpsertBuilding(BuildingSpec building, string by);

    /// <summary>Registers a room; its building must be registered, or none (the school's default building).</summary>
    Task<RoomSpec> UpsertRoom(RoomSpec room, string by);

    /// <summary>Registers a device and issues its secrets (returned only now).</summary>
    Task<DeviceCredentials> CreateDevice(DeviceSpec device, string by);

    /// <summary>
    /// Registers a device that already has secrets (moved from another system, or a development
    /// seed): the password is stored hashed and the HMAC key kept; audited as credential.import.
    /// </summary>
    Task ImportDevice(DeviceSpec device, string mqttPassword, string hmacKeyBase64, string by);

    /// <summary>Replaces a device's MQTT password and HMAC key; the old ones stop working at once.</summary>
    Task<DeviceCredentials> RotateCredentials(string deviceId, string by);

    /// <summary>Registers or updates one person (card holder); a bad person is refused with an <see cref="ArgumentException"/>.</summary>
    Task<PersonProfile> UpsertPerson(PersonProfile person, string by);

    /// <summary>The most people one <see cref="UpsertPeople"/> call takes; split larger lists.</summary>
    const int MaxPeoplePerCall = 20_000;

    /// <summary>
    /// Registers or updates many people at once (an import, a zone's holders): each person is
    /// checked as <see cref="UpsertPerson"/> checks one, and a person given twice is refused. The
    /// good people are applied and each bad one is reported by its row (its index in
    /// <paramref name="people"/>) and changes nothing: a batch with a bad row is not rejected whole.
    /// The result equals upserting the good people one by one, in order (stored person, the
    /// schools' card indexes and door allow-lists, one person.upsert audit entry each), but each
    /// touched storage shard and each touched school is written once.
    /// </summary>
    /// <exception cref="ArgumentException">More than <see cref="MaxPeoplePerCall"/> people, or no acting user.</exception>
    Task<PeopleUpsertResult> UpsertPeople(IReadOnlyList<PersonProfile> people, string by);

    Task<DeviceSpec?> GetDevice(string deviceId);
    Task<PersonProfile?> GetPerson(string personId);
    Task<IReadOnlyList<SchoolSpec>> ListSchools();
    Task<IReadOnlyList<RoomSpec>> ListRooms(string school);

    /// <summary>The school's buildings, by id: the registered ones and, when a room is in it, the default building.</summary>
    Task<IReadOnlyList<BuildingSpec>> ListBuildings(string school);
    Task<IReadOnlyList<DeviceSpec>> ListDevices(string school);
    Task<IReadOnlyList<PersonProfile>> ListPeople(string school);

    /// <summary>Loads the device directory used by ingestion and the broker's credential check.</summary>
    Task Load();
}

/// <summary>A person that <see cref="IRegistryGrain.UpsertPeople"/> refused: its row (index in the list), its id if any, and why.</summary>
public sealed record PersonRowError(int Row, string? PersonId, string Reason)
{
    public override string ToString() => PersonId is null ? $"Row {Row}: {Reason}" : $"Row {Row} (person '{PersonId}'): {Reason}";
}

/// <summary>What <see cref="IRegistryGrain.UpsertPeople"/> did: how many people it applied and each refused row, in row order.</summary>
public sealed record PeopleUpsertResult(int Applied, IReadOnlyList<PersonRowError> Errors);

/// <summary>The whole district's live aggregate (key <see cref="IRegistryGrain.RegistryKey"/>).</summary>
public interface IDistrictGrain : IGrainWithStringKey
{
    Task<DistrictSnapshot> GetSnapshot();
}

/// <summary>
/// A school (key = school id): configuration, people index and access decisions, alerts with
/// their lifecycle, lockdown, allow-lists, and the live aggregate of its rooms.
/// </summary>
public interface ISchoolGrain : IGrainWithStringKey
{
    Task Configure(SchoolSpec spec);
    Task<SchoolSpec?> GetSpec();
    Task AddDevice(DeviceSpec device);
    Task SetPerson(PersonProfile person);

    /// <summary>As <see cref="SetPerson"/> for each person, in order, with one state write.</summary>
    Task SetPeople(IReadOnlyList<PersonProfile> people);

    /// <summary>Names a building of the school (for its live aggregate per building).</summary>
    Task SetBuilding(BuildingSpec building);

    /// <summary>Decides a card at a door of a room, in the school's local time.</summary>
    Task<AccessVerdict> DecideAccess(string door, string room, string card);

    /// <summary>Raises, updates or (for a clearing signal) resolves the alert of (source, signal type).</summary>
    Task Signal(string source, string? room, AlertSignal signal);

    Task<IReadOnlyList<AlertView>> GetAlerts(bool includeClosed = false);
    Task<AlertView> AcknowledgeAlert(string alertId, string by, string? note);
    Task<AlertView> ResolveAlert(string alertId, string by, string? note);
    Task<AlertView> CloseAlert(string alertId, string by, string? note);

    /// <summary>Sends a retained `cmd/lockdown` (active) to every door and class sign of the school.</summary>
    Task<LockdownView> StartLockdown(string by, string message);

    /// <summary>Sends a retained `cmd/lockdown` (inactive) to the same devices.</summary>
    Task<LockdownView> LiftLockdown(string by);
    Task<LockdownView> GetLockdown();
    Task LockdownAcknowledged(string device, string commandId, bool ok, string? error);

    /// <summary>Sends a one-time `cmd/unlock` to a door (audited).</summary>
    Task UnlockDoor(string door, string by, int? openMs);

    /// <summary>Republishes every door's allow-list (also done on every people or zone change).</summary>
    Task PushAllowLists();

    /// <summary>A room reports its aggregate; the answer carries the school's clock settings.</summary>
    Task<SchoolClock> ReportRoom(RoomSnapshot room);
    Task<SchoolClock> GetClock();
    Task<SchoolSnapshot> GetSnapshot();
    Task Subscribe(ISchoolObserver observer);
    Task Unsubscribe(ISchoolObserver observer);
}

/// <summary>What rooms need of their school: time zone and opening hours.</summary>
public sealed record SchoolClock(string TimeZoneId, WeeklySchedule OpeningHours);

/// <summary>A room (key = "{school}/{room}"): aggregates its devices, energy rules.</summary>
public interface IRoomGrain : IGrainWithStringKey
{
    Task Configure(RoomSpec spec);

    /// <summary>
    /// A device's live values. One way: room aggregates are live state, so a device's message is done once
    /// the device applied it, and a room that fails logs it instead of failing the device's message.
    /// </summary>
    [OneWay] Task Report(DeviceLive device);
    Task<RoomSnapshot> GetSnapshot();
    Task Subscribe(IRoomObserver observer);
    Task Unsubscribe(IRoomObserver observer);
}

/// <summary>Any device (key = device id). One grain class per kind implements it.</summary>
public interface IDeviceGrain : IGrainWithStringKey
{
    /// <summary>Sets (or moves) the device's school, room and kind, and its HMAC key for signed events.</summary>
    Task Provision(DeviceSpec spec, string? hmacKeyBase64);

    /// <summary>Validates, de-duplicates and applies one message; completes when its effect is durable.</summary>
    Task<IngestResult> Ingest(DeviceMessage message);

    /// <summary>Periodic check: missed heartbeats, held-open doors.</summary>
    Task Tick();
    Task<DeviceSnapshot> GetSnapshot();
    Task Subscribe(IDeviceObserver observer);
    Task Unsubscribe(IDeviceObserver observer);
}

public interface IEnergyMeterGrain : IDeviceGrain;
public interface IEnvNodeGrain : IDeviceGrain;
public interface IDoorGrain : IDeviceGrain;
public interface IClassSignGrain : IDeviceGrain;
public interface IMakerKitGrain : IDeviceGrain;

/// <summary>Finds the grain of a device by its kind.</summary>
public static class DeviceGrains
{
    public static IDeviceGrain Get(IGrainFactory factory, DeviceKind kind, string deviceId) => kind switch
    {
        DeviceKind.Energy => factory.GetGrain<IEnergyMeterGrain>(deviceId),
        DeviceKind.Env => factory.GetGrain<IEnvNodeGrain>(deviceId),
        DeviceKind.Door => factory.GetGrain<IDoorGrain>(deviceId),
        DeviceKind.Sign => factory.GetGrain<IClassSignGrain>(deviceId),
        DeviceKind.Maker => factory.GetGrain<IMakerKitGrain>(deviceId),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a device kind; use energy, env, door, sign or maker."),
    };

    public static string RoomKey(string school, string room) => school + "/" + room;
}
