using System.Reflection;
using Campus.Grains.Runtime;
using Campus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Campus.Grains;

/// <summary>Wiring of the grain runtime into a service collection.</summary>
public static class GrainRuntimeServiceCollectionExtensions
{
    /// <summary>
    /// Adds the grain runtime (IGrainFactory, a hosted service that starts and stops it). Add grain
    /// classes with <see cref="AddGrain{TGrain}"/>, storage with AddMemoryGrainStorage /
    /// AddSqliteGrainStorage / AddPostgresGrainStorage and reminders with Add*ReminderTable.
    /// </summary>
    public static IServiceCollection AddGrainRuntime(this IServiceCollection services, Action<GrainRuntimeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<GrainRuntimeOptions>();
        if (configure is not null) services.Configure(configure);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<GrainRuntime>(sp => new GrainRuntime(
            sp,
            sp.GetRequiredService<IOptions<GrainRuntimeOptions>>(),
            sp.GetServices<GrainClassRegistration>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<Microsoft.Extensions.Logging.ILogger<GrainRuntime>>(),
            sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<IGrainFactory>(sp => sp.GetRequiredService<GrainRuntime>());
        services.TryAddSingleton<Reminders.ReminderService>();
        services.TryAddSingleton<PostgresDataSources>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, GrainRuntimeHostedService>());
        return services;
    }

    /// <summary>Registers a grain class for all grain interfaces it implements.</summary>
    public static IServiceCollection AddGrain<TGrain>(this IServiceCollection services) where TGrain : class, IGrain =>
        services.AddGrain(typeof(TGrain));

    /// <summary>Registers a grain class for all grain interfaces it implements.</summary>
    public static IServiceCollection AddGrain(this IServiceCollection services, Type grainClass)
    {
        ArgumentNullException.ThrowIfNull(grainClass);
        if (grainClass.IsAbstract || !typeof(IGrain).IsAssignableFrom(grainClass))
            throw new ArgumentException($"{grainClass} is not a concrete grain class (it must implement a grain interface).", nameof(grainClass));
        services.AddSingleton(new GrainClassRegistration(grainClass));
        return services;
    }

    /// <summary>Registers every concrete grain class of an assembly.</summary>
    public static IServiceCollection AddGrainsFromAssembly(this IServiceCollection services, Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        foreach (var t in assembly.GetTypes())
            if (t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false } && typeof(IGrain).IsAssignableFrom(t)
                && !typeof(Invocation.GrainReference).IsAssignableFrom(t))
                services.AddGrain(t);
        return services;
    }

    /// <summary>Adds an in-memory grain storage named <paramref name="name"/> (tests, throw-away runs).</summary>
    public static IServiceCollection AddMemoryGrainStorage(this IServiceCollection services, string name = GrainStorageNames.Default,
        Action<GrainStorageOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var options = new GrainStorageOptions();
        configure?.Invoke(options);
        services.AddKeyedSingleton<IGrainStorage>(name, (_, _) => new MemoryGrainStorage(options));
        return services;
    }

    /// <summary>
    /// Adds a grain storage named <paramref name="name"/> in a SQLite file (WAL mode), e.g.
    /// "Data Source=data/campus.db". The folder and table are created when missing.
    /// </summary>
    public static IServiceCollection AddSqliteGrainStorage(this IServiceCollection services, string name, string connectionString,
        Action<GrainStorageOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var options = new GrainStorageOptions();
        configure?.Invoke(options);
        services.AddKeyedSingleton<IGrainStorage>(name, (_, _) => new SqliteGrainStorage(connectionString, options));
        return services;
    }

    /// <summary>Adds a grain storage named <paramref name="name"/> in PostgreSQL. The table is created when missing.</summary>
    public static IServiceCollection AddPostgresGrainStorage(this IServiceCollection services, string name, string connectionString,
        Action<GrainStorageOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var options = new GrainStorageOptions();
        configure?.Invoke(options);
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, _) => new PostgresGrainStorage(PostgresDataSources.Get(sp, connectionString), options));
        return services;
    }
}

/// <summary>One NpgsqlDataSource per connection string, owned by the container.</summary>
internal sealed class PostgresDataSources : IDisposable
{
    private readonly Dictionary<string, Npgsql.NpgsqlDataSource> _sources = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    internal static Npgsql.NpgsqlDataSource Get(IServiceProvider sp, string connectionString) =>
        sp.GetRequiredService<PostgresDataSources>().For(connectionString);

    private Npgsql.NpgsqlDataSource For(string connectionString)
    {
        lock (_gate)
        {
            if (!_sources.TryGetValue(connectionString, out var source))
            {
                // Every state read and write is one of a few statements: let Npgsql prepare them on the
                // server (unless the connection string says otherwise), which saves their parse and plan.
                var builder = new Npgsql.NpgsqlDataSourceBuilder(connectionString);
                if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
                {
                    builder.ConnectionStringBuilder.MaxAutoPrepare = 16;
                    builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
                }
                // The statements change no session state, so a pooled connection needs no reset (three
                // statements per open) when it goes back to the pool: 10,000 devices activating at once
                // open a connection for each state read.
                builder.ConnectionStringBuilder.NoResetOnClose = true;
                _sources[connectionString] = source = builder.Build();
            }
            return source;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var s in _sources.Values) s.Dispose();
            _sources.Clear();
        }
    }
}

/// <summary>Registration of reminder tables.</summary>
public static class ReminderTableServiceCollectionExtensions
{
    /// <summary>Keeps reminders in memory (tests): they fire while the process lives, not after a restart.</summary>
    public static IServiceCollection AddMemoryReminderTable(this IServiceCollection services)
    {
        services.RemoveAll<IReminderTable>();
        services.AddSingleton<IReminderTable, Reminders.MemoryReminderTable>();
        return services;
    }

    /// <summary>Keeps reminders in a SQLite file (may be the same file as the grain storage).</summary>
    public static IServiceCollection AddSqliteReminderTable(this IServiceCollection services, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        services.RemoveAll<IReminderTable>();
        services.AddSingleton<IReminderTable>(_ => new Reminders.SqliteReminderTable(connectionString));
        return services;
    }

    /// <summary>Keeps reminders in PostgreSQL.</summary>
    public static IServiceCollection AddPostgresReminderTable(this IServiceCollection services, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        services.RemoveAll<IReminderTable>();
        services.TryAddSingleton<PostgresDataSources>();
        services.AddSingleton<IReminderTable>(sp => new Reminders.PostgresReminderTable(PostgresDataSources.Get(sp, connectionString)));
        return services;
    }
}
