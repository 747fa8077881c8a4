using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Grains;

namespace Campus.Dashboard.Components.Shared;

/// <summary>
/// Follows a few devices live (the ones a page shows, e.g. one page of maker kits): one
/// <see cref="IDeviceObserver"/> subscribed to each device grain, renewed every minute because
/// grain subscriptions expire. A device grain notifies on every accepted message, so a page sees
/// each reading and event at once, not only when its room next reports to the school.
/// The callback runs on the notifying thread and must only hand the change on.
/// </summary>
internal sealed class DeviceFollower : IDeviceObserver, IAsyncDisposable
{
    private static readonly TimeSpan Renew = TimeSpan.FromMinutes(1);
    private readonly IGrainFactory _grains;
    private readonly Action<DeviceSnapshot> _changed;
    private readonly ITimer _timer;
    private readonly IDeviceObserver _reference;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private List<(DeviceKind Kind, string Id)> _devices = [];
    private bool _disposed;

    public DeviceFollower(IGrainFactory grains, TimeProvider time, Action<DeviceSnapshot> changed)
    {
        _grains = grains;
        _changed = changed;
        _reference = grains.CreateObjectReference<IDeviceObserver>(this);
        _timer = time.CreateTimer(_ => _ = RenewAsync(), null, Renew, Renew);
    }

    /// <summary>Follows exactly these devices from now on (subscribes the new ones, drops the others).</summary>
    public async Task FollowAsync(IReadOnlyList<(DeviceKind Kind, string Id)> devices)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            foreach (var d in _devices.Except(devices))
                await DeviceGrains.Get(_grains, d.Kind, d.Id).Unsubscribe(_reference).ConfigureAwait(false);
            foreach (var d in devices.Except(_devices))
                await DeviceGrains.Get(_grains, d.Kind, d.Id).Subscribe(_reference).ConfigureAwait(false);
            _devices = [.. devices];
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task RenewAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            foreach (var d in _devices) await DeviceGrains.Get(_grains, d.Kind, d.Id).Subscribe(_reference).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // The grain runtime is stopping.
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task DeviceChanged(DeviceSnapshot snapshot)
    {
        _changed(snapshot);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync().ConfigureAwait(false);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var d in _devices)
            {
                try
                {
                    await DeviceGrains.Get(_grains, d.Kind, d.Id).Unsubscribe(_reference).ConfigureAwait(false);
                }
                catch (InvalidOperationException)
                {
                    break; // the grain runtime is stopping; the subscriptions go with it
                }
            }
            _grains.DeleteObjectReference<IDeviceObserver>(this);
        }
        finally
        {
            _gate.Release();
        }
    }
}
