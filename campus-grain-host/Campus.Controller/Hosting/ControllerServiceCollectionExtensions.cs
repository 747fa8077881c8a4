using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Ingestion;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Grains.Runtime;
using Campus.Mqtt.Server;
using Campus.Mqtt.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Campus.Controller.Hosting;

/// <summary>Wiring of the campus controller: grain runtime and grains, storage, history, ingestion and the broker.</summary>
public static class ControllerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the whole controller, configured from the sections Campus:Storage, Campus:Mqtt,
    /// Campus:Ingest, Campus:Controller and Campus:History (retention, batching).
    /// </summary>
    public static IServiceCollection AddCampusController(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var storage = configuration.GetSection(CampusStorageOptions.SectionName).Get<CampusStorageOptions>() ?? new CampusStorageOptions();
        var mqtt = configuration.GetSection(CampusMqttOptions.SectionName).Get<CampusMqttOptions>() ?? new CampusMqttOptions();
        services.Configure<CampusMqttOptions>(configuration.GetSection(CampusMqttOptions.SectionName));
        services.Configure<IngestOptions>(configuration.GetSection(IngestOptions.SectionName));
        services.Configure<ControllerOptions>(configuration.GetSection(ControllerOptions.SectionName));
        services.Configure<HistoryOptions>(configuration.GetSection(HistoryOptions.SectionName));
        services.Configure<SeedOptions>(configuration.GetSection(SeedOptions.SectionName));
        return services.AddCampusControllerCore(storage, mqtt);
    }

    /// <summary>The same with options given in code (tests, tools).</summary>
    public static IServiceCollection AddCampusControllerCore(this IServiceCollection services, CampusStorageOptions storage, CampusMqttOptions mqtt)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(mqtt);
        storage.Validate();
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<CampusMqttOptions>();
        services.AddOptions<IngestOptions>();
        services.AddOptions<ControllerOptions>();
        services.AddOptions<SeedOptions>();

        // 1. Grain runtime, grains and grain storage (started first).
        services.AddGrainRuntime();
        services.AddGrainsFromAssembly(typeof(ControllerServiceCollectionExtensions).Assembly);
        switch (storage.Provider)
        {
            case CampusStorageProvider.InMemory:
                services.AddMemoryGrainStorage(GrainStorageNames.Default);
                services.AddMemoryReminderTable();
                break;
            case CampusStorageProvider.Sqlite:
                var dir = Path.GetDirectoryName(Path.GetFullPath(storage.SqlitePath));
                if (dir is not null) Directory.CreateDirectory(dir);
                services.AddSqliteGrainStorage(GrainStorageNames.Default, $"Data Source={storage.SqlitePath}");
                services.AddSqliteReminderTable($"Data Source={storage.SqlitePath}");
                break;
            case CampusStorageProvider.Postgres:
                services.AddPostgresGrainStorage(GrainStorageNames.Default, storage.PostgresConnectionString!);
                services.AddPostgresReminderTable(storage.PostgresConnectionString!);
                break;
        }

        // 2. History (its hosted service creates the schema before anything is ingested).
        services.AddCampusHistory(o =>
        {
            switch (storage.Provider)
            {
                case CampusStorageProvider.InMemory:
                    o.Provider = HistoryProvider.InMemory;
                    break;
                case CampusStorageProvider.Sqlite:
                    o.Provider = HistoryProvider.Sqlite;
                    o.ConnectionString = $"Data Source={storage.HistoryPath}";
                    break;
                case CampusStorageProvider.Postgres:
                    o.Provider = HistoryProvider.Postgres;
                    o.ConnectionString = storage.PostgresConnectionString!;
                    break;
            }
        });

        // 3. Controller services.
        services.TryAddSingleton<ControllerMetrics>();
        services.TryAddSingleton<DeviceDirectory>();
        services.TryAddSingleton<DeviceWatch>();
        services.TryAddSingleton<DeviceServices>();
        services.TryAddSingleton<IEventVerifier, ContractsEventVerifier>();
        services.TryAddSingleton<IngestionStatus>();
        services.TryAddSingleton<MessageIngestor>();
        services.TryAddSingleton<ControllerHealth>();
        services.AddHostedService<ControllerStartup>();

        // 4. The broker: embedded (ingest in its publish hook) or external (client).
        if (mqtt.Embedded)
        {
            // The broker keeps wall-clock time even when grains run on a test clock, so keep-alives hold.
            services.TryAddSingleton(sp => new MqttServer(
                sp.GetRequiredService<IOptions<MqttServerOptions>>().Value,
                sp.GetService<ILogger<MqttServer>>(),
                TimeProvider.System,
                sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
            services.AddCampusMqttBroker(o =>
            {
                o.BindAddress = mqtt.BindAddress;
                o.Port = mqtt.Port;
                o.AllowAnonymous = true; // the controller's connection hook decides (device credentials, users, anonymous)
                o.AclRules = AclRules(mqtt);
                o.MaxQueuedMessagesPerSession = 10_000;
            });
            services.TryAddSingleton<EmbeddedBrokerBridge>();
            services.TryAddSingleton<ICommandPublisher, EmbeddedCommandPublisher>();
        }
        else
        {
            services.TryAddSingleton<ExternalBrokerIngestion>();
            services.AddHostedService(sp => sp.GetRequiredService<ExternalBrokerIngestion>());
            services.TryAddSingleton<ICommandPublisher, ClientCommandPublisher>();
        }
        return services;
    }

    /// <summary>
    /// The embedded broker's ACL: devices read only their own commands; configured users
    /// (dashboard, gateways, tools) read and write all of campus/v1. Writes are left to the
    /// controller's publish hook, which holds a device to its own topics and counts every
    /// attempt outside them (campus.ingest.rejected{reason=sender-mismatch}) instead of the
    /// broker dropping it unseen. Handed to the broker as text, so no file is left behind.
    /// </summary>
    private static string AclRules(CampusMqttOptions mqtt)
    {
        var text = new System.Text.StringBuilder("pattern read campus/v1/+/+/+/%c/cmd/+\npattern write campus/v1/#\n");
        foreach (var user in mqtt.Users.Keys)
            text.Append("\nuser ").Append(user).Append("\ntopic readwrite ").Append(TopicFilters.All).Append('\n');
        return text.ToString();
    }
}

/// <summary>
/// Starts the controller after the grain runtime and the history store: loads the device
/// directory from the registry grain, starts the device watch and, with the embedded broker,
/// hooks ingestion into it before it starts listening.
/// </summary>
internal sealed class ControllerStartup(IServiceProvider services, IGrainFactory grains, DeviceWatch watch, IOptions<SeedOptions> seed) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey);
        await registry.Load().ConfigureAwait(false);
        await Seeder.ApplyAsync(registry, seed.Value).ConfigureAwait(false);
        watch.Start(grains);
        services.GetService<EmbeddedBrokerBridge>()?.Attach();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
