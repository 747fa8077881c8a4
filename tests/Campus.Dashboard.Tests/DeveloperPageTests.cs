using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Campus.Controller.History;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Api;
using Campus.Dashboard.Developer;
using Campus.Dashboard.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Campus.Dashboard.Tests;

/// <summary>Without a scenario runner (a host not in demo mode) the developer page and API do not exist.</summary>
[Collection(HostCollection.Name)]
public sealed class DeveloperPageAbsentTests(HostFixture fixture)
{
    [Fact]
    public async Task Without_demo_mode_the_developer_page_and_api_are_404_for_everyone_and_no_link_shows()
    {
        var users = DashboardHost.Accounts.Values.Append(DashboardHost.OtherSchoolGuard).Prepend(null);
        foreach (var user in users)
        {
            using var client = fixture.Host.Client();
            if (user is not null) Assert.Equal(HttpStatusCode.NoContent, await client.SignInAsync(user));
            foreach (var path in new[] { "/developer", "/api/v1/developer/scenarios", "/api/v1/developer/runs" })
            {
                using var response = await client.GetAsync(path);
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{user ?? "anonymous"} GET {path}: {(int)response.StatusCode}");
            }
            using var start = await client.SendAsync(HttpMethod.Post, "/api/v1/developer/scenarios/night-break-in/runs", JsonContent.Create(new ScenarioStartRequest("s01", "r101")));
            Assert.Equal(HttpStatusCode.NotFound, start.StatusCode);
        }

        using var admin = fixture.Host.Client();
        await admin.SignInAsync(DashboardHost.Accounts[DashboardRole.DistrictAdmin]);
        using var home = await admin.GetAsync("/admin");
        var html = await home.Content.ReadAsStringAsync();
        Assert.Contains("href=\"/admin\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"/developer\"", html, StringComparison.Ordinal);
    }
}

/// <summary>A scenario runner standing in for the demo district: records what it was asked to start.</summary>
internal sealed class FakeScenarioRunner : IScenarioRunner
{
    private readonly Lock _lock = new();
    private readonly List<ScenarioRunView> _runs = [];

    public IReadOnlyList<ScenarioInfo> Scenarios { get; } =
    [
        new("night-break-in", "Night break-in", "A door is forced open.", null),
        new("energy-waste", "Energy waste after hours", "Lights left on.", "Not on a running district."),
    ];

    public IReadOnlyList<ScenarioTarget> Targets(string scenario) =>
        scenario == "night-break-in" ? [new ScenarioTarget("s01", "North Middle School", "r101", "Physics 101")] : [];

    public IReadOnlyList<ScenarioRunView> Runs
    {
        get
        {
            lock (_lock) return [.. _runs.AsEnumerable().Reverse()];
        }
    }

    public event Action<ScenarioRunView>? RunChanged;

    public Task<ScenarioRunView> StartAsync(string scenario, string school, string room, string startedBy, CancellationToken cancellationToken = default)
    {
        ScenarioRunView run;
        lock (_lock)
        {
            run = new ScenarioRunView("run-" + (_runs.Count + 1), scenario, school, room, startedBy, DateTimeOffset.UtcNow, ScenarioRunState.Running,
                [new ScenarioStepView("door forced open", TimeSpan.Zero, null, null)], ["door event: forced"], null, null);
            _runs.Add(run);
        }
        RunChanged?.Invoke(run);
        return Task.FromResult(run);
    }

    /// <summary>Takes the run's step and ends it, as the demo district would.</summary>
    public void Complete(string id)
    {
        ScenarioRunView done;
        lock (_lock)
        {
            var i = _runs.FindIndex(r => r.Id == id);
            done = _runs[i] with
            {
                State = ScenarioRunState.Completed,
                Steps = [.. _runs[i].Steps.Select(s => s with { DoneAtSimulatedUtc = new DateTime(2026, 3, 2, 18, 0, 0, DateTimeKind.Utc) })],
                FinishedAt = DateTimeOffset.UtcNow,
            };
            _runs[i] = done;
        }
        RunChanged?.Invoke(done);
    }
}

public sealed class DeveloperHostFixture : IAsyncLifetime
{
    internal FakeScenarioRunner Runner { get; } = new();
    public DashboardHost Host { get; private set; } = default!;

    public async Task InitializeAsync() => Host = await DashboardHost.StartAsync(configureServices: s => s.AddSingleton<IScenarioRunner>(Runner));

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>With a scenario runner registered (demo mode), district admins start scenarios; other roles get 403.</summary>
public sealed class DeveloperPageTests(DeveloperHostFixture fixture) : IClassFixture<DeveloperHostFixture>
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.KebabCaseLower) },
    };
    private static readonly DashboardRole[] NotDistrict = [.. Enum.GetValues<DashboardRole>().Where(r => r != DashboardRole.DistrictAdmin)];

    [Fact]
    public async Task The_district_admin_lists_the_scenarios_and_starts_one_through_the_api_which_is_audited()
    {
        using var client = fixture.Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[DashboardRole.DistrictAdmin]);
        var list = await (await client.GetAsync("/api/v1/developer/scenarios")).Content.ReadFromJsonAsync<List<ScenarioListItem>>();
        Assert.NotNull(list);
        Assert.Equal(["night-break-in", "energy-waste"], list.Select(s => s.Name));
        Assert.Equal("s01/r101", Assert.Single(list[0].Targets).Key);

        using var started = await client.SendAsync(HttpMethod.Post, "/api/v1/developer/scenarios/night-break-in/runs", JsonContent.Create(new ScenarioStartRequest("s01", "r101")));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var run = await started.Content.ReadFromJsonAsync<ScenarioRunView>(Json);
        Assert.Equal(("night-break-in", "s01", "r101", "d-admin"), (run!.Scenario, run.School, run.Room, run.StartedBy));
        Assert.Contains(fixture.Runner.Runs, r => r.Id == run.Id);
        using var read = await client.GetAsync($"/api/v1/developer/runs/{run.Id}");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);

        var audit = await fixture.Host.History.GetAuditLogAsync(new AuditLogQuery("s01", Page: new PageRequest(50)));
        var entry = Assert.Single(audit.Items, e => e.Entry.Action == "scenario.started" && e.Entry.Details!.Contains($"run {run.Id})", StringComparison.Ordinal));
        Assert.Equal(("d-admin", "s01/r101"), (entry.Entry.Actor, entry.Entry.Target));
        Assert.StartsWith("scenario started: night-break-in", entry.Entry.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scenario_that_cannot_run_or_a_room_it_cannot_use_is_refused_and_nothing_starts()
    {
        using var client = fixture.Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[DashboardRole.DistrictAdmin]);
        var before = fixture.Runner.Runs.Count;
        using var unavailable = await client.SendAsync(HttpMethod.Post, "/api/v1/developer/scenarios/energy-waste/runs", JsonContent.Create(new ScenarioStartRequest("s01", "r101")));
        using var wrongRoom = await client.SendAsync(HttpMethod.Post, "/api/v1/developer/scenarios/night-break-in/runs", JsonContent.Create(new ScenarioStartRequest("s01", "r102")));
        using var unknown = await client.SendAsync(HttpMethod.Post, "/api/v1/developer/scenarios/alien-invasion/runs", JsonContent.Create(new ScenarioStartRequest("s01", "r101")));
        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.NotFound), (unavailable.StatusCode, wrongRoom.StatusCode, unknown.StatusCode));
        Assert.Equal(before, fixture.Runner.Runs.Count);
    }

    [Fact]
    public async Task Every_other_role_gets_403_from_the_page_and_the_api_and_anonymous_calls_get_401_or_the_sign_in_page()
    {
        var before = fixture.Runner.Runs.Count;
        foreach (var role in NotDistrict)
        {
            using var client = fixture.Host.Client();
            await client.SignInAsync(DashboardHost.Accounts[role]);
            using var list = await client.GetAsync("/api/v1/developer/scenarios");
            using var start = await client.SendAsync(HttpMethod.Post, "/api/v1/developer/scenarios/night-break-in/runs", JsonContent.Create(new ScenarioStartRequest("s01", "r101")));
            using var page = await client.GetAsync("/developer");
            Assert.True((list.StatusCode, start.StatusCode, page.StatusCode) == (HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden),
                $"{role}: list {(int)list.StatusCode}, start {(int)start.StatusCode}, page {(int)page.StatusCode}");
            Assert.DoesNotContain("start-scenario", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(before, fixture.Runner.Runs.Count);

        using var anonymous = fixture.Host.Client();
        using var api = await anonymous.GetAsync("/api/v1/developer/scenarios");
        using var form = await anonymous.GetAsync("/developer");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, form.StatusCode);
        Assert.StartsWith("/login", PathAndQuery(form), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_district_admin_starts_a_scenario_with_the_page_form_which_needs_its_antiforgery_token()
    {
        using var client = fixture.Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[DashboardRole.DistrictAdmin]);
        using var page = await client.GetAsync("/developer");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("href=\"/developer\"", html, StringComparison.Ordinal);
        Assert.Contains("Night break-in", html, StringComparison.Ordinal);
        var token = Regex.Match(html, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(token);
        var antiforgeryCookie = page.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).Single(c => c.StartsWith("campus.af=", StringComparison.Ordinal));
        var before = fixture.Runner.Runs.Count;

        var fields = new Dictionary<string, string> { ["_handler"] = "start-scenario", ["Scenario"] = "night-break-in", ["Target"] = "s01/r101" };
        using var forged = await client.SendAsync(HttpMethod.Post, "/developer", new FormUrlEncodedContent(fields));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal(before, fixture.Runner.Runs.Count);

        fields["__RequestVerificationToken"] = token;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/developer") { Content = new FormUrlEncodedContent(fields) };
        using var posted = await client.SendWithCookieAsync(request, antiforgeryCookie);
        Assert.True(posted.StatusCode == HttpStatusCode.Redirect, $"form post: {(int)posted.StatusCode} {await posted.Content.ReadAsStringAsync()}");
        var run = fixture.Runner.Runs[0];
        Assert.Equal(before + 1, fixture.Runner.Runs.Count);
        Assert.Equal(("night-break-in", "s01", "r101", "d-admin"), (run.Scenario, run.School, run.Room, run.StartedBy));
        Assert.Equal("/developer?run=" + run.Id, PathAndQuery(posted));
    }

    /// <summary>The redirect's target path and query, whether the Location header is relative or absolute.</summary>
    private static string PathAndQuery(HttpResponseMessage response)
    {
        var location = response.Headers.Location ?? throw new InvalidOperationException($"No Location header ({(int)response.StatusCode}).");
        return location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString;
    }

    [Fact]
    public async Task In_a_browser_the_district_admin_starts_night_break_in_and_follows_the_run_live_to_its_end()
    {
        await using var browser = await Browser.StartAsync(fixture.Host.Url);
        var page = await browser.SignInAsync(DashboardHost.Accounts[DashboardRole.DistrictAdmin], DashboardHost.Password, "/developer");
        await page.SelectOptionAsync("select[name=Scenario]", "night-break-in");
        await page.SelectOptionAsync("select[name=Target]", "s01/r101");
        await page.ClickAsync("[data-testid=start-scenario] button[type=submit]");
        await page.WaitForURLAsync("**/developer?run=*");
        await page.Locator("[data-testid=runs] [data-live=on]").WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });
        var id = new Uri(page.Url).Query.Split('=')[1];
        var run = page.Locator($"article.run[data-run='{id}']");
        await Assertions.Expect(run).ToHaveAttributeAsync("data-state", "Running");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.Screenshot("developer-scenario-started.png"), FullPage = true });
        var navigations = await page.EvaluateAsync<int>("performance.getEntriesByType('navigation').length");

        fixture.Runner.Complete(id);

        await Assertions.Expect(run).ToHaveAttributeAsync("data-state", "Completed", new LocatorAssertionsToHaveAttributeOptions { Timeout = 15_000 });
        await Assertions.Expect(run.Locator("li.step[data-done='1']")).ToHaveCountAsync(1);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.Screenshot("developer-scenario-completed.png"), FullPage = true });
        Assert.Equal(navigations, await page.EvaluateAsync<int>("performance.getEntriesByType('navigation').length"));
    }
}
