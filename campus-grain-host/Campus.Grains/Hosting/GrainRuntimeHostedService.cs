using Campus.Grains.Reminders;
using Campus.Grains.Runtime;
using Microsoft.Extensions.Hosting;

namespace Campus.Grains;

/// <summary>Starts the grain runtime with the host and stops it (deactivating every grain) on shutdown.</summary>
internal sealed class GrainRuntimeHostedService(GrainRuntime runtime, ReminderService reminders) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        runtime.Start();
        await reminders.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await reminders.StopAsync().ConfigureAwait(false);
        await runtime.StopAsync(cancellationToken).ConfigureAwait(false);
    }
}
