using System.Globalization;
using System.Security.Claims;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Dashboard.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Campus.Dashboard.Api;

/// <summary>One weekly window in the school's local time: ISO weekdays (1 = Monday … 7 = Sunday), <c>HH:mm</c> to <c>HH:mm</c> (or <c>24:00</c>).</summary>
public sealed record ZoneWindow(IReadOnlyList<int>? Days, string? From, string? To);

/// <summary>A zone to create or edit: its rooms and/or doors (a door stands for its room) and its weekly windows.</summary>
public sealed record ZoneRequest(string? Id, IReadOnlyList<string>? Rooms, IReadOnlyList<string>? Doors, IReadOnlyList<ZoneWindow>? Windows);

/// <summary>An access zone as the dashboard shows it: rooms, the doors in them, the weekly windows and how many people hold it.</summary>
public sealed record ZoneView(string Id, IReadOnlyList<string> Rooms, IReadOnlyList<string> Doors, IReadOnlyList<ZoneWindow> Windows, int People);

/// <summary>The zones a person holds (replaces the person's zones).</summary>
public sealed record PersonZonesRequest(IReadOnlyList<string>? Zones);

/// <summary>A person and their zones after an assignment.</summary>
public sealed record PersonZonesView(string Id, string Name, IReadOnlyList<string> Zones);

/// <summary>The outcome of a zone change: the result, or errors by field, or not found.</summary>
internal readonly record struct ZoneOutcome<T>(T? Value, Dictionary<string, string[]>? Errors, bool NotFound)
{
    public static ZoneOutcome<T> Missing => new(default, null, true);
    public static ZoneOutcome<T> Invalid(string field, string message) => new(default, new() { [field] = [message] }, false);
}

/// <summary>
/// Access zones and their weekly schedules, edited by admins. A zone's rooms are part of the
/// school's spec (<see cref="SchoolSpec.Zones"/>); its schedule is kept by
/// <see cref="IZoneScheduleGrain"/> and copied into the <see cref="ZoneGrant"/> of every person
/// who holds the zone, so the school grain's access decisions and the doors' allow-lists change
/// as soon as a zone, its schedule or a person's zones change. A zone without a stored schedule
/// (created by an import or a seed) has the school's opening hours. Every change is audited.
/// </summary>
internal static class AccessZones
{
    public const int MaxWindows = 28;
    public const int MaxRooms = 500;

    // Zone changes read, change and write the school's spec: one at a time, so two admins never overwrite each other's zone.
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static void Map(RouteGroupBuilder school)
    {
        school.MapGet("/zones", ListAsync).RequireAuthorization(Policies.Admin);
        school.MapPost("/zones", CreateAsync).RequireAuthorization(Policies.Admin);
        school.MapPut("/zones/{zone}", UpdateAsync).RequireAuthorization(Policies.Admin);
        school.MapDelete("/zones/{zone}", DeleteAsync).RequireAuthorization(Policies.Admin);
        school.MapPut("/people/{person}/zones", AssignEndpointAsync).RequireAuthorization(Policies.Admin);
    }

    // ---- endpoints ----

    private static async Task<Results<Ok<IReadOnlyList<ZoneView>>, NotFound>> ListAsync(string school, CampusData data)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        return TypedResults.Ok(await ListZonesAsync(data, school));
    }

    private static async Task<Results<Created<ZoneView>, ValidationProblem, NotFound>> CreateAsync(string school, ZoneRequest request, ClaimsPrincipal user, CampusData data)
    {
        var outcome = await SaveAsync(data, school, null, request, user.Name());
        if (outcome.NotFound) return TypedResults.NotFound();
        if (outcome.Errors is { } errors) return TypedResults.ValidationProblem(errors);
        return TypedResults.Created($"/api/v1/schools/{school}/zones/{outcome.Value!.Id}", outcome.Value);
    }

    private static async Task<Results<Ok<ZoneView>, ValidationProblem, NotFound>> UpdateAsync(string school, string zone, ZoneRequest request, ClaimsPrincipal user, CampusData data)
    {
        var outcome = await SaveAsync(data, school, zone, request, user.Name());
        if (outcome.NotFound) return TypedResults.NotFound();
        if (outcome.Errors is { } errors) return TypedResults.ValidationProblem(errors);
        return TypedResults.Ok(outcome.Value!);
    }

    private static async Task<Results<NoContent, NotFound>> DeleteAsync(string school, string zone, ClaimsPrincipal user, CampusData data) =>
        await RemoveAsync(data, school, zone, user.Name()) ? TypedResults.NoContent() : TypedResults.NotFound();

    private static async Task<Results<Ok<PersonZonesView>, ValidationProblem, NotFound>> AssignEndpointAsync(string school, string person, PersonZonesRequest request, ClaimsPrincipal user, CampusData data)
    {
        var outcome = await AssignAsync(data, school, person, request.Zones ?? [], user.Name());
        if (outcome.NotFound) return TypedResults.NotFound();
        if (outcome.Errors is { } errors) return TypedResults.ValidationProblem(errors);
        return TypedResults.Ok(outcome.Value!);
    }

    // ---- operations (the API and the admin page share them) ----

    public static async Task<IReadOnlyList<ZoneView>> ListZonesAsync(CampusData data, string school)
    {
        var spec = await FreshSchoolAsync(data, school);
        if (spec is null) return [];
        var schedules = await Schedules(data, school).GetSchedules();
        var doors = (await data.Registry.ListDevices(school)).Where(d => d.Kind == DeviceKind.Door).ToList();
        var people = await data.Registry.ListPeople(school);
        return [.. spec.Zones.OrderBy(z => z.Id, StringComparer.Ordinal).Select(z => View(z, ScheduleOf(spec, schedules, z.Id), doors, people))];
    }

    /// <summary>Creates (<paramref name="zoneId"/> null) or replaces a zone and pushes its schedule to every holder.</summary>
    public static async Task<ZoneOutcome<ZoneView>> SaveAsync(CampusData data, string school, string? zoneId, ZoneRequest request, string by)
    {
        ArgumentNullException.ThrowIfNull(request);
        await Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var spec = await FreshSchoolAsync(data, school).ConfigureAwait(false);
            if (spec is null) return ZoneOutcome<ZoneView>.Missing;
            var creating = zoneId is null;
            var id = (creating ? request.Id : zoneId)?.Trim() ?? "";
            if (creating)
            {
                if (!Identifier.IsValid(id)) return ZoneOutcome<ZoneView>.Invalid("id", $"'{id}' is not a valid zone id: 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit.");
                if (spec.Zones.Any(z => z.Id == id)) return ZoneOutcome<ZoneView>.Invalid("id", $"Zone '{id}' already exists; edit it instead.");
            }
            else
            {
                if (spec.Zones.All(z => z.Id != id)) return ZoneOutcome<ZoneView>.Missing;
                if (!string.IsNullOrEmpty(request.Id) && request.Id.Trim() != id) return ZoneOutcome<ZoneView>.Invalid("id", $"The body names zone '{request.Id}' but the address names '{id}'; a zone cannot be renamed.");
            }

            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            var rooms = await CheckPlacesAsync(data, school, request, errors).ConfigureAwait(false);
            var schedule = ParseWindows(request.Windows, errors);
            if (errors.Count > 0) return new ZoneOutcome<ZoneView>(default, errors, false);

            var zone = new AccessZoneSpec(id, rooms);
            var zones = spec.Zones.Where(z => z.Id != id).Append(zone).OrderBy(z => z.Id, StringComparer.Ordinal).ToList();
            var previous = (await Schedules(data, school).GetSchedules().ConfigureAwait(false)).GetValueOrDefault(id);
            await Schedules(data, school).SetSchedule(id, schedule!).ConfigureAwait(false);
            await data.Registry.UpsertSchool(spec with { Zones = zones }, by).ConfigureAwait(false);
            var holders = 0;
            var changed = new List<PersonProfile>();
            foreach (var p in await data.Registry.ListPeople(school).ConfigureAwait(false))
            {
                if (!p.Zones.Any(g => g.Zone == id)) continue;
                holders++;
                if (p.Zones.All(g => g.Zone != id || g.Schedule.Windows.SequenceEqual(schedule!.Windows))) continue;
                changed.Add(p with { Zones = [.. p.Zones.Select(g => g.Zone == id ? g with { Schedule = schedule! } : g)] });
            }
            await SaveHoldersAsync(data, id, changed, by).ConfigureAwait(false);
            data.Forget(school);
            var details = $"rooms={string.Join(';', rooms)} windows={Describe(schedule!)} holders={holders}"
                + (previous is null || creating ? "" : $" was={Describe(previous)}");
            await AuditAsync(data, school, by, creating ? "zone.create" : "zone.update", id, details).ConfigureAwait(false);
            var doors = (await data.Registry.ListDevices(school).ConfigureAwait(false)).Where(d => d.Kind == DeviceKind.Door).ToList();
            return new ZoneOutcome<ZoneView>(new ZoneView(id, rooms, DoorsIn(rooms, doors), Windows(schedule!), holders), null, false);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Deletes a zone: it leaves the school's spec and every holder's grants. False when there is no such zone.</summary>
    public static async Task<bool> RemoveAsync(CampusData data, string school, string zoneId, string by)
    {
        await Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var spec = await FreshSchoolAsync(data, school).ConfigureAwait(false);
            if (spec is null || spec.Zones.All(z => z.Id != zoneId)) return false;
            await data.Registry.UpsertSchool(spec with { Zones = [.. spec.Zones.Where(z => z.Id != zoneId)] }, by).ConfigureAwait(false);
            var changed = new List<PersonProfile>();
            foreach (var p in await data.Registry.ListPeople(school).ConfigureAwait(false))
            {
                if (p.Zones.All(g => g.Zone != zoneId)) continue;
                changed.Add(p with { Zones = [.. p.Zones.Where(g => g.Zone != zoneId)] });
            }
            var holders = changed.Count;
            await SaveHoldersAsync(data, zoneId, changed, by).ConfigureAwait(false);
            await Schedules(data, school).RemoveSchedule(zoneId).ConfigureAwait(false);
            data.Forget(school);
            await AuditAsync(data, school, by, "zone.delete", zoneId, $"holders={holders}").ConfigureAwait(false);
            return true;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Replaces the zones a person of this school holds; each grant gets its zone's schedule.</summary>
    public static async Task<ZoneOutcome<PersonZonesView>> AssignAsync(CampusData data, string school, string personId, IReadOnlyList<string> zoneIds, string by)
    {
        await Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var spec = await FreshSchoolAsync(data, school).ConfigureAwait(false);
            var person = await data.Registry.GetPerson(personId).ConfigureAwait(false);
            if (spec is null || person is null || person.School != school) return ZoneOutcome<PersonZonesView>.Missing;
            var wanted = zoneIds.Select(z => z?.Trim() ?? "").Distinct(StringComparer.Ordinal).ToList();
            var unknown = wanted.Where(z => spec.Zones.All(s => s.Id != z)).ToList();
            if (unknown.Count > 0)
                return ZoneOutcome<PersonZonesView>.Invalid("zones", $"Not a zone of school {school}: {string.Join(", ", unknown.Select(u => $"'{u}'"))}. Zones: {string.Join(", ", spec.Zones.Select(z => z.Id))}.");
            var schedules = await Schedules(data, school).GetSchedules().ConfigureAwait(false);
            var grants = wanted.Order(StringComparer.Ordinal).Select(z => new ZoneGrant(z, ScheduleOf(spec, schedules, z))).ToList();
            await data.Registry.UpsertPerson(person with { Zones = grants }, by).ConfigureAwait(false);
            var before = string.Join(';', person.Zones.Select(g => g.Zone));
            await AuditAsync(data, school, by, "person.zones", person.Id, $"zones={string.Join(';', wanted.Order(StringComparer.Ordinal))} was={before}").ConfigureAwait(false);
            return new ZoneOutcome<PersonZonesView>(new PersonZonesView(person.Id, person.Name, [.. grants.Select(g => g.Zone)]), null, false);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>
    /// Saves the changed grants of a zone's holders with the registry's bulk upsert (each touched
    /// shard and school written once, not once per holder). The holders come from the registry, so
    /// a refusal means the registry changed under us (e.g. the school went away): it fails the
    /// change loudly, as a refused single upsert did, instead of leaving holders silently stale.
    /// </summary>
    private static async Task SaveHoldersAsync(CampusData data, string zone, List<PersonProfile> holders, string by)
    {
        for (var from = 0; from < holders.Count; from += IRegistryGrain.MaxPeoplePerCall)
        {
            var part = holders.GetRange(from, Math.Min(IRegistryGrain.MaxPeoplePerCall, holders.Count - from));
            var result = await data.Registry.UpsertPeople(part, by).ConfigureAwait(false);
            if (result.Errors.Count > 0)
                throw new InvalidOperationException($"The registry refused {result.Errors.Count} holder(s) of zone '{zone}'; the first: {result.Errors[0]}.");
        }
    }

    /// <summary>The schedule of each zone of the school (for imports): the stored one, or the school's opening hours.</summary>
    public static async Task<IReadOnlyDictionary<string, WeeklySchedule>> SchedulesAsync(CampusData data, SchoolSpec spec)
    {
        var stored = await Schedules(data, spec.Id).GetSchedules().ConfigureAwait(false);
        return spec.Zones.ToDictionary(z => z.Id, z => ScheduleOf(spec, stored, z.Id), StringComparer.Ordinal);
    }

    // ---- validation and views ----

    private static async Task<List<string>> CheckPlacesAsync(CampusData data, string school, ZoneRequest request, Dictionary<string, string[]> errors)
    {
        var known = (await data.Registry.ListRooms(school).ConfigureAwait(false)).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var rooms = new SortedSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var raw in request.Rooms ?? [])
        {
            var room = raw?.Trim() ?? "";
            if (known.Contains(room)) rooms.Add(room);
            else problems.Add($"Room '{room}' is not a room of school {school}.");
        }
        if (problems.Count > 0) errors["rooms"] = [.. problems];
        problems = [];
        foreach (var raw in request.Doors ?? [])
        {
            var door = raw?.Trim() ?? "";
            var spec = await data.Registry.GetDevice(door).ConfigureAwait(false);
            if (spec is null || spec.School != school) problems.Add($"Door '{door}' is not a device of school {school}.");
            else if (spec.Kind != DeviceKind.Door) problems.Add($"Device '{door}' is not a door; its kind is {spec.Kind.ToWire()}.");
            else rooms.Add(spec.Room);
        }
        if (problems.Count > 0) errors["doors"] = [.. problems];
        if (rooms.Count == 0 && !errors.ContainsKey("rooms") && !errors.ContainsKey("doors"))
            errors["rooms"] = ["A zone needs at least one room or door."];
        if (rooms.Count > MaxRooms) errors["rooms"] = [$"A zone holds at most {MaxRooms} rooms."];
        return [.. rooms];
    }

    /// <summary>Parses the windows into a schedule; adds an error per bad window (field <c>windows[i]</c>).</summary>
    internal static WeeklySchedule? ParseWindows(IReadOnlyList<ZoneWindow>? windows, Dictionary<string, string[]> errors)
    {
        if (windows is null || windows.Count == 0)
        {
            errors["windows"] = ["A zone needs at least one weekly window, e.g. {\"days\":[1,2,3,4,5],\"from\":\"07:00\",\"to\":\"18:00\"}."];
            return null;
        }
        if (windows.Count > MaxWindows)
        {
            errors["windows"] = [$"At most {MaxWindows} windows."];
            return null;
        }
        var parsed = new List<TimeWindow>();
        for (var i = 0; i < windows.Count; i++)
        {
            var w = windows[i];
            var field = $"windows[{i}]";
            var problems = new List<string>();
            if (w.Days is null || w.Days.Count == 0) problems.Add("Name at least one weekday: 1 (Monday) to 7 (Sunday).");
            else if (w.Days.Where(d => d is < 1 or > 7).ToList() is { Count: > 0 } bad)
                problems.Add($"Weekday{(bad.Count > 1 ? "s" : "")} {string.Join(", ", bad)} {(bad.Count > 1 ? "are" : "is")} not valid; use 1 (Monday) to 7 (Sunday).");
            var from = ParseTime(w.From, allowEndOfDay: false);
            var to = ParseTime(w.To, allowEndOfDay: true);
            if (from is null) problems.Add($"Start '{w.From}' is not a time HH:mm (00:00-23:59).");
            if (to is null) problems.Add($"End '{w.To}' is not a time HH:mm (00:01-24:00).");
            if (from is { } f && to is { } t && t <= f) problems.Add($"The window must end after it starts: {w.From}-{w.To}.");
            if (problems.Count > 0)
            {
                errors[field] = [.. problems];
                continue;
            }
            var days = string.Concat(w.Days!.Distinct().Order().Select(d => d.ToString(CultureInfo.InvariantCulture)));
            // 24:00 is kept as 00:00: a window whose end is at its start's day's midnight (see TimeWindow).
            parsed.Add(new TimeWindow(days, TimeOnly.FromTimeSpan(from!.Value), to!.Value >= TimeSpan.FromDays(1) ? TimeOnly.MinValue : TimeOnly.FromTimeSpan(to.Value)));
        }
        return errors.Keys.Any(k => k.StartsWith("windows", StringComparison.Ordinal)) ? null : new WeeklySchedule(parsed);
    }

    private static TimeSpan? ParseTime(string? text, bool allowEndOfDay)
    {
        if (text is null) return null;
        if (allowEndOfDay && text.Trim() == "24:00") return TimeSpan.FromDays(1);
        return TimeOnly.TryParseExact(text.Trim(), "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t.ToTimeSpan() : null;
    }

    public static IReadOnlyList<ZoneWindow> Windows(WeeklySchedule schedule) =>
        [.. schedule.Windows.Select(w => new ZoneWindow([.. w.Days.Select(c => c - '0')], Hm(w.From), w.To == TimeOnly.MinValue ? "24:00" : Hm(w.To)))];

    public static string Describe(WeeklySchedule schedule) =>
        string.Join(',', schedule.Windows.Select(w => $"{w.Days} {Hm(w.From)}-{(w.To == TimeOnly.MinValue ? "24:00" : Hm(w.To))}"));

    private static string Hm(TimeOnly t) => t.ToString("HH:mm", CultureInfo.InvariantCulture);

    private static ZoneView View(AccessZoneSpec zone, WeeklySchedule schedule, IReadOnlyList<DeviceSpec> doors, IReadOnlyList<PersonProfile> people) =>
        new(zone.Id, zone.Rooms, DoorsIn(zone.Rooms, doors), Windows(schedule), people.Count(p => p.Zones.Any(g => g.Zone == zone.Id)));

    private static List<string> DoorsIn(IReadOnlyList<string> rooms, IReadOnlyList<DeviceSpec> doors) =>
        [.. doors.Where(d => rooms.Contains(d.Room, StringComparer.Ordinal)).Select(d => d.Id).Order(StringComparer.Ordinal)];

    private static WeeklySchedule ScheduleOf(SchoolSpec spec, IReadOnlyDictionary<string, WeeklySchedule> stored, string zone) =>
        stored.GetValueOrDefault(zone) ?? spec.OpeningHours;

    private static IZoneScheduleGrain Schedules(CampusData data, string school) => data.Grains.GetGrain<IZoneScheduleGrain>(school);

    /// <summary>The registry's current spec (not the few-seconds cache: a zone change must start from the latest).</summary>
    private static async Task<SchoolSpec?> FreshSchoolAsync(CampusData data, string school) =>
        (await data.Registry.ListSchools().ConfigureAwait(false)).FirstOrDefault(s => s.Id == school);

    private static ValueTask AuditAsync(CampusData data, string school, string by, string action, string target, string details) =>
        data.History.AppendAuditAsync(new AuditEntry { SchoolId = school, Actor = by, Action = action, Target = target, Details = details, At = DateTimeOffset.UtcNow });
}
