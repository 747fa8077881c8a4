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
    public Task<IAsyncDisposable> ListenAccessAsync(string school, Action<AccessChange> listener)
    {
        ArgumentException.ThrowIfNullOrEmpty(school);
        ArgumentNullException.ThrowIfNull(listener);
        return ListenAsync(_doorFeeds, school, listener, () => new DoorFeed(this, school));
    }

    /// <summary>Doors currently followed for a school (0 when no page listens).</summary>
    internal int FollowedDoors(string school)
    {
        lock (_lock) return _doorFeeds.TryGetValue(school, out var f) ? f.DoorCount : 0;
    }

    private sealed class DoorFeed(LiveHub hub, string school) : Feed<AccessChange>(hub, school), IDeviceObserver
    {
        private readonly HashSet<string> _doors = new(StringComparer.Ordinal);
        private IDeviceObserver? _reference;

        public int DoorCount
        {
            get
            {
                lock (_doors) return _doors.Count;
            }
        }

        /// <summary>(Re)subscribes to every door of the school; the door list is read again each time.</summary>
        protected override async Task SubscribeAsync()
        {
            _reference ??= Hub._grains.CreateObjectReference<IDeviceObserver>(this);
            var devices = await Hub._grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey).ListDevices(School).ConfigureAwait(false);
            var doors = new List<string>();
            foreach (var d in devices)
            {
                if (d.Kind == DeviceKind.Door) doors.Add(d.Id);
            }
            await Task.WhenAll(doors.Select(d => Hub._grains.GetGrain<IDoorGrain>(d).Subscribe(_reference))).ConfigureAwait(false);
            lock (_doors)
            {
                _doors.Clear();
                _doors.UnionWith(doors);
            }
        }

        protected override Task UnsubscribeAsync()
        {
            string[] doors;
            lock (_doors) doors = [.. _doors];
            return Task.WhenAll(doors.Select(d => Hub._grains.GetGrain<IDoorGrain>(d).Unsubscribe(_reference!)));
        }

        protected override bool HasReference => _reference is not null;

        protected override void DeleteReference() => Hub._grains.DeleteObjectReference<IDeviceObserver>(this);

        public Task DeviceChanged(DeviceSnapshot snapshot)
        {
            if (snapshot.Kind == DeviceKind.Door && string.Equals(snapshot.School, School, StringComparison.Ordinal))
                Publish(new AccessChange(School, snapshot.Room, snapshot.Device, snapshot.Accepted, Hub._time.GetUtcNow()));
            return Task.CompletedTask;
        }
    }
}
