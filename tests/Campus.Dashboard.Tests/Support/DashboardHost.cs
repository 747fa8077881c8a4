using System.Net;
using System.Net.Http.Json;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Hosting;
using Campus.Dashboard;
using Campus.Dashboard.Accounts;
using Campus.Grains;
using Campus.Mqtt.Server;
using Campus.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Campus.Dashboard.Tests.Support;

/// <summary>
/// The controller and the dashboard in this process on Kestrel (a free loopback port, so a real
/// browser can reach it), with in-memory storage and the embedded broker, seeded with two
/// schools: s01 (rooms r101, r102; door d1, meter m1, sign g1, kit k1; zone labs; student p-s01)
/// and s02 (room r201; door d2, kit k2; zone gym; student p-s02), and one account per role of
/// s01 plus a security account of s02 and a district admin.
/// Every account's password is <see cref="Password"/>.
/// </summary>
public sealed class DashboardHost : IAsyncDisposable
{
    public const string Password = "correct-horse-battery";
    private readonly WebApplication _app;

    private DashboardHost(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }
    public IServiceProvider Services => _app.Services;
    public IGrainFactory Grains => Services.GetRequiredService<IGrainFactory>();
    public IRegistryGrain Registry => Grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey);
    public IHistoryStore History => Services.GetRequiredService<IHistoryStore>();
    public int MqttPort => Services.GetRequiredService<MqttServer>().Port;
    public Dictionary<string, DeviceCredentials> Devices { get; } = new(StringComparer.Ordinal);

    /// <summary>User names of the seeded accounts by role (school s01 unless named otherwise).</summary>
    public static readonly IReadOnlyDictionary<DashboardRole, string> Accounts = new Dictionary<DashboardRole, string>
    {
        [DashboardRole.DistrictAdmin] = "d-admin",
        [DashboardRole.SchoolAdmin] = "s01-admin",
        [DashboardRole.Security] = "s01-guard",
        [DashboardRole.Facilities] = "s01-facilities",
        [DashboardRole.Teacher] = "s01-teacher",
        [DashboardRole.Student] = "s01-student",
    };

    public const string OtherSchoolGuard = "s02-guard";

    /// <param name="configureServices">Extra services of the host (e.g. a scenario runner), added after the dashboard's.</param>
    public static async Task<DashboardHost> StartAsync(int loginPermitLimit = 10_000, Action<IServiceCollection>? configureServices = null)
    {
        var port = FreePort.Get();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(DashboardHost).Assembly.GetName().Name,
            EnvironmentName = "Development",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Campus:Storage:Provider"] = "InMemory",
            ["Campus:Mqtt:Embedded"] = "true",
            ["Campus:Mqtt:BindAddress"] = "127.0.0.1",
            ["Campus:Mqtt:Port"] = "0",
            ["Campus:Dashboard:LoginPermitLimit"] = loginPermitLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Fewer PBKDF2 rounds than production (600,000) keep the many sign-ins of the tests quick.
            ["Campus:Dashboard:PasswordIterations"] = "10000",
        });
        builder.Services.AddCampusController(builder.Configuration);
        builder.Services.AddCampusDashboard(builder.Configuration);
        configureServices?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapCampusDashboard();
        await app.StartAsync();
        var host = new DashboardHost(app, $"http://127.0.0.1:{port}");
        await host.SeedAsync();
        return host;
    }

    private async Task SeedAsync()
    {
        await Registry.UpsertSchool(new SchoolSpec("s01", "North Middle School", "Asia/Shanghai", new Controller.Domain.WeeklySchedule([Controller.Domain.TimeWindow.Parse("12345", "07:00", "18:00")]), [new AccessZoneSpec("labs", ["r102"])]), "test");
        await Registry.UpsertSchool(new SchoolSpec("s02", "South High School", "Europe/Berlin", new Controller.Domain.WeeklySchedule([Controller.Domain.TimeWindow.Parse("12345", "07:00", "18:00")]), [new AccessZoneSpec("gym", ["r201"])]), "test");
        await Registry.UpsertRoom(new RoomSpec("s01", "r101", "Physics 101"), "test");
        await Registry.UpsertRoom(new RoomSpec("s01", "r102", "Maker Lab"), "test");
        await Registry.UpsertRoom(new RoomSpec("s02", "r201", "Chemistry 201"), "test");
        Devices["d1"] = await Registry.CreateDevice(new DeviceSpec("s01", "r101", DeviceKind.Door, "d1"), "test");
        Devices["m1"] = await Registry.CreateDevice(new DeviceSpec("s01", "r101", DeviceKind.Energy, "m1"), "test");
        Devices["g1"] = await Registry.CreateDevice(new DeviceSpec("s01", "r101", DeviceKind.Sign, "g1"), "test");
        Devices["k1"] = await Registry.CreateDevice(new DeviceSpec("s01", "r102", DeviceKind.Maker, "k1"), "test");
        Devices["d2"] = await Registry.CreateDevice(new DeviceSpec("s02", "r201", DeviceKind.Door, "d2"), "test");
        Devices["k2"] = await Registry.CreateDevice(new DeviceSpec("s02", "r201", DeviceKind.Maker, "k2"), "test");
        // One card holder per school (a student), for zone and maker-kit assignments.
        await Registry.UpsertPerson(new Controller.Domain.PersonProfile("p-s01", "Ann Li", Controller.Domain.PersonRole.Student, "s01", [new Controller.Domain.AccessCard("04AA0101", Controller.Domain.CardStatus.Active)], []), "test");
        await Registry.UpsertPerson(new Controller.Domain.PersonProfile("p-s02", "Ben Wu", Controller.Domain.PersonRole.Student, "s02", [new Controller.Domain.AccessCard("04AA0201", Controller.Domain.CardStatus.Active)], []), "test");
        var users = Services.GetRequiredService<UserService>();
        foreach (var (role, name) in Accounts)
            await users.SaveAsync(new UserRequest(name, name, role, role == DashboardRole.DistrictAdmin ? null : "s01", Password), "test");
        await users.SaveAsync(new UserRequest(OtherSchoolGuard, OtherSchoolGuard, DashboardRole.Security, "s02", Password), "test");
    }

    /// <summary>An HTTP client that keeps the (Secure) sign-in cookie itself, since plain HTTP on loopback would drop it.</summary>
    public ApiClient Client() => new(new Uri(Url));

    /// <summary>Publishes a device message through the embedded broker with the device's credentials, using mosquitto_pub.</summary>
    public async Task PublishAsync(string school, string room, string kind, string device, string stream, byte[] payload)
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(file, payload);
            var (code, _, error) = await ExternalProcess.RunAsync("mosquitto_pub",
                ["-h", "127.0.0.1", "-p", MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", device, "-u", device, "-P", Devices[device].MqttPassword,
                 "-q", "1", "-t", $"campus/v1/{school}/{room}/{kind}/{device}/{stream}", "-f", file], TimeSpan.FromSeconds(20));
            Assert.True(code == 0, $"mosquitto_pub failed ({code}): {error}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>A door event signed with the door's HMAC key, as a card reader sends it.</summary>
    public byte[] SignedDoorEvent(string door, uint seq, string typeAndFields)
    {
        var body = System.Text.Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":{seq},\"ts\":{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()},{typeAndFields}}}");
        DeviceKeys.TryDecode(Devices[door].HmacKeyBase64, out var key);
        return EventSigner.Sign(door, key!, body);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A small API client holding its own cookie header.</summary>
public sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;
    private string? _cookie;

    public ApiClient(Uri baseAddress)
    {
        _http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = baseAddress };
    }

    public async Task<HttpStatusCode> SignInAsync(string user, string password = DashboardHost.Password)
    {
        using var response = await SendAsync(HttpMethod.Post, "/api/v1/session", JsonContent.Create(new { userName = user, password }));
        if (response.Headers.TryGetValues("Set-Cookie", out var cookies))
            _cookie = string.Join("; ", cookies.Select(c => c.Split(';')[0]).Where(c => c.StartsWith("campus.auth=", StringComparison.Ordinal)));
        return response.StatusCode;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (_cookie is not null) request.Headers.Add("Cookie", _cookie);
        return await _http.SendAsync(request);
    }

    public Task<HttpResponseMessage> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    /// <summary>Sends with one more cookie besides the sign-in one (e.g. the antiforgery cookie of a form).</summary>
    public async Task<HttpResponseMessage> SendWithCookieAsync(HttpRequestMessage request, string cookie)
    {
        request.Headers.Add("Cookie", _cookie is null ? cookie : _cookie + "; " + cookie);
        return await _http.SendAsync(request);
    }

    public void Dispose() => _http.Dispose();
}
