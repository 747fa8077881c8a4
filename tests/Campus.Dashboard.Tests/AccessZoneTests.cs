using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Api;
using Campus.Dashboard.Tests.Support;
using Campus.Testing;

namespace Campus.Dashboard.Tests;

/// <summary>Access zones and their weekly schedules through /api/v1: validation, scoping, audit, and the controller's decisions.</summary>
[Collection(HostCollection.Name)]
public sealed class AccessZoneTests(HostFixture fixture)
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private DashboardHost Host => fixture.Host;

    private static string Unique() => Guid.NewGuid().ToString("N")[..8];

    private async Task<ApiClient> AdminAsync()
    {
        var client = Host.Client();
        Assert.Equal(HttpStatusCode.NoContent, await client.SignInAsync(DashboardHost.Accounts[DashboardRole.SchoolAdmin]));
        return client;
    }

    private static object Window(int[] days, string from, string to) => new { days, from, to };

    private static async Task<Dictionary<string, string[]>> ErrorsOf(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("errors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(v => v.GetString()!).ToArray());
    }

    [Fact]
    public async Task Creating_a_zone_with_bad_windows_rooms_or_doors_is_refused_with_one_clear_error_per_field_and_changes_nothing()
    {
        using var client = await AdminAsync();
        var id = "bad-" + Unique();
        using var response = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new
        {
            id,
            rooms = new[] { "r101", "r201" },
            doors = new[] { "d2", "m1" },
            windows = new[] { Window([1, 2], "09:00", "08:00"), Window([0, 8], "07:00", "18:00"), Window([3], "7am", "25:00"), Window([4], "08:00", "24:00") },
        }));
        var errors = await ErrorsOf(response);
        Assert.Equal(["doors", "rooms", "windows[0]", "windows[1]", "windows[2]"], errors.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("Room 'r201' is not a room of school s01.", errors["rooms"]);
        Assert.Contains("Door 'd2' is not a device of school s01.", errors["doors"]);
        Assert.Contains("Device 'm1' is not a door; its kind is energy.", errors["doors"]);
        Assert.Contains("must end after it starts", Assert.Single(errors["windows[0]"]), StringComparison.Ordinal);
        Assert.Contains("Weekdays 0, 8 are not valid", Assert.Single(errors["windows[1]"]), StringComparison.Ordinal);
        Assert.Equal(2, errors["windows[2]"].Length);

        using var noWindows = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new { id, rooms = new[] { "r101" }, windows = Array.Empty<object>() }));
        Assert.Contains("at least one weekly window", Assert.Single((await ErrorsOf(noWindows))["windows"]), StringComparison.Ordinal);
        using var noPlace = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new { id, windows = new[] { Window([1], "07:00", "08:00") } }));
        Assert.Equal("A zone needs at least one room or door.", Assert.Single((await ErrorsOf(noPlace))["rooms"]));
        using var badId = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new { id = "Labs!", rooms = new[] { "r101" }, windows = new[] { Window([1], "07:00", "08:00") } }));
        Assert.Contains("not a valid zone id", Assert.Single((await ErrorsOf(badId))["id"]), StringComparison.Ordinal);
        using var taken = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new { id = "labs", rooms = new[] { "r101" }, windows = new[] { Window([1], "07:00", "08:00") } }));
        Assert.Contains("already exists", Assert.Single((await ErrorsOf(taken))["id"]), StringComparison.Ordinal);

        var spec = (await Host.Registry.ListSchools()).Single(s => s.Id == "s01");
        Assert.DoesNotContain(spec.Zones, z => z.Id == id);
        var zones = await (await client.GetAsync("/api/v1/schools/s01/zones")).Content.ReadFromJsonAsync<List<ZoneView>>(Web);
        Assert.DoesNotContain(zones!, z => z.Id == id);
    }

    [Fact]
    public async Task A_zone_is_listed_with_its_rooms_doors_and_windows_edited_deleted_and_every_change_is_audited()
    {
        using var client = await AdminAsync();
        var id = "z-" + Unique();
        using var created = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new { id, doors = new[] { "d1" }, windows = new[] { Window([5, 1, 1], "08:00", "24:00") } }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var view = (await created.Content.ReadFromJsonAsync<ZoneView>(Web))!;
        Assert.Equal(["r101"], view.Rooms);
        Assert.Equal(["d1"], view.Doors);
        Assert.Equal([1, 5], Assert.Single(view.Windows).Days!);
        Assert.Equal(("08:00", "24:00"), (view.Windows[0].From, view.Windows[0].To));

        using var assigned = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/people/p-s01/zones", JsonContent.Create(new { zones = new[] { id } }));
        Assert.Equal(HttpStatusCode.OK, assigned.StatusCode);
        using var edited = await client.SendAsync(HttpMethod.Put, $"/api/v1/schools/s01/zones/{id}", JsonContent.Create(new { rooms = new[] { "r101", "r102" }, windows = new[] { Window([6, 7], "09:00", "12:00") } }));
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        var listed = (await (await client.GetAsync("/api/v1/schools/s01/zones")).Content.ReadFromJsonAsync<List<ZoneView>>(Web))!.Single(z => z.Id == id);
        Assert.Equal(["r101", "r102"], listed.Rooms);
        Assert.Equal(1, listed.People);
        Assert.Equal([6, 7], Assert.Single(listed.Windows).Days!);
        // The holder's grant carries the new schedule.
        var grant = (await Host.Registry.GetPerson("p-s01"))!.Zones.Single(g => g.Zone == id);
        Assert.Equal(new TimeWindow("67", new TimeOnly(9, 0), new TimeOnly(12, 0)), Assert.Single(grant.Schedule.Windows));

        using var renamed = await client.SendAsync(HttpMethod.Put, $"/api/v1/schools/s01/zones/{id}", JsonContent.Create(new { id = "other", rooms = new[] { "r101" }, windows = new[] { Window([1], "09:00", "12:00") } }));
        Assert.Contains("cannot be renamed", Assert.Single((await ErrorsOf(renamed))["id"]), StringComparison.Ordinal);
        using var missing = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/zones/no-such-zone", JsonContent.Create(new { rooms = new[] { "r101" }, windows = new[] { Window([1], "09:00", "12:00") } }));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        using var deleted = await client.SendAsync(HttpMethod.Delete, $"/api/v1/schools/s01/zones/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.DoesNotContain((await Host.Registry.ListSchools()).Single(s => s.Id == "s01").Zones, z => z.Id == id);
        Assert.DoesNotContain((await Host.Registry.GetPerson("p-s01"))!.Zones, g => g.Zone == id);
        using var again = await client.SendAsync(HttpMethod.Delete, $"/api/v1/schools/s01/zones/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);

        var audit = await Host.History.GetAuditLogAsync(new AuditLogQuery("s01", Actor: DashboardHost.Accounts[DashboardRole.SchoolAdmin], Page: new PageRequest(200)));
        var mine = audit.Items.Where(a => a.Entry.Target == id || (a.Entry.Action == "person.zones" && a.Entry.Details!.Contains(id, StringComparison.Ordinal))).Select(a => a.Entry.Action).ToList();
        Assert.Equal(["zone.create", "person.zones", "zone.update", "zone.delete"], Enumerable.Reverse(mine));
        Assert.Contains(audit.Items, a => a.Entry.Action == "zone.update" && a.Entry.Target == id && a.Entry.Details!.Contains("windows=67 09:00-12:00", StringComparison.Ordinal) && a.Entry.Details.Contains("was=15 08:00-24:00", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_school_admin_cannot_give_a_zone_to_another_schools_person_nor_an_unknown_zone()
    {
        using var client = await AdminAsync();
        using var other = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/people/p-s02/zones", JsonContent.Create(new { zones = new[] { "labs" } }));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using var foreignZone = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/people/p-s01/zones", JsonContent.Create(new { zones = new[] { "gym" } }));
        Assert.Contains("'gym'", Assert.Single((await ErrorsOf(foreignZone))["zones"]), StringComparison.Ordinal);
        using var route = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s02/zones/gym", JsonContent.Create(new { rooms = new[] { "r201" }, windows = new[] { Window([1], "09:00", "12:00") } }));
        Assert.Equal(HttpStatusCode.NotFound, route.StatusCode);
        Assert.DoesNotContain((await Host.Registry.GetPerson("p-s02"))!.Zones, g => g.Zone == "labs");
    }

    [Fact]
    public async Task Editing_a_zones_schedule_changes_the_controllers_decision_for_a_card_at_its_door()
    {
        var u = Unique();
        string room = "rz-" + u, door = "dz-" + u, person = "pz-" + u, zone = "z-" + u, card = "04" + u[..6].ToUpperInvariant();
        await Host.Registry.UpsertRoom(new RoomSpec("s01", room, "Music " + u), "test");
        Host.Devices[door] = await Host.Registry.CreateDevice(new DeviceSpec("s01", room, DeviceKind.Door, door), "test");
        await Host.Registry.UpsertPerson(new PersonProfile(person, "Cai Lun", PersonRole.Student, "s01", [new AccessCard(card, CardStatus.Active)], []), "test");
        using var client = await AdminAsync();

        // The whole week, all day: granted.
        using var created = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new { id = zone, doors = new[] { door }, windows = new[] { Window([1, 2, 3, 4, 5, 6, 7], "00:00", "24:00") } }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var assigned = await client.SendAsync(HttpMethod.Put, $"/api/v1/schools/s01/people/{person}/zones", JsonContent.Create(new { zones = new[] { zone } }));
        Assert.Equal(HttpStatusCode.OK, assigned.StatusCode);
        var first = await TapAsync(door, room, card, 1, "t1");
        Assert.True(first.Result == "granted", $"first tap: {first.Result} ({first.Reason})");

        // Only on days other than today and tomorrow in the school's time zone: denied, outside the schedule.
        var today = TimeWindow.IsoDay(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai")).DayOfWeek);
        var days = Enumerable.Range(1, 7).Where(d => d != today && d != today % 7 + 1).ToArray();
        using var edited = await client.SendAsync(HttpMethod.Put, $"/api/v1/schools/s01/zones/{zone}", JsonContent.Create(new { doors = new[] { door }, windows = new[] { Window(days, "00:00", "24:00") } }));
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        var second = await TapAsync(door, room, card, 2, "t2");
        Assert.Equal(("denied", "outside-schedule"), (second.Result, second.Reason));

        // No zone holds the door any more: denied, no zone.
        using var deleted = await client.SendAsync(HttpMethod.Delete, $"/api/v1/schools/s01/zones/{zone}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var third = await TapAsync(door, room, card, 3, "t3");
        Assert.Equal(("denied", "no-zone"), (third.Result, third.Reason));
    }

    [Fact]
    public async Task The_admin_page_lists_each_zone_with_its_doors_and_weekly_windows_in_local_time()
    {
        using var client = await AdminAsync();
        var id = "page-" + Unique();
        using var created = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new { id, rooms = new[] { "r101" }, windows = new[] { Window([1, 3], "07:15", "16:45"), Window([6], "09:00", "24:00") } }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var html = await (await client.GetAsync("/admin")).Content.ReadAsStringAsync();
        var row = System.Text.RegularExpressions.Regex.Match(html, $"<tr class=\"zone-row\" data-zone=\"{id}\">(.*?)</tr>", System.Text.RegularExpressions.RegexOptions.Singleline);
        Assert.True(row.Success, "the zone's row is on the page");
        Assert.Contains("<td>d1</td>", row.Value, StringComparison.Ordinal);
        Assert.Contains("Mo We 07:15-16:45; Sa 09:00-24:00", row.Value, StringComparison.Ordinal);
        Assert.Contains("Asia/Shanghai", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_csv_import_gives_each_person_the_schedule_of_their_zone()
    {
        using var client = await AdminAsync();
        var u = Unique();
        string zone = "iz-" + u, person = "ip-" + u;
        using var created = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/zones", JsonContent.Create(new { id = zone, rooms = new[] { "r102" }, windows = new[] { Window([2, 4], "13:00", "15:30") } }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var import = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/people/import",
            new StringContent($"id,name,role,cards,zones\n{person},Guo Jing,student,,{zone};labs\n", System.Text.Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, import.StatusCode);
        var grants = (await Host.Registry.GetPerson(person))!.Zones.ToDictionary(g => g.Zone);
        Assert.Equal(new TimeWindow("24", new TimeOnly(13, 0), new TimeOnly(15, 30)), Assert.Single(grants[zone].Schedule.Windows));
        Assert.NotEmpty(grants["labs"].Schedule.Windows);
    }

    /// <summary>A card at the door, as the reader sends it (signed access request); returns the controller's logged decision.</summary>
    private async Task<AccessLogEntry> TapAsync(string door, string room, string card, uint seq, string req)
    {
        await Host.PublishAsync("s01", room, "door", door, "event", Host.SignedDoorEvent(door, seq, $"\"type\":\"access-request\",\"req\":\"{req}\",\"card\":\"{card}\""));
        AccessLogEntry? found = null;
        await Poll.UntilAsync(async () =>
        {
            var page = await Host.History.GetAccessLogAsync(new AccessLogQuery("s01", DoorId: door, Page: new PageRequest(50)));
            found = page.Items.Select(e => e.Entry).FirstOrDefault(e => e.EventType == "access-request" && e.Details == req);
            return found is not null;
        }, $"the decision on request {req} at {door} is logged", TimeSpan.FromSeconds(30));
        return found!;
    }
}
