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
    public Task<IAsyncDisposable> ListenAsync(string school, Action<LiveChange> listener) =>
        ListenAsync(_feeds, school, listener, () => new SchoolFeed(this, school));

    /// <summary>Adds a listener to the school's feed of its kind, starting the feed for the first one.</summary>
    private async Task<IAsyncDisposable> ListenAsync<TFeed, TChange>(Dictionary<string, TFeed> feeds, string school, Action<TChange> listener, Func<TFeed> create)
        where TFeed : Feed<TChange>
    {
        TFeed feed;
        bool first;
        lock (_lock)
        {
            first = !feeds.TryGetValue(school, out feed!);
            if (first)
            {
                feed = create();
                feeds[school] = feed;
            }
            feed.Listeners.Add(listener);
        }
        if (first) await feed.StartAsync().ConfigureAwait(false);
        else await feed.Started.ConfigureAwait(false);
        return new Registration(() => RemoveAsync(feeds, feed, listener));
    }

    /// <summary>Removes a listener; the last one stops the feed.</summary>
    private async ValueTask RemoveAsync<TFeed, TChange>(Dictionary<string, TFeed> feeds, TFeed feed, Action<TChange> listener)
        where TFeed : Feed<TChange>
    {
        bool last;
        lock (_lock)
        {
            feed.Listeners.Remove(listener);
            last = feed.Listeners.Count == 0;
            if (last) feeds.Remove(feed.School);
        }
        if (last) await feed.StopAsync(unsubscribe: true).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        List<IFeed> feeds;
        lock (_lock)
        {
            feeds = [.. _feeds.Values, .. _doorFeeds.Values];
            _feeds.Clear();
            _doorFeeds.Clear();
        }
        // The host is shutting down and the grain runtime with it: drop the observers without calling grains.
        foreach (var f in feeds) await f.StopAsync(unsubscribe: false).ConfigureAwait(false);
    }

    private sealed class Registration(Func<ValueTask> remove) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? remove() : ValueTask.CompletedTask;
    }

    private interface IFeed
    {
        Task StopAsync(bool unsubscribe);
    }

    /// <summary>
    /// A school's feed of one kind: its grain observer, subscribed while a listener is there and
    /// renewed every <see cref="Resubscribe"/> (grain subscriptions expire), and its listeners.
    /// </summary>
    private abstract class Feed<TChange>(LiveHub hub, string school) : IFeed
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private ITimer? _timer;

        public string School => school;
        public List<Action<TChange>> Listeners { get; } = [];
        public Task Started => _started.Task;
        protected LiveHub Hub => hub;

        /// <summary>Subscribes the observer (again, on renewal).</summary>
        protected abstract Task SubscribeAsync();

        protected abstract Task UnsubscribeAsync();

        /// <summary>Whether the observer's object reference was made (by the first subscription).</summary>
        protected abstract bool HasReference { get; }

        /// <summary>Releases the observer's object reference.</summary>
        protected abstract void DeleteReference();

        public async Task StartAsync()
        {
            try
            {
                await SubscribeAsync().ConfigureAwait(false);
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
                await SubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogRenewFailed(hub._logger, school, ex.Message);
            }
        }

        public async Task StopAsync(bool unsubscribe)
        {
            if (_timer is not null) await _timer.DisposeAsync().ConfigureAwait(false);
            if (!HasReference) return;
            try
            {
                if (unsubscribe) await UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                // The grain runtime is stopping; the subscription goes with it.
                LogRenewFailed(hub._logger, school, ex.Message);
            }
            finally
            {
                DeleteReference();
            }
        }

        protected void Publish(TChange change)
        {
            Action<TChange>[] listeners;
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
        }
    }

    private sealed class SchoolFeed(LiveHub hub, string school) : Feed<LiveChange>(hub, school), ISchoolObserver
    {
        private ISchoolObserver? _reference;

        protected override Task SubscribeAsync()
        {
            _reference ??= Hub._grains.CreateObjectReference<ISchoolObserver>(this);
            return Hub._grains.GetGrain<ISchoolGrain>(School).Subscribe(_reference);
        }

        protected override Task UnsubscribeAsync() => Hub._grains.GetGrain<ISchoolGrain>(School).Unsubscribe(_reference!);

        protected override bool HasReference => _reference is not null;

        protected override void DeleteReference() => Hub._grains.DeleteObjectReference<ISchoolObserver>(this);

        public Task SchoolChanged(SchoolSnapshot snapshot) => Notify(new LiveChange(School, snapshot, null, null, Hub._time.GetUtcNow()));
        public Task AlertChanged(AlertView alert) => Notify(new LiveChange(School, null, alert, null, Hub._time.GetUtcNow()));
        public Task LockdownChanged(LockdownView lockdown) => Notify(new LiveChange(School, null, null, lockdown, Hub._time.GetUtcNow()));

        private Task Notify(LiveChange change)
        {
            Publish(change);
            return Task.CompletedTask;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Renewing the live subscription to school {School} failed: {Reason}")]
    private static partial void LogRenewFailed(ILogger logger, string school, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A live listener of school {School} failed: {Reason}")]
    private static partial void LogListenerFailed(ILogger logger, string school, string reason);
}
