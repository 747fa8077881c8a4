using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Campus.Controller.Hosting;
using Campus.Testing;
using Xunit.Abstractions;

namespace Campus.Controller.Tests.EndToEnd;

/// <summary>
/// The built host with <c>--demo</c>: a district admin starts scenarios through the developer API on
/// the running simulated district, and the controller raises their alerts from the simulated devices'
/// own (firmware) messages.
/// </summary>
public sealed class DemoScenarioTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_district_admin_starts_night_break_in_on_the_demo_district_and_the_controller_raises_the_door_forced_alert()
    {
        await using var demo = await DemoHost.StartAsync(output);
        try
        {
            var (school, room) = await demo.TargetAsync("night-break-in");
            // The demo accounts' seeding left the rooms to the district: its one building with its three rooms, no default building.
            // (The dashboard caches the school list for a few seconds: the just-provisioned school may still be unknown.)
            await Poll.UntilAsync(async () =>
            {
                using var known = await demo.Http.GetAsync($"/api/v1/schools/{school}/buildings");
                return known.StatusCode == HttpStatusCode.OK;
            }, $"the dashboard knows school {school}", TimeSpan.FromSeconds(30));
            using (var buildings = JsonDocument.Parse(await demo.Http.GetStringAsync($"/api/v1/schools/{school}/buildings")))
            using (var rooms = JsonDocument.Parse(await demo.Http.GetStringAsync($"/api/v1/schools/{school}/rooms")))
            {
                demo.Last = buildings.RootElement.GetRawText() + rooms.RootElement.GetRawText();
                Assert.Equal(["b1"], buildings.RootElement.GetProperty("items").EnumerateArray().Select(b => b.GetProperty("id").GetString()));
                Assert.Equal(["mk1", "off1", "r101"], rooms.RootElement.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetString()).Order(StringComparer.Ordinal));
            }
            await demo.RunToEndAsync("night-break-in", school, room);
            await demo.UntilAlertAsync(school, a => a.Type == "door-forced" && a.Room == room, $"the controller raised a door-forced alert in {school}/{room}");
            // The rooms know their usual power from the backfilled weeks, and the district's normal use is no spike.
            Assert.DoesNotContain(await demo.AlertsAsync(school), a => a.Type == "consumption-spike");

            using var audit = JsonDocument.Parse(await demo.Http.GetStringAsync($"/api/v1/schools/{school}/audit"));
            Assert.Contains(audit.RootElement.GetProperty("items").EnumerateArray(),
                e => e.GetProperty("action").GetString() == "scenario.started" && e.GetProperty("actor").GetString() == "admin");
        }
        finally
        {
            demo.WriteOutput();
        }
    }

    /// <summary>
    /// The four scenarios that act on the running district's network and loads, each in the demo's
    /// classroom. The small district is moved to a time zone where the controller's clock (this
    /// machine's) is midday, so that the school is open there: power spike and energy waste at once
    /// (the room's power above 9 kW; the energy-waste run closes the school on the controller's clock,
    /// and the controller raises its after-hours-energy alert; the spike raises a consumption-spike
    /// alert), then device offline (the env node's
    /// offline alert, resolved when it is back) and room network outage (an offline alert for each of
    /// the room's devices, all resolved).
    /// </summary>
    [Fact]
    public async Task Energy_waste_power_spike_device_offline_and_room_network_outage_run_on_the_demo_district_and_the_controller_shows_them()
    {
        // Etc/GMT-N is N hours ahead of UTC.
        var ahead = 12 - DateTime.UtcNow.Hour;
        var zone = ahead == 0 ? "Etc/GMT" : $"Etc/GMT{(ahead > 0 ? "-" : "+")}{Math.Abs(ahead)}";
        var small = await File.ReadAllTextAsync(Path.Combine(BuiltHost.Root, "simulators", "districts", "small.yaml"));
        var midday = small.Replace("timeZone: Asia/Shanghai", "timeZone: " + zone, StringComparison.Ordinal)
            .Replace("openingHours:\n      - { days: \"12345\"", "openingHours:\n      - { days: \"1234567\"", StringComparison.Ordinal);
        Assert.Contains("days: \"1234567\", from: \"07:00\", to: \"18:00\"", midday, StringComparison.Ordinal);
        // Declared before the host, so deleted after its process has ended.
        using var dataDir = TempDirectory.Create("campus-demo-");
        var district = dataDir.File("midday.yaml");
        await File.WriteAllTextAsync(district, midday);
        await using var demo = await DemoHost.StartAsync(output, district);
        try
        {
            var (school, room) = await demo.TargetAsync("energy-waste");
            var devices = await demo.RoomDevicesAsync(school, room);
            Assert.Equal(4, devices.Count);
            var env = Assert.Single(devices, d => d.EndsWith("-env", StringComparison.Ordinal));

            var waste = await demo.StartRunAsync("energy-waste", school, room);
            var spike = await demo.StartRunAsync("power-spike", school, room);
            await Poll.UntilAsync(async () =>
            {
                using var rooms = JsonDocument.Parse(await demo.Http.GetStringAsync($"/api/v1/schools/{school}/rooms"));
                demo.Last = rooms.RootElement.GetRawText();
                return rooms.RootElement.GetProperty("items").EnumerateArray().Any(r => r.GetProperty("id").GetString() == room && r.GetProperty("powerW").GetDouble() > 9000);
            }, $"the controller shows the power of {school}/{room} above 9 kW", TimeSpan.FromSeconds(60));
            // The rooms learned their usual power from the weeks of history the demo backfilled: the spike is one.
            await demo.UntilAlertAsync(school, a => a.Type == "consumption-spike" && a.Room == room,
                $"the controller raised a consumption-spike alert in {school}/{room}", TimeSpan.FromSeconds(60));
            await demo.UntilAlertAsync(school, a => a.Type == "after-hours-energy" && a.Room == room && a.Status == "open",
                $"the controller raised an after-hours-energy alert in {school}/{room}", TimeSpan.FromSeconds(120));
            // The run closed the school on the controller's clock (its opening hours suspended until the lights go off).
            Assert.Equal(1, await demo.HoursChangesAsync(school));
            await demo.UntilRunEndsAsync(spike);

            await demo.RunToEndAsync("device-offline", school, room);
            await demo.UntilAlertAsync(school, a => a.Type == "device-offline" && a.Source == env && a.Status == "resolved",
                $"the controller raised a device-offline alert for {env} and resolved it when the node was back");

            await demo.RunToEndAsync("room-network-outage", school, room);
            await Poll.UntilAsync(async () =>
            {
                var alerts = (await demo.AlertsAsync(school)).Where(a => a.Type == "device-offline").ToList();
                // The env node's second offline alert is the outage's (its first was resolved above).
                return devices.All(d => alerts.Count(a => a.Source == d) >= (d == env ? 2 : 1)) && alerts.All(a => a.Status == "resolved");
            }, $"the controller raised a device-offline alert for each device of {school}/{room} and resolved them when the network returned", TimeSpan.FromSeconds(60));

            // The power spike is the only consumption spike (the lights left on and the outages are none).
            Assert.Single(await demo.AlertsAsync(school), a => a.Type == "consumption-spike");

            // Still within the energy-waste run's 4 simulated hours of lights: the hours are not back yet.
            Assert.Equal(1, await demo.HoursChangesAsync(school));
            Assert.Equal("running", await demo.RunStateAsync(waste));
        }
        finally
        {
            demo.WriteOutput();
        }
    }

    /// <summary>
    /// A new data folder (SQLite): the demo gives each room four past weeks of hourly energy, shaped
    /// like school days; the demo started again on the same folder writes none of it again.
    /// </summary>
    [Fact]
    public async Task The_demo_backfills_weeks_of_school_day_energy_once_and_a_restart_on_the_same_data_folder_does_not_add_it_again()
    {
        // Deleted at the end, after both hosts (each disposed in its block) have ended.
        using var dataDir = TempDirectory.Create("campus-demo-");
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        // Whole local days of the four backfilled weeks before the simulated day: the most recent day up to
        // today on the weekday of the district file's date (a Thursday); the simulated meters book their
        // own readings from then on.
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, zone).DateTime);
        var district = today.AddDays(-(((int)today.DayOfWeek - (int)DayOfWeek.Thursday + 7) % 7));
        var to = district.AddDays(-1);
        var from = to.AddDays(-20);
        string first;
        await using (var demo = await DemoHost.StartAsync(output, dataDir: dataDir.Path))
        {
            try
            {
                first = await demo.EnergyDaysAsync("s01", "r101", from, to);
                var days = JsonDocument.Parse(first).RootElement.GetProperty("points").EnumerateArray()
                    .Select(p => (Day: DateTimeOffset.Parse(p.GetProperty("start").GetString()!, System.Globalization.CultureInfo.InvariantCulture).DayOfWeek, Kwh: p.GetProperty("energyKwh").GetDouble()))
                    .ToList();
                Assert.Equal(to.DayNumber - from.DayNumber + 1, days.Count);
                Assert.True(days.Count >= 7, $"a week of backfilled days from {from} to {to}");
                // Open Monday to Friday: a school day uses several times a closed day's energy.
                var weekdays = days.Where(d => d.Day is not (DayOfWeek.Saturday or DayOfWeek.Sunday)).Select(d => d.Kwh).ToList();
                var weekends = days.Where(d => d.Day is DayOfWeek.Saturday or DayOfWeek.Sunday).Select(d => d.Kwh).ToList();
                Assert.True(weekends.Max() > 0 && weekdays.Min() > 3 * weekends.Max(), first);
            }
            finally
            {
                demo.WriteOutput();
            }
        }
        await using (var again = await DemoHost.StartAsync(output, dataDir: dataDir.Path))
        {
            try
            {
                Assert.Equal(first, await again.EnergyDaysAsync("s01", "r101", from, to));
            }
            finally
            {
                again.WriteOutput();
            }
        }
    }

    private sealed record AlertSeen(string Type, string? Room, string Source, string Status);

    /// <summary>The built demo host, signed in as its district admin.</summary>
    private sealed class DemoHost : IAsyncDisposable
    {
        private readonly ExternalProcess _host;
        private readonly ITestOutputHelper _output;
        private readonly TempDirectory? _ownDataDir;

        private DemoHost(ExternalProcess host, HttpClient http, ITestOutputHelper output, TempDirectory? ownDataDir)
        {
            _host = host;
            Http = http;
            _output = output;
            _ownDataDir = ownDataDir;
        }

        public HttpClient Http { get; }

        /// <summary>The last answer looked at, shown when a test fails.</summary>
        public string? Last { get; set; }

        /// <summary>
        /// Starts the built host with --demo on <paramref name="district"/> (null: the small district) and in-memory
        /// storage, or with <paramref name="dataDir"/> the small district on its default storage (SQLite) in that folder.
        /// </summary>
        public static async Task<DemoHost> StartAsync(ITestOutputHelper output, string? district = null, string? dataDir = null)
        {
            var mqttPort = FreePort.Get();
            var httpPort = FreePort.Get();
            var kept = dataDir is not null;
            // A folder made here is the host's own: deleted once its process has ended (DisposeAsync).
            var ownDataDir = dataDir is null && district is null ? TempDirectory.Create("campus-demo-") : null;
            dataDir ??= ownDataDir?.Path ?? Path.GetDirectoryName(district)!;
            var process = kept
                ? BuiltHost.StartDemo(dataDir, mqttPort, httpPort)
                : district is null
                ? BuiltHost.StartDemo(dataDir, mqttPort, httpPort, "--Campus:Storage:Provider=InMemory")
                : BuiltHost.Start(dataDir, mqttPort, httpPort, ["--demo", "--demo-district", district, "--Campus:Storage:Provider=InMemory", "--Logging:LogLevel:Default=Warning"]);
            var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(10) };
            var demo = new DemoHost(process, http, output, ownDataDir);
            try
            {
                await Poll.UntilAsync(async () =>
                {
                    if (process.HasExited) throw new InvalidOperationException($"The host exited: {process.StandardError}{process.StandardOutput}");
                    try
                    {
                        var report = await http.GetFromJsonAsync<ControllerHealthReport>("/healthz");
                        demo.Last = report?.ToString();
                        return report is { Accepted: > 0, BrokerClients: 11 };
                    }
                    catch (HttpRequestException) { return false; }
                    catch (TaskCanceledException) { return false; }
                }, "the demo district's 11 devices are connected and sending", TimeSpan.FromSeconds(90));

                // The demo's district admin ("admin", demo password); the session cookie is Secure, so it is carried by hand over loopback HTTP.
                using var signIn = await http.PostAsJsonAsync("/api/v1/session", new { userName = "admin", password = "campus-demo" });
                Assert.Equal(HttpStatusCode.NoContent, signIn.StatusCode);
                var cookie = signIn.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).Single(c => c.StartsWith("campus.auth=", StringComparison.Ordinal));
                http.DefaultRequestHeaders.Add("Cookie", cookie);
                return demo;
            }
            catch
            {
                demo.WriteOutput();
                await demo.DisposeAsync();
                throw;
            }
        }

        /// <summary>The first room the scenario can run in, once the runner has attached to the started district; the scenario is listed as available.</summary>
        public async Task<(string School, string Room)> TargetAsync(string scenario)
        {
            string school = "", room = "";
            await Poll.UntilAsync(async () =>
            {
                using var scenarios = JsonDocument.Parse(await Http.GetStringAsync("/api/v1/developer/scenarios"));
                Last = scenarios.RootElement.GetRawText();
                var s = scenarios.RootElement.EnumerateArray().Single(s => s.GetProperty("name").GetString() == scenario);
                Assert.True(!s.TryGetProperty("unavailable", out var why) || why.ValueKind == JsonValueKind.Null, $"{scenario} is available: {Last}");
                if (s.GetProperty("targets").GetArrayLength() == 0) return false;
                var target = s.GetProperty("targets")[0];
                (school, room) = (target.GetProperty("school").GetString()!, target.GetProperty("room").GetString()!);
                return true;
            }, $"the {scenario} scenario lists the rooms it can run in", TimeSpan.FromSeconds(30));
            return (school, room);
        }

        /// <summary>The room's daily energy series over [from, to], as the API answers it.</summary>
        public async Task<string> EnergyDaysAsync(string school, string room, DateOnly from, DateOnly to)
        {
            Last = await Http.GetStringAsync($"/api/v1/schools/{school}/energy?granularity=day&room={room}&from={from:yyyy-MM-dd}&to={to:yyyy-MM-dd}");
            return Last;
        }

        public async Task<IReadOnlyList<string>> RoomDevicesAsync(string school, string room)
        {
            using var devices = JsonDocument.Parse(await Http.GetStringAsync($"/api/v1/schools/{school}/devices?limit=100"));
            var items = devices.RootElement.ValueKind == JsonValueKind.Array ? devices.RootElement : devices.RootElement.GetProperty("items");
            return [.. items.EnumerateArray().Where(d => d.GetProperty("room").GetString() == room).Select(d => d.GetProperty("device").GetString()!)];
        }

        public async Task<string> StartRunAsync(string scenario, string school, string room)
        {
            using var started = await Http.PostAsJsonAsync($"/api/v1/developer/scenarios/{scenario}/runs", new { school, room });
            Assert.True(started.StatusCode == HttpStatusCode.Accepted, $"{scenario}: {(int)started.StatusCode} {await started.Content.ReadAsStringAsync()}");
            return JsonDocument.Parse(await started.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        }

        /// <summary>Waits until the run took all its steps and completed; a failed run fails the test.</summary>
        public Task UntilRunEndsAsync(string runId, TimeSpan? timeout = null) => Poll.UntilAsync(async () =>
        {
            using var run = JsonDocument.Parse(await Http.GetStringAsync($"/api/v1/developer/runs/{runId}"));
            Last = run.RootElement.GetRawText();
            var state = run.RootElement.GetProperty("state").GetString();
            if (state == "failed") throw new InvalidOperationException("The scenario run failed: " + Last);
            return state == "completed" && run.RootElement.GetProperty("steps").EnumerateArray().All(s => s.GetProperty("doneAtSimulatedUtc").ValueKind == JsonValueKind.String);
        }, $"scenario run {runId} took its steps and completed", timeout ?? TimeSpan.FromSeconds(60));

        public async Task<string> RunStateAsync(string runId)
        {
            using var run = JsonDocument.Parse(await Http.GetStringAsync($"/api/v1/developer/runs/{runId}"));
            Last = run.RootElement.GetRawText();
            return run.RootElement.GetProperty("state").GetString()!;
        }

        /// <summary>Changes of the school's record by the scenario runner (its opening hours suspended or put back).</summary>
        public async Task<int> HoursChangesAsync(string school)
        {
            using var audit = JsonDocument.Parse(await Http.GetStringAsync($"/api/v1/schools/{school}/audit?actor=demo-scenario&limit=200"));
            Last = audit.RootElement.GetRawText();
            return audit.RootElement.GetProperty("items").EnumerateArray().Count(e => e.GetProperty("action").GetString() == "school.upsert");
        }

        public async Task RunToEndAsync(string scenario, string school, string room) => await UntilRunEndsAsync(await StartRunAsync(scenario, school, room));

        public async Task<IReadOnlyList<AlertSeen>> AlertsAsync(string school)
        {
            using var alerts = JsonDocument.Parse(await Http.GetStringAsync($"/api/v1/schools/{school}/alerts?all=true"));
            Last = alerts.RootElement.GetRawText();
            return [.. alerts.RootElement.EnumerateArray().Select(a => new AlertSeen(a.GetProperty("type").GetString()!,
                a.TryGetProperty("room", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null,
                a.GetProperty("source").GetString()!, a.GetProperty("status").GetString()!))];
        }

        public Task UntilAlertAsync(string school, Func<AlertSeen, bool> match, string because, TimeSpan? timeout = null) =>
            Poll.UntilAsync(async () => (await AlertsAsync(school)).Any(match), because, timeout ?? TimeSpan.FromSeconds(30));

        public void WriteOutput()
        {
            _output.WriteLine($"last: {Last}");
            _output.WriteLine(_host.StandardOutput);
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await _host.TerminateAsync(TimeSpan.FromSeconds(20));
            await _host.DisposeAsync();
            _ownDataDir?.Dispose();
        }
    }
}
