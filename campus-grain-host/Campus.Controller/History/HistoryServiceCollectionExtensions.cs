using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Campus.Controller.History;

public static class HistoryServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IHistoryStore"/> (and its narrower interfaces) as a singleton built from
    /// <see cref="HistoryOptions"/>, and a hosted service that initializes it at start and purges by
    /// retention periodically. Bind the options with
    /// <c>services.Configure&lt;HistoryOptions&gt;(configuration.GetSection(HistoryOptions.SectionName))</c>.
    /// </summary>
    public static IServiceCollection AddCampusHistory(this IServiceCollection services, Action<HistoryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<HistoryOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IHistoryStore>(sp => HistoryStoreFactory.Create(
            sp.GetRequiredService<IOptions<HistoryOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddSingleton<ITelemetryHistory>(sp => sp.GetRequiredService<IHistoryStore>());
        services.TryAddSingleton<IEnergyHistory>(sp => sp.GetRequiredService<IHistoryStore>());
        services.TryAddSingleton<IAccessLog>(sp => sp.GetRequiredService<IHistoryStore>());
        services.TryAddSingleton<IAlertHistory>(sp => sp.GetRequiredService<IHistoryStore>());
        services.TryAddSingleton<IAuditLog>(sp => sp.GetRequiredService<IHistoryStore>());
        services.AddHostedService<HistoryHostedService>();
        return services;
    }
}

/// <summary>Creates a history store for the configured provider. Call <see cref="IHistoryStore.InitializeAsync"/> before use.</summary>
public static class HistoryStoreFactory
{
    public static IHistoryStore Create(HistoryOptions options, TimeProvider time, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var logger = loggerFactory.CreateLogger("Campus.Controller.History");
        return options.Provider switch
        {
            HistoryProvider.InMemory => new InMemoryHistoryStore(options, time, logger),
            HistoryProvider.Sqlite => new SqliteHistoryStore(options, time, logger),
            HistoryProvider.Postgres => new PostgresHistoryStore(options, time, logger),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Provider, "Provider must be InMemory, Sqlite or Postgres."),
        };
    }
}

/// <summary>
/// Initializes the history store when the host starts, then purges old rows every retention interval.
/// If the storage is down at start, the host starts anyway (the store reports Degraded and refuses
/// writes with <see cref="StorageUnavailableException"/>) and initialization is retried every few seconds.
/// </summary>
internal sealed partial class HistoryHostedService : BackgroundService
{
    internal static readonly TimeSpan StartRetryInterval = TimeSpan.FromSeconds(5);

    private readonly IHistoryStore _store;
    private readonly HistoryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<HistoryHostedService> _logger;
    private PeriodicTimer? _timer;
    private bool _ready;

    public HistoryHostedService(IHistoryStore store, IOptions<HistoryOptions> options, TimeProvider time, ILogger<HistoryHostedService> logger)
    {
        _store = store;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await TryInitializeAsync(cancellationToken).ConfigureAwait(false);
        // The period starts now, not whenever the background loop gets its first turn.
        _timer = new PeriodicTimer(_options.Retention.Interval, _time);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var timer = _timer!;
        try
        {
            while (!_ready)
            {
                await Task.Delay(StartRetryInterval, _time, stoppingToken).ConfigureAwait(false);
                await TryInitializeAsync(stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await _store.PurgeAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (StorageUnavailableException ex)
                {
                    LogPurgeFailed(ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Host is stopping.
        }
    }

    private async Task TryInitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _store.InitializeAsync(cancellationToken).ConfigureAwait(false);
            _ready = true;
        }
        catch (StorageUnavailableException ex)
        {
            LogStartFailed(ex.Message, StartRetryInterval.TotalSeconds);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "History storage unavailable at start, retrying in {Seconds} s: {Reason}")]
    private partial void LogStartFailed(string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "History retention purge skipped: {Reason}")]
    private partial void LogPurgeFailed(string reason);
}
