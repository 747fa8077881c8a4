using Campus.Controller.History;
using Campus.Controller.Ingestion;
using Campus.Controller.Services;
using Campus.Mqtt.Server;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Controller.Hosting;

/// <summary>The health of the controller's parts, as /healthz reports it.</summary>
public sealed record ControllerHealthReport(
    bool Healthy,
    string Broker,
    bool BrokerUp,
    int? BrokerClients,
    string Storage,
    string? StorageReason,
    int StorageQueue,
    bool DirectoryLoaded,
    int Devices,
    long Received,
    long Accepted,
    long Duplicates,
    long Rejected,
    int InFlight,
    string? LastIngestError,
    bool InlineSocketCompletions);

/// <summary>Collects the health of the broker, the storage and ingestion.</summary>
public sealed class ControllerHealth(IServiceProvider services, IHistoryStore history, IngestionStatus ingestion, DeviceDirectory directory, ControllerMetrics metrics)
{
    public async Task<ControllerHealthReport> CheckAsync(CancellationToken cancellationToken = default)
    {
        var server = services.GetService<MqttServer>();
        var brokerUp = server is not null ? server.IsStarted : ingestion.Connected;
        var storage = history.Health.IsHealthy ? history.Health : await history.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
        var healthy = brokerUp && storage.IsHealthy && directory.Loaded;
        return new ControllerHealthReport(
            healthy,
            ingestion.Mode,
            brokerUp,
            server?.ConnectedClientCount,
            storage.Status.ToString(),
            storage.Reason,
            storage.QueueLength,
            directory.Loaded,
            directory.Count,
            metrics.ReceivedTotal,
            metrics.AcceptedTotal,
            metrics.DuplicateTotal,
            metrics.RejectedTotal,
            ingestion.InFlight,
            ingestion.LastError,
            // What the process was started or set up with; .NET reads it once, at its first asynchronous socket.
            Campus.Mqtt.Server.Hosting.InlineSocketCompletions.IsOn);
    }
}
