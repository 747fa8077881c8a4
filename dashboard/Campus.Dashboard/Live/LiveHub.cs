using Campus.Controller.Grains;
using Campus.Grains;
using Microsoft.Extensions.Logging;

namespace Campus.Dashboard.Live;

/// <summary>One change pushed by a school grain.</summary>
public sealed record LiveChange(string School, SchoolSnapshot? Snapshot, AlertView? Alert, LockdownView? Lockdown, DateTimeOffset ReceivedAt);

/// <summary>
/// Fans school grain notifications out to open pages (and the SSE probe). One observer per
/// school is registered with the school grain while at least one page listens to it, and
/// re-subscribed periodically because grain subscriptions expire. Listeners run on the
/// notifying thread and must only hand the change on (e.g. InvokeAsync(StateHasChanged)).
/// The doors of a school are followed the same way for the access feed (LiveHub.Access.cs).
/// </summary>
internal sealed partial class LiveHub(IGrainFactory grains, TimeProvider time, ILogger<LiveHub> logger) : IAsyncDisposable
{
    private static readonly TimeSpan Resubscribe = TimeSpan.FromMinutes(1);
    private readonly IGrainFactory _grains = grains;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;
    private readonly Dictionary<string, SchoolFeed> _feeds = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Starts listening to a school; dispose the result to stop.</summary>
    public async Task<IAsyncDisposable> ListenAsync(string school, Action<LiveChange> listener)
    {
        SchoolFeed feed;
        bool first;
        lock (_lock)
        {
            first = !_feeds.TryGetValue(school, out feed!);
            if (first)
            {
                feed = new SchoolFeed(this, school);
                _feeds[school] = feed;
            }
            feed.Listeners.Add(listener);
        }
        if (first) await feed.StartAsync().ConfigureAwait(false);
        else await feed.Started.ConfigureAwait(false);
        return new Registration(this, feed, listener);
    }

    private async ValueTask RemoveAsync(SchoolFeed feed, Action<LiveChange> listener)
    {
        bool last;
        lock (_lock)
        {
            feed.Listeners.Remove(listener);
            last = feed.Listeners.Count == 0;
            if (last) _feeds.Remove(feed.School);
        }
        if (last) await feed.StopAsync(unsubscribe: true).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        List<SchoolFeed> feeds;
        lock (_lock)
        {
            feeds = [.. _feeds.Values];
            _feeds.Clear();
        }
        // The host is shutting down and the grain runtime with it: drop the observers without calling grains.
        foreach (var f in feeds) await f.StopAsync(unsubscribe: false).ConfigureAwait(false);
        await DisposeDoorFeedsAsync().ConfigureAwait(false);
    }

    private sealed class Registration(LiveHub hub, SchoolFeed feed, Action<LiveChange> listener) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? hub.RemoveAsync(feed, listener) : ValueTask.CompletedTask;
    }

    private sealed class SchoolFeed(LiveHub hub, string school) : ISchoolObserver
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private ISchoolObserver? _reference;
        private ITimer? _timer;

        public string School => school;
        public List<Action<LiveChange>> Listeners { get; } = [];
        public Task Started => _started.Task;

        public async Task StartAsync()
        {
            try
            {
                _reference = hub._grains.CreateObjectReference<ISchoolObserver>(this);
                await hub._grains.GetGrain<ISchoolGrain>(school).Subscribe(_reference).ConfigureAwait(false);
                _timer = hub._time.CreateTimer(_ => _ = RenewAsync(), null, Resubscribe, Resubscribe);
                _started.TrySetResult();
            }
            catch (Exception ex)
            {
                _started.TrySetException(ex);
                throw;
            }
        }

        private async Task RenewAsync()
        {
            try
            {
                if (_reference is not null) await hub._grains.GetGrain<ISchoolGrain>(school).Subscribe(_reference).ConfigureAwait(false);
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
            try
            {
                if (unsubscribe) await hub._grains.GetGrain<ISchoolGrain>(school).Unsubscribe(_reference).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                // The grain runtime is stopping; the subscription goes with it.
                LogRenewFailed(hub._logger, school, ex.Message);
            }
            finally
            {
                hub._grains.DeleteObjectReference<ISchoolObserver>(this);
            }
        }

        public Task SchoolChanged(SchoolSnapshot snapshot) => Publish(new LiveChange(school, snapshot, null, null, hub._time.GetUtcNow()));
        public Task AlertChanged(AlertView alert) => Publish(new LiveChange(school, null, alert, null, hub._time.GetUtcNow()));
        public Task LockdownChanged(LockdownView lockdown) => Publish(new LiveChange(school, null, null, lockdown, hub._time.GetUtcNow()));

        private Task Publish(LiveChange change)
        {
            Action<LiveChange>[] listeners;
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Renewing the live subscription to school {School} failed: {Reason}")]
    private static partial void LogRenewFailed(ILogger logger, string school, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A live listener of school {School} failed: {Reason}")]
    private static partial void LogListenerFailed(ILogger logger, string school, string reason);
}
