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
}
