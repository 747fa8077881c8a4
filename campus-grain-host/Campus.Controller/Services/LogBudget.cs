namespace Campus.Controller.Services;

/// <summary>
/// At most <see cref="PerWindow"/> log lines per <see cref="Window"/>; the lines held back are counted
/// and reported with the next one written. For logs that devices can trigger at will, such as
/// rejected messages: a device sending garbage must not fill the log, nor stall the thread that logs
/// when the console's queue is full (with inline socket completions, a socket engine's thread).
/// </summary>
public sealed class LogBudget(TimeProvider time, int perWindow, TimeSpan window)
{
    private readonly Lock _gate = new();
    private long _windowStart;
    private bool _started;
    private int _used;
    private long _heldBack;

    public int PerWindow => perWindow;

    public TimeSpan Window => window;

    /// <summary>
    /// True when a line may be written now; <paramref name="heldBack"/> is then the number of lines held
    /// back since the last one written (0 when none).
    /// </summary>
    public bool TryTake(out long heldBack)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            if (!_started || time.GetElapsedTime(_windowStart, now) >= window)
            {
                (_windowStart, _started, _used) = (now, true, 0);
            }
            if (_used < perWindow)
            {
                _used++;
                heldBack = _heldBack;
                _heldBack = 0;
                return true;
            }
            _heldBack++;
            heldBack = 0;
            return false;
        }
    }
}
