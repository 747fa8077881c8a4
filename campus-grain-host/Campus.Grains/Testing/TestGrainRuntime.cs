using Campus.Grains.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Campus.Grains.Testing;

/// <summary>
/// A grain runtime in the test process, in the spirit of Orleans' TestCluster:
/// <code>await using var runtime = await TestGrainRuntime.StartAsync(s => s.AddGrain&lt;MyGrain&gt;(), fakeTime);</code>
/// Memory storage ("Default") and a memory reminder table are registered unless the configure
/// callback registers others.
/// </summary>
public sealed class TestGrainRuntime : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly IHostedService[] _hosted;
    private bool _stopped;

    private TestGrainRuntime(ServiceProvider services, IHostedService[] hosted)
    {
        _services = services;
        _hosted = hosted;
    }

    /// <summary>Creates references to grains and observers.</summary>
    public IGrainFactory GrainFactory => _services.GetRequiredService<IGrainFactory>();

    /// <summary>The clock the runtime uses (a FakeTimeProvider when one was passed).</summary>
    public TimeProvider TimeProvider => _services.GetRequiredService<TimeProvider>();

    public IServiceProvider Services => _services;

    /// <summary>Number of live activations.</summary>
    public int ActivationCount => _services.GetRequiredService<GrainRuntime>().ActivationCount;

    /// <summary>Builds the services, starts the runtime, and returns when it is ready.</summary>
    public static async Task<TestGrainRuntime> StartAsync(
        Action<IServiceCollection>? configure = null,
        TimeProvider? timeProvider = null,
        Action<GrainRuntimeOptions>? options = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        if (timeProvider is not null) services.AddSingleton(timeProvider);
        services.AddGrainRuntime(options);
        configure?.Invoke(services);
        if (!services.Any(d => d.ServiceType == typeof(Storage.IGrainStorage) && Equals(d.ServiceKey, GrainStorageNames.Default)))
            services.AddMemoryGrainStorage(GrainStorageNames.Default);
        if (!services.Any(d => d.ServiceType == typeof(IReminderTable)))
            services.AddMemoryReminderTable();

        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var hosted = provider.GetServices<IHostedService>().ToArray();
        try
        {
            foreach (var h in hosted) await h.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            await provider.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new TestGrainRuntime(provider, hosted);
    }

    /// <summary>Stops the runtime: every activation is deactivated (OnDeactivateAsync runs).</summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        for (var i = _hosted.Length - 1; i >= 0; i--) await _hosted[i].StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _services.DisposeAsync().ConfigureAwait(false);
    }
}
