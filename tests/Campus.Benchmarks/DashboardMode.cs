using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.Hosting;
using Campus.Controller.Services;
using Campus.Dashboard;
using Campus.Dashboard.Accounts;
using Campus.Grains;
using Campus.Grains.Storage;
using Campus.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static Campus.Benchmarks.BenchArgs;

namespace Campus.Benchmarks;

/// <summary>
/// dashboard: server render time of the overview, security and facilities pages (HTTP GET of the
/// prerendered page, signed in) with a large district registered, and the latency of a school
/// grain change reaching an open page's live stream (the SSE probe that pages' live feed shares).
/// The same measurement on a 1,000-device district is the baseline of the ratios.
/// </summary>
internal sealed class DashboardMode : IBenchmarkMode
{
    public string Name => "dashboard";
    public string Description => "dashboard page render p95 and live-change p99 with N devices (--devices 250000 --requests 100 --changes 200)";

    private const string Password = "bench-password-123";
    private static readonly string[] Pages = ["/?school=s001", "/security?school=s001", "/facilities?school=s001"];

    public async Task<int> RunAsync(string[] args)
    {
        var devices = Arg(args, "--devices", 250_000);
        var requests = Arg(args, "--requests", 100);
        var changes = Arg(args, "--changes", 200);
        Console.WriteLine($"dashboard: baseline with 1,000 devices, then {devices:N0} devices; {requests} GETs per page, {changes} live changes");
        var baseline = await MeasureAsync(1_000, requests, changes);
        var big = await MeasureAsync(devices, requests, changes);
        var figures = new JsonObject
        {
            ["mode"] = Name,
            ["devices"] = devices,
            ["requestsPerPage"] = requests,
            ["liveChanges"] = changes,
            ["targets"] = new JsonObject { ["pageRenderP95Ms"] = 300, ["liveChangeP99Ms"] = 1000 },
            ["baseline1000Devices"] = baseline,
            ["result"] = big,
        };
        var ratios = new JsonObject();
        foreach (var page in Pages)
            ratios[page] = Math.Round(big[page]!["p95Ms"]!.GetValue<double>() / Math.Max(0.001, baseline[page]!["p95Ms"]!.GetValue<double>()), 2);
        figures["p95RatioVersusBaseline"] = ratios;
        BenchResults.Write(Name, figures);
        return 0;
    }


    private static async Task<JsonObject> MeasureAsync(int deviceCount, int requests, int changes)
    {
        var port = FreePort.Get();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Error);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campus:Storage:Provider"] = "InMemory",
            ["Campus:Mqtt:Embedded"] = "true",
            ["Campus:Mqtt:BindAddress"] = "127.0.0.1",
            ["Campus:Mqtt:Port"] = "0",
        });
        builder.Services.AddCampusController(builder.Configuration);
        builder.Services.AddCampusDashboard(builder.Configuration);
        var app = builder.Build();

        // Registering devices one by one through the registry grain rewrites its whole state each
        // time; the district is laid into grain storage in one write before the host starts.
        var sw = Stopwatch.StartNew();
        var (schools, rooms) = await SeedRegistryAsync(app.Services, deviceCount);
        app.MapCampusDashboard();
        await app.StartAsync();
        var grains = app.Services.GetRequiredService<IGrainFactory>();
        foreach (var s in schools) await grains.GetGrain<ISchoolGrain>(s.Id).Configure(s);
        foreach (var r in rooms.Where(r => r.School == "s001")) await grains.GetGrain<IRoomGrain>(DeviceGrains.RoomKey(r.School, r.Id)).Configure(r);
        await app.Services.GetRequiredService<UserService>().SaveAsync(new UserRequest("bench-admin", "Bench", DashboardRole.DistrictAdmin, null, Password), "bench");
        Console.WriteLine($"  {deviceCount:N0} devices in {schools.Count} schools, {rooms.Count:N0} rooms registered in {sw.Elapsed.TotalSeconds:0.0} s");

        var result = new JsonObject { ["devices"] = deviceCount, ["schools"] = schools.Count, ["rooms"] = rooms.Count };
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        using var login = await http.PostAsJsonAsync("/api/v1/session", new { userName = "bench-admin", password = Password });
        if (login.StatusCode != HttpStatusCode.NoContent) throw new InvalidOperationException($"Sign-in failed: {login.StatusCode}");
        var cookie = string.Join("; ", login.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
        foreach (var page in Pages)
        {
            var times = new List<double>();
            for (var i = 0; i < requests + 5; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, page);
                request.Headers.Add("Cookie", cookie);
                var t = Stopwatch.GetTimestamp();
                using var response = await http.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                var ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK || body.Length < 500) throw new InvalidOperationException($"{page}: {response.StatusCode}, {body.Length} bytes");
                if (i >= 5) times.Add(ms); // the first five warm up
            }
            result[page] = Stats(times);
            Console.WriteLine($"  GET {page,-26} p50 {Pct(times, 50),7:0.0} ms  p95 {Pct(times, 95),7:0.0} ms  p99 {Pct(times, 99),7:0.0} ms");
        }

        result["liveChange"] = await LiveLatencyAsync(http, cookie, grains, changes);
        await app.StopAsync();
        await app.DisposeAsync();
        return result;
    }

    /// <summary>Opens the school's live stream, then raises and clears alerts in the school grain and times each event's arrival.</summary>
    private static async Task<JsonObject> LiveLatencyAsync(HttpClient http, string cookie, IGrainFactory grains, int changes)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/schools/s001/live");
        request.Headers.Add("Cookie", cookie);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        await reader.ReadLineAsync(); // ": live"
        var school = grains.GetGrain<ISchoolGrain>("s001");
        var times = new List<double>();
        for (var i = 0; i < changes; i++)
        {
            var t = Stopwatch.GetTimestamp();
            await school.Signal($"bench-{i}", "r0001", new AlertSignal(AlertType.Tamper, AlertSeverity.Warning, "benchmark change"));
            // Read until this change's alert event arrives (school summaries may come in between).
            while (true)
            {
                var line = await reader.ReadLineAsync() ?? throw new InvalidOperationException("The live stream ended.");
                if (line.StartsWith("data:", StringComparison.Ordinal) && line.Contains($"bench-{i}\"", StringComparison.Ordinal)) break;
            }
            times.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
        Console.WriteLine($"  live change -> page stream  p50 {Pct(times, 50),7:0.0} ms  p99 {Pct(times, 99),7:0.0} ms");
        return Stats(times);
    }

    private static async Task<(List<SchoolSpec> Schools, List<RoomSpec> Rooms)> SeedRegistryAsync(IServiceProvider services, int deviceCount)
    {
        var schoolCount = Math.Max(1, deviceCount / 5_000);
        const int roomsPerSchool = 100;
        var hours = new WeeklySchedule([TimeWindow.Parse("12345", "07:00", "18:00")]);
        var state = new RegistryState();
        var schools = new List<SchoolSpec>();
        var rooms = new List<RoomSpec>();
        for (var s = 1; s <= schoolCount; s++)
        {
            var spec = new SchoolSpec($"s{s:000}", $"School {s}", "Asia/Shanghai", hours, []);
            schools.Add(spec);
            state.Schools[spec.Id] = spec;
            for (var r = 1; r <= roomsPerSchool; r++)
            {
                var room = new RoomSpec(spec.Id, $"r{r:0000}", $"Room {r}");
                rooms.Add(room);
                state.Rooms[DeviceGrains.RoomKey(spec.Id, room.Id)] = room;
            }
        }
        var (hash, salt) = Secrets.Hash("bench-device-password");
        var kinds = new[] { DeviceKind.Energy, DeviceKind.Env, DeviceKind.Door, DeviceKind.Sign, DeviceKind.Maker };
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < deviceCount; i++)
        {
            var school = schools[i % schools.Count];
            var room = $"r{(i / schools.Count) % roomsPerSchool + 1:0000}";
            var spec = new DeviceSpec(school.Id, room, kinds[i % kinds.Length], $"dev-{i:000000}");
            state.Devices[spec.Id] = new DeviceRecord(spec, hash, salt, DeviceKeys.Generate(), now);
        }
        var storage = services.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        await storage.WriteStateAsync("registry", new GrainId("registry", IRegistryGrain.RegistryKey), new GrainState<RegistryState>(state));
        return (schools, rooms);
    }

    private static double Pct(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static JsonObject Stats(List<double> times) => new()
    {
        ["count"] = times.Count,
        ["p50Ms"] = Math.Round(Pct(times, 50), 2),
        ["p95Ms"] = Math.Round(Pct(times, 95), 2),
        ["p99Ms"] = Math.Round(Pct(times, 99), 2),
        ["maxMs"] = Math.Round(times.Max(), 2),
    };
}
