using System.Collections.Concurrent;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Hosting;
using Campus.Controller.Ingestion;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Mqtt.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Campus.Controller.Testing;

/// <summary>Settings of a <see cref="CampusTestCluster"/>.</summary>
public sealed class CampusTestClusterOptions
{
    /// <summary>Let MQTT clients connect without credentials (default false: devices use issued credentials).</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>Extra configuration (e.g. "Campus:Controller:DeniedCardsThreshold" = "3").</summary>
    public Dictionary<string, string?> Settings { get; } = new(StringComparer.Ordinal);

    /// <summary>Non-device MQTT users (name, password) of the embedded broker.</summary>
    public Dictionary<string, string> Users { get; } = new(StringComparer.Ordinal);

    /// <summary>Ingest from this external broker (host, port) instead of the embedded one.</summary>
    public (string Host, int Port)? ExternalBroker { get; set; }

    /// <summary>Last changes to the services before the host is built.</summary>
    public Action<IServiceCollection>? ConfigureServices { get; set; }
}

/// <summary>
/// The whole controller in the test process, in one line, like Orleans' TestCluster:
/// <code>await using var cluster = await CampusTestCluster.StartAsync(fakeTime);</code>
/// Embedded broker on a free loopback port (<see cref="MqttPort"/>), in-memory grain storage
/// and history, grains on the given clock. Commands the controller sends are also recorded in
/// <see cref="Commands"/>. Call <see cref="TickAsync"/> after advancing a fake clock to run the
/// device watch (missed heartbeats, held-open doors) at once.
/// </summary>
public sealed class CampusTestCluster : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly RecordingCommandPublisher _recorder;

    private CampusTestCluster(IHost host)
    {
        _host = host;
        _recorder = host.Services.GetRequiredService<RecordingCommandPublisher>();
    }

    public IServiceProvider Services => _host.Services;
    public IGrainFactory Grains => Services.GetRequiredService<IGrainFactory>();
    public IRegistryGrain Registry => Grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey);
    public ISchoolGrain School(string id) => Grains.GetGrain<ISchoolGrain>(id);
    public IRoomGrain Room(string school, string room) => Grains.GetGrain<IRoomGrain>(DeviceGrains.RoomKey(school, room));
    public IDeviceGrain Device(DeviceKind kind, string id) => DeviceGrains.Get(Grains, kind, id);
    public TimeProvider Time => Services.GetRequiredService<TimeProvider>();
    public ControllerMetrics Metrics => Services.GetRequiredService<ControllerMetrics>();
    public IHistoryStore History => Services.GetRequiredService<IHistoryStore>();
    public MessageIngestor Ingestor => Services.GetRequiredService<MessageIngestor>();
    public string MqttHost => "127.0.0.1";
    public int MqttPort => Services.GetService<MqttServer>()?.Port ?? Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<CampusMqttOptions>>().Value.Port;

    /// <summary>True once ingestion is connected (external broker) or the embedded broker runs.</summary>
    public bool IngestionReady => Services.GetService<MqttServer>()?.IsStarted ?? Services.GetRequiredService<IngestionStatus>().Connected;

    /// <summary>Every command sent so far, oldest first.</summary>
    public IReadOnlyList<(DeviceTopic Topic, DeviceCommand Command)> Commands => _recorder.Sent;

    public static async Task<CampusTestCluster> StartAsync(TimeProvider? time = null, Action<CampusTestClusterOptions>? configure = null)
    {
        var options = new CampusTestClusterOptions();
        configure?.Invoke(options);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Test" });
        builder.Configuration.AddInMemoryCollection(options.Settings);
        builder.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        if (time is not null) builder.Services.AddSingleton(time);
        builder.Services.Configure<ControllerOptions>(builder.Configuration.GetSection(ControllerOptions.SectionName));
        var external = options.ExternalBroker;
        var mqtt = new CampusMqttOptions { Embedded = external is null, BindAddress = "127.0.0.1", Port = external?.Port ?? 0, Host = external?.Host ?? "127.0.0.1", AllowAnonymous = options.AllowAnonymous, ClientId = "campus-controller-" + Guid.NewGuid().ToString("N")[..8] };
        foreach (var (user, password) in options.Users) mqtt.Users[user] = password;
        builder.Services.Configure<CampusMqttOptions>(o =>
        {
            o.Embedded = mqtt.Embedded;
            o.Host = mqtt.Host;
            o.Port = mqtt.Port;
            o.ClientId = mqtt.ClientId;
            o.AllowAnonymous = mqtt.AllowAnonymous;
            foreach (var (user, password) in mqtt.Users) o.Users[user] = password;
        });
        builder.Services.AddCampusControllerCore(new CampusStorageOptions { Provider = CampusStorageProvider.InMemory }, mqtt);
        // Record every command, then send it through the broker as usual.
        if (mqtt.Embedded)
        {
            builder.Services.AddSingleton<EmbeddedCommandPublisher>();
            builder.Services.AddSingleton(sp => new RecordingCommandPublisher(sp.GetRequiredService<EmbeddedCommandPublisher>()));
        }
        else
        {
            builder.Services.AddSingleton<ClientCommandPublisher>();
            builder.Services.AddSingleton(sp => new RecordingCommandPublisher(sp.GetRequiredService<ClientCommandPublisher>()));
        }
        builder.Services.Replace(ServiceDescriptor.Singleton<ICommandPublisher>(sp => sp.GetRequiredService<RecordingCommandPublisher>()));
        options.ConfigureServices?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync().ConfigureAwait(false);
        return new CampusTestCluster(host);
    }

    /// <summary>Runs the device watch now (after advancing a fake clock): offline devices, held-open doors.</summary>
    public Task TickAsync() => Services.GetRequiredService<DeviceWatch>().ScanAsync();

    /// <summary>Registers a school (IANA time zone; Monday-Friday 07:00-18:00 unless given) with its zones.</summary>
    public Task<SchoolSpec> AddSchoolAsync(string id, string timeZoneId = "Asia/Shanghai", Domain.WeeklySchedule? openingHours = null, params AccessZoneSpec[] zones) =>
        Registry.UpsertSchool(new SchoolSpec(id, id, timeZoneId, openingHours ?? SchoolGrain.DefaultOpeningHours, zones), "test");

    public Task<RoomSpec> AddRoomAsync(string school, string room, double idlePowerW = 200) =>
        Registry.UpsertRoom(new RoomSpec(school, room, room, idlePowerW), "test");

    public Task<DeviceCredentials> AddDeviceAsync(string school, string room, DeviceKind kind, string id) =>
        Registry.CreateDevice(new DeviceSpec(school, room, kind, id), "test");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
        }
    }
}

/// <summary>Records each command and passes it on.</summary>
internal sealed class RecordingCommandPublisher(ICommandPublisher inner) : ICommandPublisher
{
    private readonly ConcurrentQueue<(DeviceTopic, DeviceCommand)> _sent = new();

    public IReadOnlyList<(DeviceTopic Topic, DeviceCommand Command)> Sent => [.. _sent];

    public ValueTask PublishAsync(DeviceTopic topic, DeviceCommand command, CancellationToken cancellationToken = default)
    {
        _sent.Enqueue((topic, command));
        return inner.PublishAsync(topic, command, cancellationToken);
    }
}
