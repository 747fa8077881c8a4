namespace Campus.Controller.Services;

/// <summary>
/// The observers of one grain, each with an expiry: a subscriber re-subscribes periodically
/// (the dashboard every minute or so) and one that stops doing so is dropped, as are observers
/// whose calls fail. Notification is one-way and never blocks the grain.
/// </summary>
internal sealed class ObserverSet<T> where T : class
{
    private readonly Dictionary<T, DateTimeOffset> _observers = [];
    private readonly TimeProvider _time;
    private readonly TimeSpan _expiry;

    public ObserverSet(TimeProvider time, TimeSpan? expiry = null)
    {
        _time = time;
        _expiry = expiry ?? TimeSpan.FromMinutes(5);
    }

    public int Count => _observers.Count;

    public void Subscribe(T observer) => _observers[observer] = _time.GetUtcNow() + _expiry;

    public void Unsubscribe(T observer) => _observers.Remove(observer);

    public void Notify(Func<T, Task> call)
    {
        if (_observers.Count == 0) return;
        var now = _time.GetUtcNow();
        List<T>? dead = null;
        foreach (var (observer, expires) in _observers)
        {
            if (expires < now)
            {
                (dead ??= []).Add(observer);
                continue;
            }
            try
            {
                var task = call(observer);
                if (!task.IsCompleted)
                    _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                        TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                else if (task.IsFaulted) (dead ??= []).Add(observer);
            }
            catch (ObjectDisposedException)
            {
                (dead ??= []).Add(observer);
            }
        }
        if (dead is null) return;
        foreach (var d in dead) _observers.Remove(d);
    }
}
