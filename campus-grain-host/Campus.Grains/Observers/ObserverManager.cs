using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Campus.Grains;

/// <summary>
/// Observer subscriptions kept by a grain, with expiry: subscribers re-subscribe periodically, and a
/// subscription not renewed within <see cref="ExpirationDuration"/> is dropped. Use inside one grain
/// (turn-based, so no locking).
/// </summary>
public class ObserverManager<TIdentity, TObserver> where TIdentity : notnull
{
    private readonly Dictionary<TIdentity, Subscription> _subscribers = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ObserverManager(TimeSpan expiration, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        if (expiration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(expiration), expiration, "Expiration must be positive.");
        ExpirationDuration = expiration;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    public TimeSpan ExpirationDuration { get; set; }

    public int Count => _subscribers.Count;

    /// <summary>The current subscribers (expired ones included until the next notify or ClearExpired).</summary>
    public IReadOnlyList<TObserver> Observers => _subscribers.Values.Select(s => s.Observer).ToList();

    /// <summary>Adds a subscriber or renews its subscription.</summary>
    public void Subscribe(TIdentity id, TObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _subscribers[id] = new Subscription(observer, _time.GetUtcNow());
    }

    public void Unsubscribe(TIdentity id) => _subscribers.Remove(id);

    public void Clear() => _subscribers.Clear();

    /// <summary>Drops subscriptions not renewed within the expiration.</summary>
    public void ClearExpired()
    {
        var now = _time.GetUtcNow();
        List<TIdentity>? expired = null;
        foreach (var (id, s) in _subscribers)
            if (now - s.LastSeen > ExpirationDuration) (expired ??= []).Add(id);
        if (expired is null) return;
        foreach (var id in expired) _subscribers.Remove(id);
        _logger.LogDebug("Dropped {Count} expired observer subscriptions", expired.Count);
    }

    /// <summary>Calls every live subscriber (fire-and-forget); a subscriber that throws at once is dropped.</summary>
    public void Notify(Action<TObserver> notification, Func<TObserver, bool>? predicate = null)
    {
        ArgumentNullException.ThrowIfNull(notification);
        ClearExpired();
        List<TIdentity>? failed = null;
        foreach (var (id, s) in _subscribers.ToList())
        {
            if (predicate is not null && !predicate(s.Observer)) continue;
            try
            {
                notification(s.Observer);
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Observer {Observer} failed and was removed", id);
                (failed ??= []).Add(id);
            }
        }
        if (failed is not null) foreach (var id in failed) _subscribers.Remove(id);
    }

    /// <summary>Calls every live subscriber and waits; subscribers whose call fails are dropped.</summary>
    public async Task NotifyAsync(Func<TObserver, Task> notification, Func<TObserver, bool>? predicate = null)
    {
        ArgumentNullException.ThrowIfNull(notification);
        ClearExpired();
        var calls = new List<(TIdentity Id, Task Call)>();
        foreach (var (id, s) in _subscribers.ToList())
        {
            if (predicate is not null && !predicate(s.Observer)) continue;
            Task call;
            try
            {
                call = notification(s.Observer);
            }
            catch (Exception ex)
            {
                call = Task.FromException(ex);
            }
            calls.Add((id, call));
        }
        foreach (var (id, call) in calls)
        {
            try
            {
                await call;
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Observer {Observer} failed and was removed", id);
                _subscribers.Remove(id);
            }
        }
    }

    private readonly record struct Subscription(TObserver Observer, DateTimeOffset LastSeen);
}

/// <summary>An <see cref="ObserverManager{TIdentity, TObserver}"/> keyed by the observer reference itself.</summary>
public sealed class ObserverManager<TObserver>(TimeSpan expiration, TimeProvider? timeProvider = null, ILogger? logger = null)
    : ObserverManager<IAddressable, TObserver>(expiration, timeProvider, logger)
    where TObserver : IAddressable;
