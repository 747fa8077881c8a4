using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.History;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Controller.Grains;

/// <summary>A registered device with its secrets (password hash and HMAC key).</summary>
internal sealed record DeviceRecord(DeviceSpec Spec, string PasswordHash, string PasswordSalt, string HmacKey, DateTimeOffset IssuedAt);

/// <summary>
/// The registry's head document: schools and buildings (a few per school). Rooms, devices and
/// people live in <see cref="RegistryShards{T}"/>; the three dictionaries here are only read, once,
/// from a registry written by an earlier version as one document, and then moved into shards.
/// </summary>
internal sealed class RegistryState
{
    public Dictionary<string, SchoolSpec> Schools { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, BuildingSpec> Buildings { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, RoomSpec> Rooms { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, DeviceRecord> Devices { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, PersonProfile> People { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Provisioning for the district: the persisted truth of schools, rooms, devices (with hashed
/// MQTT passwords and HMAC keys) and people. It hands each grain its part and keeps the
/// in-memory <see cref="DeviceDirectory"/> that ingestion and the broker use. Every change is
/// audited. Persistence: schools and buildings in one small head document; rooms, devices and
/// people in fixed sets of shards (<see cref="RegistryShards{T}"/>), so a change writes one
/// shard, however large the district, and a bulk change (<see cref="UpsertPeople"/>) writes each
/// shard it touches once.
/// </summary>
internal sealed class RegistryGrain(
    [PersistentState("registry")] IPersistentState<RegistryState> state,
    [FromKeyedServices(GrainStorageNames.Default)] IGrainStorage storage,
    DeviceDirectory directory,
    DeviceWatch watch,
    IHistoryStore history,
    TimeProvider time) : Grain, IRegistryGrain
{
    /// <summary>Shard counts: at 250,000 devices a device change rewrites about 250 of them.</summary>
    internal const int DeviceShards = 1024, PeopleShards = 512, RoomShards = 128;

    private RegistryShards<RoomSpec> _rooms = null!;
    private RegistryShards<DeviceRecord> _devices = null!;
    private RegistryShards<PersonProfile> _people = null!;

    private RegistryState S => state.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _rooms = new RegistryShards<RoomSpec>(storage, GrainId, "registry-rooms", RoomShards);
        _devices = new RegistryShards<DeviceRecord>(storage, GrainId, "registry-devices", DeviceShards);
        _people = new RegistryShards<PersonProfile>(storage, GrainId, "registry-people", PeopleShards);
        await _rooms.LoadAsync();
        await _devices.LoadAsync();
        await _people.LoadAsync();
        if (S.Rooms.Count + S.Devices.Count + S.People.Count > 0)
        {
            // A registry kept as one document by an earlier version: move it into shards, once.
            await _rooms.SetManyAsync(S.Rooms);
            await _devices.SetManyAsync(S.Devices);
            await _people.SetManyAsync(S.People);
            S.Rooms.Clear();
            S.Devices.Clear();
            S.People.Clear();
            await state.WriteStateAsync();
        }
        var now = time.GetUtcNow();
        foreach (var d in _devices.Values)
        {
            directory.Set(Entry(d));
            watch.Seen(d.Spec.Id, d.Spec.Kind, now); // devices silent since a restart go offline after their timeout
        }
        directory.Loaded = true;
    }

    public Task Load() => Task.CompletedTask;

    public async Task<SchoolSpec> UpsertSchool(SchoolSpec school, string by)
    {
        ArgumentNullException.ThrowIfNull(school);
        CheckId(school.Id, "school id");
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(school.TimeZoneId, out _))
            throw new ArgumentException($"Unknown time zone '{school.TimeZoneId}'; use an IANA id such as Asia/Shanghai.", nameof(school));
        S.Schools[school.Id] = school;
        await state.WriteStateAsync();
        await GrainFactory.GetGrain<ISchoolGrain>(school.Id).Configure(school);
        await history.UpsertSchoolAsync(new SchoolProfile(school.Id, school.TimeZoneId, OpeningWindows(school.OpeningHours)));
        await AuditAsync(school.Id, by, "school.upsert", school.Id);
        return school;
    }

    public async Task<BuildingSpec> UpsertBuilding(BuildingSpec building, string by)
    {
        ArgumentNullException.ThrowIfNull(building);
        RequireSchool(building.School);
        CheckId(building.Id, "building id");
        if (string.IsNullOrWhiteSpace(building.Name)) throw new ArgumentException($"Building '{building.Id}' needs a name.", nameof(building));
        S.Buildings[DeviceGrains.RoomKey(building.School, building.Id)] = building;
        await state.WriteStateAsync();
        await GrainFactory.GetGrain<ISchoolGrain>(building.School).SetBuilding(building);
        await AuditAsync(building.School, by, "building.upsert", building.Id);
        return building;
    }

    public async Task<RoomSpec> UpsertRoom(RoomSpec room, string by)
    {
        ArgumentNullException.ThrowIfNull(room);
        RequireSchool(room.School);
        CheckId(room.Id, "room id");
        room = room with { Building = room.BuildingOrDefault() };
        if (room.Building != BuildingSpec.DefaultId && !S.Buildings.ContainsKey(DeviceGrains.RoomKey(room.School, room.Building!)))
            throw new ArgumentException($"Building '{room.Building}' of school '{room.School}' is not registered; register the building first, or leave it out for the school's default building.", nameof(room));
        await _rooms.SetAsync(DeviceGrains.RoomKey(room.School, room.Id), room);
        await GrainFactory.GetGrain<IRoomGrain>(DeviceGrains.RoomKey(room.School, room.Id)).Configure(room);
        await AuditAsync(room.School, by, "room.upsert", room.Id);
        return room;
    }

    public async Task ImportDevice(DeviceSpec device, string mqttPassword, string hmacKeyBase64, string by)
    {
        ArgumentException.ThrowIfNullOrEmpty(mqttPassword);
        if (!DeviceKeys.TryDecode(hmacKeyBase64, out _)) throw new ArgumentException("The HMAC key must be 32 bytes in base64.", nameof(hmacKeyBase64));
        CheckNewDevice(device);
        await IssueAsync(device, by, "credential.import", mqttPassword, hmacKeyBase64);
        await GrainFactory.GetGrain<ISchoolGrain>(device.School).AddDevice(device);
    }

    public async Task<DeviceCredentials> CreateDevice(DeviceSpec device, string by)
    {
        CheckNewDevice(device);
        var credentials = await IssueAsync(device, by, "credential.issue");
        await GrainFactory.GetGrain<ISchoolGrain>(device.School).AddDevice(device);
        return credentials;
    }

    private void CheckNewDevice(DeviceSpec device)
    {
        ArgumentNullException.ThrowIfNull(device);
        RequireSchool(device.School);
        CheckId(device.Id, "device id");
        if (!_rooms.ContainsKey(DeviceGrains.RoomKey(device.School, device.Room)))
            throw new ArgumentException($"Room '{device.Room}' of school '{device.School}' is not registered; register the room first.", nameof(device));
        if (device.Kind == DeviceKind.Unknown) throw new ArgumentException("A device needs a kind: energy, env, door, sign or maker.", nameof(device));
        if (_devices.TryGetValue(device.Id, out var existing) && existing.Spec.Kind != device.Kind)
            throw new ArgumentException($"Device '{device.Id}' is already registered as {existing.Spec.Kind.ToWire()}; device ids are unique in the district.", nameof(device));
    }

    public async Task<DeviceCredentials> RotateCredentials(string deviceId, string by)
    {
        if (!_devices.TryGetValue(deviceId, out var record))
            throw new ArgumentException($"Device '{deviceId}' is not registered.", nameof(deviceId));
        return await IssueAsync(record.Spec, by, "credential.rotate");
    }

    private async Task<DeviceCredentials> IssueAsync(DeviceSpec device, string by, string action, string? givenPassword = null, string? givenKey = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        var password = givenPassword ?? Secrets.NewPassword();
        var key = givenKey ?? Secrets.NewHmacKey();
        var (hash, salt) = Secrets.Hash(password);
        var now = time.GetUtcNow();
        var record = new DeviceRecord(device, hash, salt, key, now);
        await _devices.SetAsync(device.Id, record);
        directory.Set(Entry(record));
        await DeviceGrains.Get(GrainFactory, device.Kind, device.Id).Provision(device, key);
        await AuditAsync(device.School, by, action, device.Id);
        return new DeviceCredentials(device.Id, password, key, now);
    }

    public async Task<PersonProfile> UpsertPerson(PersonProfile person, string by)
    {
        ArgumentNullException.ThrowIfNull(person);
        if (CheckPerson(person) is { } problem) throw new ArgumentException(problem, nameof(person));
        var previousSchool = _people.TryGetValue(person.Id, out var old) ? old.School : null;
        await _people.SetAsync(person.Id, person);
        await GrainFactory.GetGrain<ISchoolGrain>(person.School).SetPerson(person);
        if (previousSchool is not null && !string.Equals(previousSchool, person.School, StringComparison.Ordinal))
            await GrainFactory.GetGrain<ISchoolGrain>(previousSchool).SetPerson(person);
        await AuditAsync(person.School, by, "person.upsert", person.Id);
        return person;
    }

    /// <remarks>
    /// Partial by design: a bad row is reported and the good ones are applied, as an import of a
    /// file with a bad line does (the bad line is fixed and imported again, the rest is not lost).
    /// Every check happens before anything is written, so a refused row never changes anything.
    /// </remarks>
    public async Task<PeopleUpsertResult> UpsertPeople(IReadOnlyList<PersonProfile> people, string by)
    {
        ArgumentNullException.ThrowIfNull(people);
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        if (people.Count > IRegistryGrain.MaxPeoplePerCall)
            throw new ArgumentException($"{people.Count} people in one call; at most {IRegistryGrain.MaxPeoplePerCall}: split the list.", nameof(people));
        var errors = new List<PersonRowError>();
        var good = new List<PersonProfile>(people.Count);
        var rowOf = new Dictionary<string, int>(people.Count, StringComparer.Ordinal);
        for (var row = 0; row < people.Count; row++)
        {
            var person = people[row];
            var problem = person is null ? "The row holds no person." : CheckPerson(person);
            if (problem is null && !rowOf.TryAdd(person!.Id, row))
                problem = $"Person '{person.Id}' is also in row {rowOf[person.Id]}; give each person once.";
            if (problem is not null)
            {
                errors.Add(new PersonRowError(row, string.IsNullOrWhiteSpace(person?.Id) ? null : person.Id, problem));
                continue;
            }
            good.Add(person!);
        }
        if (good.Count == 0) return new PeopleUpsertResult(0, errors);

        // Each school that holds or held a person hears of them, in row order (a person who moved
        // is removed from the old school's card index), as UpsertPerson tells both.
        var schools = new Dictionary<string, List<PersonProfile>>(StringComparer.Ordinal);
        var entries = new List<KeyValuePair<string, PersonProfile>>(good.Count);
        foreach (var person in good)
        {
            SchoolList(schools, person.School).Add(person);
            if (_people.TryGetValue(person.Id, out var old) && !string.Equals(old.School, person.School, StringComparison.Ordinal))
                SchoolList(schools, old.School).Add(person);
            entries.Add(KeyValuePair.Create(person.Id, person));
        }
        await _people.SetManyAsync(entries);
        await Task.WhenAll(schools.Select(s => GrainFactory.GetGrain<ISchoolGrain>(s.Key).SetPeople(s.Value)));
        // One entry per person as UpsertPerson writes; all queued before waiting, so the audit log writes them in batches.
        var audits = new List<Task>(good.Count);
        foreach (var person in good) audits.Add(AuditAsync(person.School, by, "person.upsert", person.Id).AsTask());
        await Task.WhenAll(audits);
        return new PeopleUpsertResult(good.Count, errors);

        static List<PersonProfile> SchoolList(Dictionary<string, List<PersonProfile>> schools, string school)
        {
            if (!schools.TryGetValue(school, out var list)) schools[school] = list = [];
            return list;
        }
    }

    /// <summary>Why a person cannot be registered, or null: one check for <see cref="UpsertPerson"/> and <see cref="UpsertPeople"/>.</summary>
    private string? CheckPerson(PersonProfile person)
    {
        if (string.IsNullOrWhiteSpace(person.Id)) return "The person id is empty; give each person an id.";
        if (string.IsNullOrWhiteSpace(person.School) || !S.Schools.ContainsKey(person.School))
            return $"School '{person.School}' is not registered; register the school first.";
        foreach (var c in person.Cards ?? [])
            if (c?.Uid is not { } uid || !IsCardUid(uid)) return $"Card '{c?.Uid}' is not a UID of 8 or 14 upper-case hex digits.";
        return null;
    }

    public Task<DeviceSpec?> GetDevice(string deviceId) => Task.FromResult(_devices.TryGetValue(deviceId, out var d) ? d.Spec : null);
    public Task<PersonProfile?> GetPerson(string personId) => Task.FromResult(_people.GetValueOrDefault(personId));
    public Task<IReadOnlyList<SchoolSpec>> ListSchools() => Task.FromResult<IReadOnlyList<SchoolSpec>>([.. S.Schools.Values.OrderBy(s => s.Id, StringComparer.Ordinal)]);
    public Task<IReadOnlyList<RoomSpec>> ListRooms(string school) => Task.FromResult<IReadOnlyList<RoomSpec>>([.. _rooms.Values.Where(r => r.School == school).Select(r => r with { Building = r.BuildingOrDefault() }).OrderBy(r => r.Id, StringComparer.Ordinal)]);

    public Task<IReadOnlyList<BuildingSpec>> ListBuildings(string school)
    {
        var list = S.Buildings.Values.Where(b => b.School == school).ToList();
        if (!list.Any(b => b.Id == BuildingSpec.DefaultId) && _rooms.Values.Any(r => r.School == school && r.BuildingOrDefault() == BuildingSpec.DefaultId))
            list.Add(BuildingSpec.Default(school));
        return Task.FromResult<IReadOnlyList<BuildingSpec>>([.. list.OrderBy(b => b.Id, StringComparer.Ordinal)]);
    }
    public Task<IReadOnlyList<DeviceSpec>> ListDevices(string school) => Task.FromResult<IReadOnlyList<DeviceSpec>>([.. _devices.Values.Select(d => d.Spec).Where(d => d.School == school).OrderBy(d => d.Id, StringComparer.Ordinal)]);
    public Task<IReadOnlyList<PersonProfile>> ListPeople(string school) => Task.FromResult<IReadOnlyList<PersonProfile>>([.. _people.Values.Where(p => p.School == school).OrderBy(p => p.Id, StringComparer.Ordinal)]);

    private void RequireSchool(string school)
    {
        if (!S.Schools.ContainsKey(school)) throw new ArgumentException($"School '{school}' is not registered; register the school first.");
    }

    private static void CheckId(string id, string what)
    {
        if (!Identifier.IsValid(id)) throw new ArgumentException($"'{id}' is not a valid {what}: 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit.");
    }

    private static bool IsCardUid(string uid)
    {
        if (uid.Length is not (8 or 14)) return false;
        foreach (var c in uid) if (!char.IsAsciiHexDigitUpper(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }

    private static DeviceEntry Entry(DeviceRecord d) => new(d.Spec.Id, d.Spec.School, d.Spec.Room, d.Spec.Kind, d.PasswordHash, d.PasswordSalt);

    private ValueTask AuditAsync(string? school, string by, string action, string target)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        return history.AppendAuditAsync(new AuditEntry { SchoolId = school, Actor = by, Action = action, Target = target, At = time.GetUtcNow() });
    }

    internal static List<OpeningWindow> OpeningWindows(WeeklySchedule schedule)
    {
        var list = new List<OpeningWindow>();
        foreach (var w in schedule.Windows)
            foreach (var c in w.Days)
            {
                var day = c == '7' ? DayOfWeek.Sunday : (DayOfWeek)(c - '0');
                list.Add(new OpeningWindow(day, w.From, w.To > w.From ? w.To : TimeOnly.MinValue));
            }
        return list;
    }
}

/// <summary>The district's live aggregate: the sum of its schools.</summary>
internal sealed class DistrictGrain : Grain, IDistrictGrain
{
    public async Task<DistrictSnapshot> GetSnapshot()
    {
        var schools = await GrainFactory.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey).ListSchools();
        var snapshots = await Task.WhenAll(schools.Select(s => GrainFactory.GetGrain<ISchoolGrain>(s.Id).GetSnapshot()));
        return new DistrictSnapshot(
            snapshots.Sum(s => s.PowerW),
            snapshots.Sum(s => s.EnergyTodayKwh),
            snapshots.Sum(s => s.OpenAlerts),
            snapshots.Count(s => s.Lockdown),
            snapshots);
    }
}
