using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Campus.Mqtt.Server.Hosting;

public static class MqttBrokerServiceCollectionExtensions
{
    /// <summary>
    /// Runs the embedded broker as a hosted service with options bound from
    /// <paramref name="configuration"/> (normally the section <c>Mqtt:Broker</c>). The
    /// <see cref="MqttServer"/> is a singleton, so other services can hook its events or
    /// inject messages.
    /// </summary>
    public static IServiceCollection AddCampusMqttBroker(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<MqttServerOptions>().Bind(configuration).Validate(o =>
        {
            o.Validate();
            return true;
        });
        return services.AddCampusMqttBrokerCore();
    }

    /// <summary>Same as the configuration overload, with options set in code.</summary>
    public static IServiceCollection AddCampusMqttBroker(this IServiceCollection services, Action<MqttServerOptions> configure)
    {
        services.AddOptions<MqttServerOptions>().Configure(configure);
        return services.AddCampusMqttBrokerCore();
    }

    private static IServiceCollection AddCampusMqttBrokerCore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new MqttServer(
            sp.GetRequiredService<IOptions<MqttServerOptions>>().Value,
            sp.GetService<ILogger<MqttServer>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddHostedService<MqttBrokerHostedService>();
        return services;
    }
}

/// <summary>Starts the broker with the host and stops it (closing every connection) with the host.</summary>
internal sealed class MqttBrokerHostedService(MqttServer server) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => server.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(cancellationToken);
}
