using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Grains;
using Microsoft.Extensions.Logging;

namespace Campus.Dashboard.Live;

/// <summary>
/// A door of a school took a message: its access-log entry (card decision, door, forced, held
/// open, exit request), if the message made one, is already stored when this arrives.
/// </summary>
public sealed record AccessChange(string School, string Room, string Door, long Accepted, DateTimeOffset ReceivedAt);

/// <summary>
/// The access feed: the door grains of a school notify their device observers after each
/// accepted message, and only after its access-log entry is written (the grain writes the
/// history first, then reports). One observer per school is subscribed to every door of the
/// school while a page listens; the door list is read again at each renewal, so a new door joins
/// within a renewal period.
/// </summary>
internal sealed partial class LiveHub
{
    private readonly Dictionary<string, DoorFeed> _doorFeeds = new(StringComparer.Ordinal);

    /// <summary>Starts listening to the doors of a school; dispose the result to stop.</summary>
    public async Task<IAsyncDisposable> ListenAccessAsync(string school, Action<AccessChange> listener)
    {
        ArgumentException.ThrowIfNullOrEmpty(school);
        ArgumentNullException.ThrowIfNull(listener);
        DoorFeed feed;
        bool first;
        lock (_lock)
        {
            first = !_doorFeeds.TryGetValue(school, out feed!);
            if (first)
            {
                feed = new DoorFeed(this, school);
                _doorFeeds[school] = feed;
            }
            feed.Listeners.Add(listener);
        }
        if (first) await feed.StartAsync().ConfigureAwait(false);
        else await feed.Started.ConfigureAwait(false);
        return new AccessRegistration(this, feed, listener);
    }

    /// <summary>Doors currently followed for a school (0 when no page listens).</summary>
    internal int FollowedDoors(string school)
    {
        lock (_lock) return _doorFeeds.TryGetValue(school, out var f) ? f.DoorCount : 0;
    }

    private async ValueTask RemoveAsync(DoorFeed feed, Action<AccessChange> listener)
    {
        bool last;
        lock (_lock)
        {
            feed.Listeners.Remove(listener);
            last = feed.Listeners.Count == 0;
            if (last) _doorFeeds.Remove(feed.School);
        }
        if (last) await feed.StopAsync(unsubscribe: true).ConfigureAwait(false);
    }

    private async ValueTask DisposeDoorFeedsAsync()
    {
        List<DoorFeed> feeds;
        lock (_lock)
        {
            feeds = [.. _doorFeeds.Values];
            _doorFeeds.Clear();
        }
        foreach (var f in feeds) await f.StopAsync(unsubscribe: false).ConfigureAwait(false);
    }

    private sealed class AccessRegistration(LiveHub hub, DoorFeed feed, Action<AccessChange> listener) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? hub.RemoveAsync(feed, listener) : ValueTask.CompletedTask;
    }

    private sealed class DoorFeed(LiveHub hub, string school) : IDeviceObserver
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly HashSet<string> _doors = new(StringComparer.Ordinal);
        private IDeviceObserver? _reference;
        private ITimer? _timer;

        public string School => school;
        public List<Action<AccessChange>> Listeners { get; } = [];
        public Task Started => _started.Task;

        public int DoorCount
        {
            get
            {
                lock (_doors) return _doors.Count;
            }
        }

        public async Task StartAsync()
        {
            try
            {
                _reference = hub._grains.CreateObjectReference<IDeviceObserver>(this);
                await SubscribeDoorsAsync().ConfigureAwait(false);
                _timer = hub._time.CreateTimer(_ => _ = RenewAsync(), null, Resubscribe, Resubscribe);
                _started.TrySetResult();
            }
            catch (Exception ex)
            {
                _started.TrySetException(ex);
                throw;
            }
        }

        /// <summary>(Re)subscribes to every door of the school; subscriptions expire unless renewed.</summary>
        private async Task SubscribeDoorsAsync()
        {
            var devices = await hub._grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey).ListDevices(school).ConfigureAwait(false);
            var doors = new List<string>();
            foreach (var d in devices)
            {
                if (d.Kind == DeviceKind.Door) doors.Add(d.Id);
            }
            await Task.WhenAll(doors.Select(d => hub._grains.GetGrain<IDoorGrain>(d).Subscribe(_reference!))).ConfigureAwait(false);
            lock (_doors)
            {
                _doors.Clear();
                _doors.UnionWith(doors);
            }
        }

        private async Task RenewAsync()
        {
            try
            {
                if (_reference is not null) await SubscribeDoorsAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogRenewFailed(hub._logger, school, ex.Message);
            }
        }

        public async Task StopAsync(bool unsubscribe)
        {
            if (_timer is not null) await _timer.DisposeAsync().ConfigureAwait(false);
            if (_reference is null) return;
            string[] doors;
            lock (_doors) doors = [.. _doors];
            try
            {
                if (unsubscribe) await Task.WhenAll(doors.Select(d => hub._grains.GetGrain<IDoorGrain>(d).Unsubscribe(_reference))).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                // The grain runtime is stopping; the subscriptions go with it.
                LogRenewFailed(hub._logger, school, ex.Message);
            }
            finally
            {
                hub._grains.DeleteObjectReference<IDeviceObserver>(this);
            }
        }

        public Task DeviceChanged(DeviceSnapshot snapshot)
        {
            if (snapshot.Kind != DeviceKind.Door || !string.Equals(snapshot.School, school, StringComparison.Ordinal)) return Task.CompletedTask;
            var change = new AccessChange(school, snapshot.Room, snapshot.Device, snapshot.Accepted, hub._time.GetUtcNow());
            Action<AccessChange>[] listeners;
            lock (hub._lock) listeners = [.. Listeners];
            foreach (var l in listeners)
            {
                try
                {
                    l(change);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    LogListenerFailed(hub._logger, school, ex.Message);
                }
            }
            return Task.CompletedTask;
        }
    }
}
