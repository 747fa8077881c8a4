using System.Collections.Concurrent;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Grains;

namespace Campus.Dashboard.Api;

/// <summary>
/// The dashboard's read side over the controller: registry lists (paged here, cached a few
/// seconds per school so a district of 250,000 devices is not re-sorted on every request),
/// live snapshots from grains and history queries. Scoping is checked by the callers through
/// <see cref="Security.SchoolScope"/>; this class never decides who sees what.
/// </summary>
internal sealed class CampusData(IGrainFactory grains, IHistoryStore history, TimeProvider time)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, IReadOnlyList<DeviceSpec> Devices)> _devices = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, IReadOnlyList<RoomSpec> Rooms)> _rooms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, IReadOnlyList<BuildingSpec> Buildings)> _buildings = new(StringComparer.Ordinal);
    private (DateTimeOffset At, IReadOnlyList<SchoolSpec> Schools) _schools;

    public IGrainFactory Grains => grains;
    public IHistoryStore History => history;
    public IRegistryGrain Registry => grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey);
    public ISchoolGrain School(string id) => grains.GetGrain<ISchoolGrain>(id);

    public async Task<IReadOnlyList<SchoolSpec>> SchoolsAsync()
    {
        var now = time.GetUtcNow();
        if (_schools.Schools is null || now - _schools.At > CacheFor) _schools = (now, await Registry.ListSchools().ConfigureAwait(false));
        return _schools.Schools;
    }

    public async Task<SchoolSpec?> SchoolAsync(string id)
    {
        foreach (var s in await SchoolsAsync().ConfigureAwait(false))
            if (s.Id == id) return s;
        return null;
    }

    public void Forget(string? school = null)
    {
        _schools = default;
        if (school is null)
        {
            _devices.Clear();
            _rooms.Clear();
            _buildings.Clear();
        }
        else
        {
            _devices.TryRemove(school, out _);
            _rooms.TryRemove(school, out _);
            _buildings.TryRemove(school, out _);
        }
    }

    public async Task<IReadOnlyList<DeviceSpec>> DevicesAsync(string school)
    {
        var now = time.GetUtcNow();
        if (_devices.TryGetValue(school, out var hit) && now - hit.At <= CacheFor) return hit.Devices;
        var list = await Registry.ListDevices(school).ConfigureAwait(false);
        _devices[school] = (now, list);
        return list;
    }

    public async Task<IReadOnlyList<RoomSpec>> RoomsAsync(string school)
    {
        var now = time.GetUtcNow();
        if (_rooms.TryGetValue(school, out var hit) && now - hit.At <= CacheFor) return hit.Rooms;
        var list = await Registry.ListRooms(school).ConfigureAwait(false);
        _rooms[school] = (now, list);
        return list;
    }

    /// <summary>The school's buildings (the registered ones, and the default building when a room is in it), by id.</summary>
    public async Task<IReadOnlyList<BuildingSpec>> BuildingsAsync(string school)
    {
        var now = time.GetUtcNow();
        if (_buildings.TryGetValue(school, out var hit) && now - hit.At <= CacheFor) return hit.Buildings;
        var list = await Registry.ListBuildings(school).ConfigureAwait(false);
        _buildings[school] = (now, list);
        return list;
    }

    /// <summary>
    /// One page of the school's buildings, filtered by name or id, each with its rooms' live sums
    /// (power, energy today, devices, open alerts) from the school's snapshot.
    /// </summary>
    public async Task<PageOf<BuildingSummary>> BuildingPageAsync(string school, string? q, int offset, int limit)
    {
        var buildings = (await BuildingsAsync(school).ConfigureAwait(false)).Where(b => Matches(q, b.Id, b.Name)).ToList();
        var rooms = (await RoomsAsync(school).ConfigureAwait(false)).ToLookup(r => r.BuildingOrDefault(), StringComparer.Ordinal);
        var snapshot = await School(school).GetSnapshot().ConfigureAwait(false);
        var live = snapshot.Rooms.ToDictionary(r => r.Room, StringComparer.Ordinal);
        var items = buildings.Skip(offset).Take(limit).Select(b =>
        {
            var summaries = rooms[b.Id].Select(r => Summaries.Of(r, live.GetValueOrDefault(r.Id), snapshot.OpenAlertsByRoom)).ToList();
            return new BuildingSummary(b.Id, b.Name, summaries.Count, summaries.Sum(r => r.PowerW), summaries.Sum(r => r.EnergyTodayKwh),
                summaries.Count(r => r.Occupied), summaries.Sum(r => r.DevicesOnline), summaries.Sum(r => r.DevicesOffline), summaries.Sum(r => r.OpenAlerts));
        }).ToList();
        return new PageOf<BuildingSummary>(items, offset, limit, buildings.Count);
    }

    /// <summary>Visible schools, filtered by name or id, one page, with their live summaries (only of that page).</summary>
    public async Task<PageOf<SchoolSummary>> SchoolPageAsync(Func<string, bool> visible, string? q, int offset, int limit)
    {
        var all = (await SchoolsAsync().ConfigureAwait(false)).Where(s => visible(s.Id) && Matches(q, s.Id, s.Name)).ToList();
        var page = all.Skip(offset).Take(limit).ToList();
        var snaps = await Task.WhenAll(page.Select(s => School(s.Id).GetSnapshot())).ConfigureAwait(false);
        var items = page.Select((s, i) => new SchoolSummary(s.Id, s.Name, s.TimeZoneId, snaps[i].PowerW, snaps[i].DevicesOnline, snaps[i].DevicesOffline, snaps[i].OpenAlerts, snaps[i].Lockdown)).ToList();
        return new PageOf<SchoolSummary>(items, offset, limit, all.Count);
    }

    /// <summary>One page of the school's rooms, filtered by name or id and, when given, by building.</summary>
    public async Task<PageOf<RoomSummary>> RoomPageAsync(string school, string? q, int offset, int limit, string? building = null)
    {
        var rooms = (await RoomsAsync(school).ConfigureAwait(false)).Where(r => (building is null || r.BuildingOrDefault() == building) && Matches(q, r.Id, r.Name)).ToList();
        var snapshot = await School(school).GetSnapshot().ConfigureAwait(false);
        var live = snapshot.Rooms.ToDictionary(r => r.Room, StringComparer.Ordinal);
        var items = rooms.Skip(offset).Take(limit).Select(r => Summaries.Of(r, live.GetValueOrDefault(r.Id), snapshot.OpenAlertsByRoom)).ToList();
        return new PageOf<RoomSummary>(items, offset, limit, rooms.Count);
    }

    public async Task<PageOf<DeviceSnapshot>> DevicePageAsync(string school, string? q, DeviceKind? kind, string? room, int offset, int limit)
    {
        var all = (await DevicesAsync(school).ConfigureAwait(false))
            .Where(d => (kind is null || d.Kind == kind) && (room is null || d.Room == room) && Matches(q, d.Id, d.Name))
            .ToList();
        var page = all.Skip(offset).Take(limit).ToList();
        var snaps = await Task.WhenAll(page.Select(d => DeviceGrains.Get(grains, d.Kind, d.Id).GetSnapshot())).ConfigureAwait(false);
        return new PageOf<DeviceSnapshot>(snaps, offset, limit, all.Count);
    }

    /// <summary>A device of this school, or null (also when it belongs to another school).</summary>
    public async Task<DeviceSpec?> DeviceAsync(string school, string device)
    {
        var spec = await Registry.GetDevice(device).ConfigureAwait(false);
        return spec is not null && spec.School == school ? spec : null;
    }

    /// <summary>Today's date in the school's time zone.</summary>
    public DateOnly Today(SchoolSpec school) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(time.GetUtcNow(), TimeZoneInfo.FindSystemTimeZoneById(school.TimeZoneId)).DateTime);

    public static (DateOnly From, DateOnly To) DefaultRange(EnergyGranularity g, DateOnly today) => g switch
    {
        EnergyGranularity.Hour => (today, today),
        EnergyGranularity.Day => (today.AddDays(-29), today),
        _ => (new DateOnly(today.Year, today.Month, 1).AddMonths(-11), today),
    };

    internal static bool Matches(string? q, string id, string? name) =>
        string.IsNullOrWhiteSpace(q)
        || id.Contains(q.Trim(), StringComparison.OrdinalIgnoreCase)
        || (name is not null && name.Contains(q.Trim(), StringComparison.OrdinalIgnoreCase));

    public static AccessRow Row(StoredAccessLogEntry e) =>
        new(e.Id, e.Entry.OccurredAt, e.Entry.RoomId, e.Entry.DoorId, e.Entry.EventType, e.Entry.PersonId, e.Entry.Card, e.Entry.Result, e.Entry.Reason, e.Entry.Source);

    public static AuditRow Row(StoredAuditEntry e) =>
        new(e.Id, e.Entry.At, e.Entry.SchoolId, e.Entry.Actor, e.Entry.Action, e.Entry.Target, e.Entry.Details);
}
