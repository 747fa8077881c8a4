using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Ingestion;
using Campus.Grains;
using Campus.Simulators;
using Campus.Simulators.District;
using Campus.Simulators.Fleet;
using System.Globalization;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Options;

namespace Campus.GrainHost.Demo;

/// <summary>Demo mode (section "Campus:Demo"): a simulated district run in this process against the embedded broker.</summary>
internal sealed class DemoOptions
{
    public const string SectionName = "Campus:Demo";

    /// <summary>The district file (YAML or JSON) to provision and simulate.</summary>
    public string District { get; set; } = Path.Combine("simulators", "districts", "small.yaml");

    /// <summary>Simulated seconds per real second.</summary>
    public double Speed { get; set; } = 60;

    public int Seed { get; set; } = 1;
}

internal static class DemoModeExtensions
{
    /// <summary>Registers the simulated district; it starts after the controller (registry loaded, broker up).</summary>
    public static WebApplicationBuilder AddCampusDemoDistrict(this WebApplicationBuilder builder)
    {
        AddDemoControllerDefaults(builder.Configuration);
        builder.Services.Configure<DemoOptions>(builder.Configuration.GetSection(DemoOptions.SectionName));
        builder.Services.AddSingleton<DemoDistrictFile>();
        // The dashboard's demo account seeding leaves schools and rooms to the simulated district.
        builder.Services.AddSingleton<Campus.Dashboard.Developer.ISimulatedDistrict>(sp => sp.GetRequiredService<DemoDistrictFile>());
        builder.Services.AddSingleton<DemoHistoryBackfill>();
        builder.Services.AddHostedService<DemoDistrictService>();
        // The developer page's scenarios (Campus.Dashboard's IScenarioRunner) run on the simulated district.
        builder.Services.AddSingleton<DemoScenarioRunner>();
        builder.Services.AddSingleton<Campus.Dashboard.Developer.IScenarioRunner>(sp => sp.GetRequiredService<DemoScenarioRunner>());
        return builder;
    }

    /// <summary>
    /// Controller settings of demo mode, after the settings files and before environment variables and
    /// the command line (which still win): the controller's clock is real time while the district's runs
    /// at the demo's speed, so the after-hours-energy rule waits its 30 minutes of simulated time
    /// (30 real seconds at x60) instead of 30 real minutes, and the power-spike rule its minute (1 s);
    /// the power-spike rule compares with the room's busiest usual hour of the week, since one hour of
    /// the controller's clock sees days of the simulated district.
    /// </summary>
    private static void AddDemoControllerDefaults(IConfigurationBuilder configuration)
    {
        var speed = ((IConfiguration)configuration).GetValue(DemoOptions.SectionName + ":Speed", new DemoOptions().Speed);
        var wait = TimeSpan.FromSeconds(speed > 0 ? Math.Max(10, Math.Round(TimeSpan.FromMinutes(30).TotalSeconds / speed)) : 10);
        // A power spike must be held for a minute: one real second at x60 (a 3-minute spike lasts 3 s there).
        var held = TimeSpan.FromSeconds(speed > 0 ? Math.Max(1, Math.Round(new SpikeRule().PowerMinDuration.TotalSeconds / speed)) : 1);
        var defaults = new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Campus:Controller:AfterHoursEnergyMinDuration"] = wait.ToString("c", CultureInfo.InvariantCulture),
                ["Campus:Controller:Spike:PowerMinDuration"] = held.ToString("c", CultureInfo.InvariantCulture),
                // A real hour of the controller spans days of the simulated district: a power spike is
                // measured against the room's busiest usual hour of the week, not the controller's hour.
                ["Campus:Controller:Spike:PowerBaselineSpan"] = TimeSpan.FromDays(7).ToString("c", CultureInfo.InvariantCulture),
            },
        };
        var sources = configuration.Sources;
        var afterFiles = sources.Select((source, i) => (source, i)).LastOrDefault(x => x.source is FileConfigurationSource).i + 1;
        sources.Insert(Math.Min(afterFiles, sources.Count), defaults);
    }
}

/// <summary>The demo's district file (<see cref="DemoOptions.District"/>), loaded once.</summary>
internal sealed class DemoDistrictFile(IOptions<DemoOptions> options) : Campus.Dashboard.Developer.ISimulatedDistrict
{
    private readonly Lazy<(string File, DistrictModel Model)> _loaded = new(() =>
    {
        var file = ResolveFile(options.Value.District);
        return (file, DistrictLoader.LoadFile(file));
    });

    public string File => _loaded.Value.File;

    public DistrictModel Model => _loaded.Value.Model;

    public string FirstSchool => Model.Schools[0].Id;

    /// <summary>A relative district file is looked up from the working folder and its parents (so it works from the repository root or a build folder).</summary>
    private static string ResolveFile(string path)
    {
        if (Path.IsPathRooted(path) || System.IO.File.Exists(path)) return path;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, path))) return Path.Combine(dir.FullName, path);
        throw new FileNotFoundException($"Demo district file '{path}' not found (set --demo-district FILE).", path);
    }
}

/// <summary>
/// Provisions the district's schools, buildings, rooms, devices and people through the registry grain (each
/// device gets its issued MQTT password and HMAC key) and runs the firmware-in-the-loop fleet
/// with those credentials against the embedded broker. Before the fleet starts, rooms without energy
/// history are given a few past weeks of it (<see cref="DemoHistoryBackfill"/>).
/// </summary>
internal sealed partial class DemoDistrictService(
    IGrainFactory grains,
    IOptions<DemoOptions> options,
    DemoDistrictFile districtFile,
    IOptions<CampusMqttOptions> mqtt,
    DemoScenarioRunner scenarios,
    DemoHistoryBackfill backfill,
    TimeProvider time,
    ILogger<DemoDistrictService> logger) : BackgroundService
{
    private const string By = "demo";
    private DistrictSimulation? _simulation;

    /// <summary>
    /// The demo plays the most recent day, up to today in the first school's zone, on the weekday of
    /// the district file's date (a Thursday stays a school day): its live data then sit among the
    /// backfilled weeks before it and in the controller's recent history, whatever day the demo runs.
    /// </summary>
    internal static DistrictModel RecentDay(DistrictModel district, DateTimeOffset now)
    {
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, district.Schools[0].TimeZone).DateTime);
        var back = ((int)today.DayOfWeek - (int)district.Date.DayOfWeek + 7) % 7;
        return district with { Date = today.AddDays(-back) };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var o = options.Value;
        var file = districtFile.File;
        var district = RecentDay(districtFile.Model, time.GetUtcNow());
        var credentials = await ProvisionAsync(district).ConfigureAwait(false);
        var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey);
        var buildings = 0; // the district file's buildings whose rooms the registry lists in them
        foreach (var school in district.Schools)
        {
            var rooms = (await registry.ListRooms(school.Id).ConfigureAwait(false)).ToDictionary(r => r.Id, r => r.Building, StringComparer.Ordinal);
            buildings += school.Buildings.Count(b => b.Rooms.All(r => rooms.GetValueOrDefault(r.Id) == b.Id));
        }
        var start = DistrictSimulation.DefaultStartUtc(district);
        try
        {
            await backfill.RunAsync(district, start, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StorageUnavailableException or InvalidOperationException)
        {
            // The demo runs without the past weeks: power spikes raise no alert until the rooms learned their usual power.
            LogBackfillFailed(logger, ex.Message);
        }
        _simulation = await DistrictSimulation.StartAsync(district, new SimulationOptions
        {
            StartUtc = start,
            BrokerHost = "127.0.0.1",
            BrokerPort = mqtt.Value.Port,
            Speed = o.Speed,
            // A new boot epoch per run: a kept database never takes this run's messages for old ones.
            BootBase = (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            Seed = o.Seed,
            Credentials = credentials,
            // Every device on its own switchable link: the developer page's network outage and power cut act on any room.
            SwitchableNetwork = true,
        }, stoppingToken).ConfigureAwait(false);
        scenarios.Attach(_simulation);
        Console.WriteLine($"Demo district '{district.Name}' ({file}): {district.Schools.Count} school(s), {buildings} building(s), {district.Rooms.Count()} rooms, "
            + $"{credentials.Count} simulated devices (firmware in the loop) on mqtt://127.0.0.1:{mqtt.Value.Port}, {district.People.Count} people, speed x{o.Speed}.");
        LogStarted(logger, district.Name, credentials.Count, o.Speed);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_simulation is { } sim) await sim.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<Dictionary<string, DeviceSecret>> ProvisionAsync(DistrictModel district)
    {
        var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey);
        var secrets = new Dictionary<string, DeviceSecret>(StringComparer.Ordinal);
        foreach (var school in district.Schools)
        {
            var hours = new WeeklySchedule([.. school.OpeningHours.Select(w => new TimeWindow(w.Days, w.From, w.To))]);
            var zones = school.Zones.Select(z => new AccessZoneSpec(z.Id, z.Rooms.Contains("*") ? [.. school.Rooms.Select(r => r.Id)] : z.Rooms)).ToList();
            await registry.UpsertSchool(new SchoolSpec(school.Id, school.Name, school.TimeZoneId, hours, zones), By).ConfigureAwait(false);
            foreach (var building in school.Buildings)
            {
                await registry.UpsertBuilding(new BuildingSpec(school.Id, building.Id, building.Name), By).ConfigureAwait(false);
                foreach (var room in building.Rooms)
                    await registry.UpsertRoom(new RoomSpec(school.Id, room.Id, room.Name, Math.Max(200, room.BaseLoadW * 2), building.Id), By).ConfigureAwait(false);
            }
            foreach (var device in school.Devices)
            {
                if (!WireNames.TryParse<DeviceKind>(device.Kind.AsSpan(), out var kind))
                    throw new InvalidOperationException($"Device '{device.Id}' has kind '{device.Kind}'; use energy, env, door, sign or maker.");
                var issued = await registry.GetDevice(device.Id).ConfigureAwait(false) is null
                    ? await registry.CreateDevice(new DeviceSpec(school.Id, device.Room, kind, device.Id), By).ConfigureAwait(false)
                    : await registry.RotateCredentials(device.Id, By).ConfigureAwait(false);
                secrets[device.Id] = new DeviceSecret(issued.DeviceId, issued.MqttPassword, Convert.FromBase64String(issued.HmacKeyBase64));
            }
            var zoneSchedules = school.Zones.ToDictionary(z => z.Id, z => new WeeklySchedule([.. z.Schedule.Select(w => new TimeWindow(w.Days, w.From, w.To))]));
            foreach (var person in district.People.Where(p => p.School == school.Id))
            {
                var role = Enum.Parse<Campus.Controller.Domain.PersonRole>(person.Role.ToString());
                var grants = person.Zones.Where(zoneSchedules.ContainsKey).Select(z => new ZoneGrant(z, zoneSchedules[z])).ToList();
                await registry.UpsertPerson(new PersonProfile(person.Id, person.Name, role, school.Id,
                    [.. person.Cards.Select(c => new AccessCard(c, CardStatus.Active))], grants), By).ConfigureAwait(false);
            }
        }
        return secrets;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Demo history not backfilled: {Reason}")]
    private static partial void LogBackfillFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo district {District} started: {Devices} simulated devices at speed x{Speed}")]
    private static partial void LogStarted(ILogger logger, string district, int devices, double speed);
}
