using System.Net;
using System.Net.Http.Json;
using System.Text;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.Services;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Api;
using Campus.Dashboard.Developer;
using Campus.Dashboard.Tests.Support;
using Campus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Dashboard.Tests;

/// <summary>
/// Stands in for the demo district's devices: a started scenario publishes, with the devices' issued
/// credentials through the embedded broker, what the simulated firmware sends in it (wills and
/// returns, a meter's readings), so the controller raises the scenario's alerts itself. For energy
/// waste it suspends the school's opening hours for the run, as the demo's runner does while the
/// controller's clock says the school is open.
/// </summary>
internal sealed class DeviceScenarioRunner : IScenarioRunner
{
    private static readonly string[] Names = ["night-break-in", "door-held-open", "cloned-card-replay", "meter-failure", "device-offline", "energy-waste", "power-spike", "room-network-outage"];
    private readonly Lock _lock = new();
    private readonly List<ScenarioRunView> _runs = [];
    private readonly Dictionary<string, uint> _seq = new(StringComparer.Ordinal);

    public DashboardHost Host { get; set; } = default!;

    public IReadOnlyList<ScenarioInfo> Scenarios { get; } = [.. Names.Select(n => new ScenarioInfo(n, n, "", null))];

    public IReadOnlyList<ScenarioTarget> Targets(string scenario) =>
        Names.Contains(scenario) ? [new ScenarioTarget("s01", "North Middle School", "r101", "Physics 101")] : [];

    public IReadOnlyList<ScenarioRunView> Runs
    {
        get
        {
            lock (_lock) return [.. _runs.AsEnumerable().Reverse()];
        }
    }

    public event Action<ScenarioRunView>? RunChanged;

    public async Task<ScenarioRunView> StartAsync(string scenario, string school, string room, string startedBy, CancellationToken cancellationToken = default)
    {
        if (Targets(scenario).Count == 0) throw new ArgumentException($"Unknown scenario '{scenario}'.", nameof(scenario));
        ScenarioRunView run;
        lock (_lock)
        {
            run = new ScenarioRunView("run-" + (_runs.Count + 1), scenario, school, room, startedBy, DateTimeOffset.UtcNow, ScenarioRunState.Running, [], [], null, null);
            _runs.Add(run);
        }
        RunChanged?.Invoke(run);
        switch (scenario)
        {
            case "device-offline":
                await OfflineAsync("energy", "m1");
                await OnlineAsync("energy", "m1");
                break;
            case "room-network-outage":
                foreach (var (kind, device) in new[] { ("door", "d1"), ("energy", "m1"), ("sign", "g1") }) await OfflineAsync(kind, device);
                foreach (var (kind, device) in new[] { ("door", "d1"), ("energy", "m1"), ("sign", "g1") }) await OnlineAsync(kind, device);
                break;
            case "power-spike":
                await MeterAsync(9_420, occupied: true);
                break;
            case "energy-waste":
                var spec = (await Host.Registry.ListSchools()).Single(s => s.Id == school);
                await Host.Registry.UpsertSchool(spec with { OpeningHours = new WeeklySchedule([]) }, "demo-scenario");
                await MeterAsync(700, occupied: false);
                await MeterAsync(710, occupied: false);
                break;
        }
        lock (_lock)
        {
            var i = _runs.FindIndex(r => r.Id == run.Id);
            _runs[i] = run = run with { State = ScenarioRunState.Completed, FinishedAt = DateTimeOffset.UtcNow };
        }
        RunChanged?.Invoke(run);
        return run;
    }

    private uint Next(string device)
    {
        lock (_lock) return _seq[device] = _seq.GetValueOrDefault(device) + 1;
    }

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private Task OfflineAsync(string kind, string device) =>
        Host.PublishAsync("s01", "r101", kind, device, "status", "{\"v\":1,\"state\":\"offline\"}"u8.ToArray());

    private Task OnlineAsync(string kind, string device) =>
        Host.PublishAsync("s01", "r101", kind, device, "status", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":{Next(device)},\"ts\":{Now},\"state\":\"online\"}}"));

    private Task MeterAsync(double powerW, bool occupied) =>
        Host.PublishAsync("s01", "r101", "energy", "m1", "telemetry",
            Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":{Next("m1")},\"ts\":{Now},\"energyKwh\":{10 + (Next("m1-kwh") * 0.1):0.0},\"powerW\":{powerW},\"occupied\":{(occupied ? "true" : "false")}}}"));
}

public sealed class DeveloperScenarioHostFixture : IAsyncLifetime
{
    internal DeviceScenarioRunner Runner { get; } = new();
    public DashboardHost Host { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        Host = await DashboardHost.StartAsync(configureServices: s =>
        {
            s.AddSingleton<IScenarioRunner>(Runner);
            // Demo mode scales these waits to the simulation's speed; here the alerts come with the first reading.
            s.PostConfigure<ControllerOptions>(o =>
            {
                o.AfterHoursEnergyMinDuration = TimeSpan.Zero;
                o.Spike = o.Spike with { PowerMinDuration = TimeSpan.Zero };
            });
        });
        Runner.Host = Host;
        await BackfillAsync();
    }

    /// <summary>
    /// As the demo does on a new data folder: four past weeks of hourly readings of r101's meter (1.5 kW
    /// from 08:00 to 16:00, 100 W otherwise), before any device reports, so that r101 knows its usual power.
    /// </summary>
    private async Task BackfillAsync()
    {
        var zone = Host.History.GetSchoolProfile("s01").TimeZone;
        var now = DateTimeOffset.UtcNow;
        var end = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerHour));
        var counter = 0.0;
        uint seq = 0;
        for (var hour = end.AddDays(-28); hour < end; hour = hour.AddHours(1))
        {
            var w = TimeZoneInfo.ConvertTime(hour, zone).Hour is >= 8 and < 16 ? 1500 : 100;
            counter += w / 1000.0;
            await Host.History.AppendAsync(new Campus.Controller.History.TelemetryRecord
            {
                SchoolId = "s01", RoomId = "r101", DeviceId = "m1", Kind = "energy", Boot = 99, Seq = ++seq,
                DeviceTime = hour.AddMinutes(59), ReceivedAt = hour.AddMinutes(59), EnergyKwh = counter, PowerW = w,
            });
        }
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// The four scenarios that need the running district's queue (device offline, room network outage,
/// power spike, energy waste), started through the developer API: each run completes and the
/// controller shows its alert on the dashboard's API (for the spike: its power and a consumption spike
/// against the usual power of past weeks of history).
/// </summary>
public sealed class DeveloperScenarioAlertTests(DeveloperScenarioHostFixture fixture) : IClassFixture<DeveloperScenarioHostFixture>
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.KebabCaseLower) },
    };

    [Fact]
    public async Task All_eight_scenarios_are_listed_available_and_the_four_new_ones_start_and_their_alerts_appear_through_the_controller()
    {
        using var client = fixture.Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[DashboardRole.DistrictAdmin]);
        var list = await (await client.GetAsync("/api/v1/developer/scenarios")).Content.ReadFromJsonAsync<List<ScenarioListItem>>();
        Assert.NotNull(list);
        Assert.Equal(8, list.Count);
        Assert.All(list, s => Assert.True(s.Unavailable is null && s.Targets.Count == 1, $"{s.Name}: {s.Unavailable}"));
        using (var page = await client.GetAsync("/developer"))
        {
            var html = await page.Content.ReadAsStringAsync();
            Assert.DoesNotContain("not on a running district", html, StringComparison.Ordinal);
        }

        await StartAsync(client, "device-offline");
        await UntilAlertAsync(client, a => a.Type == AlertType.DeviceOffline && a.Source == "m1" && a.Status == AlertStatus.Resolved, "m1 went offline and came back (alert resolved)");

        await StartAsync(client, "room-network-outage");
        await UntilAlertAsync(client, a => a.Type == AlertType.DeviceOffline && a.Source == "d1", "d1 went offline with its room's network");
        await UntilAlertAsync(client, a => a.Type == AlertType.DeviceOffline && a.Source == "g1" && a.Status == AlertStatus.Resolved, "g1 went offline with its room's network and came back");

        await StartAsync(client, "power-spike");
        await Poll.UntilAsync(async () =>
        {
            var rooms = await (await client.GetAsync("/api/v1/schools/s01/rooms")).Content.ReadFromJsonAsync<PageOf<RoomSummary>>(Json);
            return rooms!.Items.Any(r => r.Id == "r101" && r.PowerW > 9000);
        }, "the controller shows r101 above 9 kW", TimeSpan.FromSeconds(30));
        await UntilAlertAsync(client, a => a.Type == AlertType.ConsumptionSpike && a.Room == "r101" && a.Status == AlertStatus.Open,
            "the controller raised a consumption-spike alert in r101 (far above its usual power from the past weeks)");

        await StartAsync(client, "energy-waste");
        await UntilAlertAsync(client, a => a.Type == AlertType.AfterHoursEnergy && a.Room == "r101" && a.Status == AlertStatus.Open, "the controller raised an after-hours-energy alert in r101");
        // The spike is the only consumption spike: offline devices, outages and lights left on are none.
        var alerts = await (await client.GetAsync("/api/v1/schools/s01/alerts?all=true")).Content.ReadFromJsonAsync<List<AlertView>>(Json);
        Assert.Single(alerts!, a => a.Type == AlertType.ConsumptionSpike);
    }

    private async Task StartAsync(ApiClient client, string scenario)
    {
        using var started = await client.SendAsync(HttpMethod.Post, $"/api/v1/developer/scenarios/{scenario}/runs", JsonContent.Create(new ScenarioStartRequest("s01", "r101")));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var run = await started.Content.ReadFromJsonAsync<ScenarioRunView>(Json);
        Assert.Equal((scenario, "d-admin"), (run!.Scenario, run.StartedBy));
        Assert.Contains(fixture.Runner.Runs, r => r.Id == run.Id && r.State == ScenarioRunState.Completed);
    }

    private static Task UntilAlertAsync(ApiClient client, Func<AlertView, bool> match, string because) =>
        Poll.UntilAsync(async () =>
        {
            var alerts = await (await client.GetAsync("/api/v1/schools/s01/alerts?all=true")).Content.ReadFromJsonAsync<List<AlertView>>(Json);
            return alerts!.Any(match);
        }, because, TimeSpan.FromSeconds(30));
}
