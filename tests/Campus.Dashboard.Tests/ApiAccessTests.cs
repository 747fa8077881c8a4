using System.Net;
using System.Net.Http.Json;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Tests.Support;
using static Campus.Dashboard.Accounts.DashboardRole;

namespace Campus.Dashboard.Tests;

/// <summary>Every API endpoint x every role: allowed, or 401 / 403 / 404 as designed.</summary>
[Collection(HostCollection.Name)]
public sealed class ApiAccessTests(HostFixture fixture)
{
    private DashboardHost Host => fixture.Host;

    /// <summary>One endpoint: how to call it for a school, who may, and what an allowed caller gets.</summary>
    public sealed record Endpoint(string Name, HttpMethod Method, string Path, Func<HttpContent?> Body, DashboardRole[] Allowed, HttpStatusCode Success, bool SchoolScoped = true)
    {
        public override string ToString() => Name;
    }

    private static readonly DashboardRole[] All = [DistrictAdmin, SchoolAdmin, DashboardRole.Security, Facilities, Teacher, Student];
    private static readonly DashboardRole[] OverviewRoles = [DistrictAdmin, SchoolAdmin, DashboardRole.Security, Facilities, Teacher];
    private static readonly DashboardRole[] SecurityRoles = [DistrictAdmin, SchoolAdmin, DashboardRole.Security];
    private static readonly DashboardRole[] FacilitiesRoles = [DistrictAdmin, SchoolAdmin, Facilities];
    private static readonly DashboardRole[] AdminRoles = [DistrictAdmin, SchoolAdmin];
    private static readonly DashboardRole[] SignRoles = [DistrictAdmin, SchoolAdmin, Teacher];
    private static readonly DashboardRole[] MakerRoles = [DistrictAdmin, SchoolAdmin, Teacher, Student];

    private static HttpContent Json(object o) => JsonContent.Create(o);

    public static readonly Endpoint[] Endpoints =
    [
        new("me", HttpMethod.Get, "/api/v1/me", () => null, All, HttpStatusCode.OK, SchoolScoped: false),
        new("schools", HttpMethod.Get, "/api/v1/schools", () => null, All, HttpStatusCode.OK, SchoolScoped: false),
        new("create school", HttpMethod.Post, "/api/v1/schools", () => Json(new { id = "s09", name = "New School", timeZoneId = "Asia/Shanghai" }), [DistrictAdmin], HttpStatusCode.OK, SchoolScoped: false),
        new("users", HttpMethod.Get, "/api/v1/users", () => null, AdminRoles, HttpStatusCode.OK, SchoolScoped: false),
        new("school", HttpMethod.Get, "/api/v1/schools/{s}", () => null, All, HttpStatusCode.OK),
        new("rooms", HttpMethod.Get, "/api/v1/schools/{s}/rooms", () => null, OverviewRoles, HttpStatusCode.OK),
        new("buildings", HttpMethod.Get, "/api/v1/schools/{s}/buildings", () => null, OverviewRoles, HttpStatusCode.OK),
        new("rooms of a building", HttpMethod.Get, "/api/v1/schools/{s}/rooms?building=main", () => null, OverviewRoles, HttpStatusCode.OK),
        new("devices", HttpMethod.Get, "/api/v1/schools/{s}/devices?q=d", () => null, OverviewRoles, HttpStatusCode.OK),
        new("device", HttpMethod.Get, "/api/v1/schools/{s}/devices/{door}", () => null, OverviewRoles, HttpStatusCode.OK),
        new("create device", HttpMethod.Post, "/api/v1/schools/{s}/devices", () => Json(new { room = "{room}", kind = "env", id = "{new}" }), AdminRoles, HttpStatusCode.OK),
        new("rotate credentials", HttpMethod.Post, "/api/v1/schools/{s}/devices/{door}/credentials", () => null, AdminRoles, HttpStatusCode.OK),
        new("people", HttpMethod.Get, "/api/v1/schools/{s}/people", () => null, AdminRoles, HttpStatusCode.OK),
        new("import people", HttpMethod.Post, "/api/v1/schools/{s}/people/import", () => new StringContent("id,name,role,cards,zones\n{new},Ann,student,04A1B2C3,\n", System.Text.Encoding.UTF8, "text/csv"), AdminRoles, HttpStatusCode.OK),
        new("alerts", HttpMethod.Get, "/api/v1/schools/{s}/alerts", () => null, SecurityRoles, HttpStatusCode.OK),
        new("acknowledge alert", HttpMethod.Post, "/api/v1/schools/{s}/alerts/no-such-alert/acknowledge", () => Json(new { note = "x" }), SecurityRoles, HttpStatusCode.NotFound),
        new("resolve alert", HttpMethod.Post, "/api/v1/schools/{s}/alerts/no-such-alert/resolve", () => Json(new { note = "x" }), SecurityRoles, HttpStatusCode.NotFound),
        new("close alert", HttpMethod.Post, "/api/v1/schools/{s}/alerts/no-such-alert/close", () => Json(new { note = "x" }), SecurityRoles, HttpStatusCode.NotFound),
        new("access log", HttpMethod.Get, "/api/v1/schools/{s}/access", () => null, SecurityRoles, HttpStatusCode.OK),
        new("lockdown", HttpMethod.Get, "/api/v1/schools/{s}/lockdown", () => null, SecurityRoles, HttpStatusCode.OK),
        new("start lockdown unconfirmed", HttpMethod.Post, "/api/v1/schools/{s}/lockdown", () => Json(new { message = "drill", confirm = false }), SecurityRoles, HttpStatusCode.BadRequest),
        new("lift lockdown", HttpMethod.Delete, "/api/v1/schools/{s}/lockdown", () => null, SecurityRoles, HttpStatusCode.OK),
        new("audit", HttpMethod.Get, "/api/v1/schools/{s}/audit", () => null, SecurityRoles, HttpStatusCode.OK),
        new("energy", HttpMethod.Get, "/api/v1/schools/{s}/energy?granularity=day", () => null, FacilitiesRoles, HttpStatusCode.OK),
        new("energy csv", HttpMethod.Get, "/api/v1/schools/{s}/energy.csv?granularity=hour", () => null, FacilitiesRoles, HttpStatusCode.OK),
        new("after hours", HttpMethod.Get, "/api/v1/schools/{s}/energy/after-hours", () => null, FacilitiesRoles, HttpStatusCode.OK),
        new("timetable", HttpMethod.Post, "/api/v1/schools/{s}/rooms/{room}/timetable", () => Json(new { date = "2026-11-26", lessons = new[] { new { period = 1, from = "08:00", to = "08:45", subject = "Physics" } } }), SignRoles, HttpStatusCode.BadRequest),
        new("notices", HttpMethod.Post, "/api/v1/schools/{s}/rooms/{room}/notices", () => Json(new { items = new[] { new { text = "Sports day", until = 1764150000000 } } }), SignRoles, HttpStatusCode.BadRequest),
        new("maker kits", HttpMethod.Get, "/api/v1/schools/{s}/maker/kits", () => null, MakerRoles, HttpStatusCode.OK),
        new("attendance", HttpMethod.Get, "/api/v1/schools/{s}/rooms/{room}/attendance?date=2026-11-26", () => null, SignRoles, HttpStatusCode.OK),
        new("assign kit", HttpMethod.Put, "/api/v1/schools/{s}/maker/kits/{kit}/assignment", () => Json(new { team = "Robots", students = new[] { "{person}" } }), SignRoles, HttpStatusCode.OK),
        new("zones", HttpMethod.Get, "/api/v1/schools/{s}/zones", () => null, AdminRoles, HttpStatusCode.OK),
        new("create zone", HttpMethod.Post, "/api/v1/schools/{s}/zones", () => Json(new { id = "{new}", rooms = new[] { "{room}" }, windows = new[] { new { days = new[] { 1, 2, 3, 4, 5 }, from = "07:00", to = "18:00" } } }), AdminRoles, HttpStatusCode.Created),
        new("edit zone", HttpMethod.Put, "/api/v1/schools/{s}/zones/{zone}", () => Json(new { rooms = new[] { "{room}" }, windows = new[] { new { days = new[] { 1, 2, 3, 4, 5, 6 }, from = "07:30", to = "17:00" } } }), AdminRoles, HttpStatusCode.OK),
        new("delete zone", HttpMethod.Delete, "/api/v1/schools/{s}/zones/no-such-zone", () => null, AdminRoles, HttpStatusCode.NotFound),
        new("person zones", HttpMethod.Put, "/api/v1/schools/{s}/people/{person}/zones", () => Json(new { zones = new[] { "{zone}" } }), AdminRoles, HttpStatusCode.OK),
    ];

    public static TheoryData<string> EndpointNames()
    {
        var data = new TheoryData<string>();
        foreach (var e in Endpoints) data.Add(e.Name);
        return data;
    }

    private static int _unique;

    /// <summary>The path for a school: its door, a room (r102 of s01 has no class sign: 400 when allowed), its zone, student and kit, a fresh id.</summary>
    private static string PathFor(Endpoint e, string school) => e.Path
        .Replace("{s}", school, StringComparison.Ordinal)
        .Replace("{door}", school == "s01" ? "d1" : "d2", StringComparison.Ordinal)
        .Replace("{room}", school == "s01" ? "r102" : "r201", StringComparison.Ordinal)
        .Replace("{zone}", school == "s01" ? "labs" : "gym", StringComparison.Ordinal)
        .Replace("{person}", school == "s01" ? "p-s01" : "p-s02", StringComparison.Ordinal)
        .Replace("{kit}", school == "s01" ? "k1" : "k2", StringComparison.Ordinal);

    private static async Task<HttpContent?> BodyFor(Endpoint e, string school)
    {
        var body = e.Body();
        if (body is null) return null;
        var text = await body.ReadAsStringAsync();
        var fresh = $"x{Interlocked.Increment(ref _unique)}-{Guid.NewGuid().ToString("N")[..6]}";
        text = text.Replace("{new}", fresh, StringComparison.Ordinal).Replace("{room}", school == "s01" ? "r101" : "r201", StringComparison.Ordinal)
            .Replace("{zone}", school == "s01" ? "labs" : "gym", StringComparison.Ordinal).Replace("{person}", school == "s01" ? "p-s01" : "p-s02", StringComparison.Ordinal);
        return new StringContent(text, System.Text.Encoding.UTF8, body.Headers.ContentType!.MediaType!);
    }

    [Theory]
    [MemberData(nameof(EndpointNames))]
    public async Task Anonymous_callers_get_401_from_every_endpoint(string name)
    {
        var e = Endpoints.Single(x => x.Name == name);
        using var client = Host.Client();
        using var response = await client.SendAsync(e.Method, PathFor(e, "s01"), await BodyFor(e, "s01"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [MemberData(nameof(EndpointNames))]
    public async Task Each_role_is_allowed_or_forbidden_as_designed_in_its_own_school(string name)
    {
        var e = Endpoints.Single(x => x.Name == name);
        foreach (var role in All)
        {
            using var client = Host.Client();
            Assert.Equal(HttpStatusCode.NoContent, await client.SignInAsync(DashboardHost.Accounts[role]));
            using var response = await client.SendAsync(e.Method, PathFor(e, "s01"), await BodyFor(e, "s01"));
            var expected = e.Allowed.Contains(role) ? e.Success : HttpStatusCode.Forbidden;
            Assert.True(expected == response.StatusCode, $"{e.Name} as {role}: expected {expected}, got {response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Theory]
    [MemberData(nameof(EndpointNames))]
    public async Task A_school_user_gets_404_for_another_schools_resources_and_a_district_admin_does_not(string name)
    {
        var e = Endpoints.Single(x => x.Name == name);
        if (!e.SchoolScoped) return;
        foreach (var role in All)
        {
            using var client = Host.Client();
            await client.SignInAsync(DashboardHost.Accounts[role]);
            using var response = await client.SendAsync(e.Method, PathFor(e, "s02"), await BodyFor(e, "s02"));
            var expected = !e.Allowed.Contains(role) ? HttpStatusCode.Forbidden
                : role == DistrictAdmin ? (e.Name is "timetable" or "notices" ? HttpStatusCode.BadRequest : e.Success)
                : HttpStatusCode.NotFound;
            Assert.True(expected == response.StatusCode, $"{e.Name} on s02 as {role}: expected {expected}, got {response.StatusCode}");
        }
    }

    [Fact]
    public async Task The_school_list_of_a_school_user_holds_only_their_school()
    {
        using var client = Host.Client();
        await client.SignInAsync(DashboardHost.OtherSchoolGuard);
        var text = await (await client.GetAsync("/api/v1/schools")).Content.ReadAsStringAsync();
        Assert.Contains("\"s02\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"s01\"", text, StringComparison.Ordinal);
        using var admin = Host.Client();
        await admin.SignInAsync(DashboardHost.Accounts[DistrictAdmin]);
        var all = await (await admin.GetAsync("/api/v1/schools")).Content.ReadAsStringAsync();
        Assert.Contains("\"s01\"", all, StringComparison.Ordinal);
        Assert.Contains("\"s02\"", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_is_refused_and_audited()
    {
        using var client = Host.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, await client.SignInAsync(DashboardHost.Accounts[DashboardRole.Security], "wrong-password-123"));
        var audit = await Host.History.GetAuditLogAsync(new Controller.History.AuditLogQuery("s01", Actor: DashboardHost.Accounts[DashboardRole.Security]));
        Assert.Contains(audit.Items, a => a.Entry.Action == "login.failure");
    }

    [Fact]
    public async Task A_school_admin_cannot_create_a_district_admin_or_an_account_of_another_school()
    {
        using var client = Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[SchoolAdmin]);
        using var district = await client.SendAsync(HttpMethod.Post, "/api/v1/users", Json(new { userName = "evil-admin", displayName = "x", role = "district-admin", school = (string?)null, password = "long-enough-password" }));
        Assert.Equal(HttpStatusCode.BadRequest, district.StatusCode);
        using var other = await client.SendAsync(HttpMethod.Post, "/api/v1/users", Json(new { userName = "evil-guard", displayName = "x", role = "security", school = "s02", password = "long-enough-password" }));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using var own = await client.SendAsync(HttpMethod.Post, "/api/v1/users", Json(new { userName = "new-guard", displayName = "New Guard", role = "security", school = "s01", password = "long-enough-password" }));
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var audit = await Host.History.GetAuditLogAsync(new Controller.History.AuditLogQuery("s01", Actor: DashboardHost.Accounts[SchoolAdmin]));
        Assert.Contains(audit.Items, a => a.Entry.Action == "user.create" && a.Entry.Target == "new-guard");
    }

    [Fact]
    public async Task The_OpenAPI_document_lists_the_api()
    {
        using var client = Host.Client();
        var text = await (await client.GetAsync("/openapi/v1.json")).Content.ReadAsStringAsync();
        Assert.Contains("/api/v1/schools/{school}/alerts", text, StringComparison.Ordinal);
    }
}
