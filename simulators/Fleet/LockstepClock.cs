using Campus.Firmware.Ports;

namespace Campus.Simulators.Fleet;

/// <summary>
/// The one clock of a simulation, shared by every device. Time moves only in <see cref="Advance"/>;
/// a firmware thread that sleeps waits for the simulation. <see cref="WaitUntilQuiet"/> lets the
/// driver wait until every woken thread is asleep again before the next step (lock-step), so a run
/// does not depend on how threads happened to be scheduled: the same seed gives the same run.
/// </summary>
internal sealed class LockstepClock : Clock
{
    private readonly object _sync = new();
    private readonly DateTime _startUtc;
    private readonly PriorityQueue<Sleeper, long> _queue = new();
    private long _nowMs;
    private int _blocked;
    private int _due;
    private volatile bool _shutdown;
    private int _expected;
    private readonly ManualResetEventSlim _quiet = new(false);
    private readonly List<Sleeper> _woken = [];

    [ThreadStatic]
    private static Sleeper? t_sleeper;

    public LockstepClock(DateTime startUtc)
    {
        if (startUtc.Kind != DateTimeKind.Utc) throw new ArgumentException("The simulation clock starts at a UTC time.", nameof(startUtc));
        _startUtc = startUtc;
    }

    public override DateTime UtcNow
    {
        get
        {
            lock (_sync) return _startUtc.AddMilliseconds(_nowMs);
        }
    }

    public override bool IsTimeSet => true;

    public override long TickCountMs
    {
        get
        {
            lock (_sync) return _nowMs;
        }
    }

    /// <summary>Threads asleep on this clock and not yet due.</summary>
    public int Blocked
    {
        get
        {
            lock (_sync) return _blocked;
        }
    }

    /// <summary>The earliest wake-up time of a sleeping thread (ms since start), or null.</summary>
    public long? NextWakeMs
    {
        get
        {
            lock (_sync) return _queue.TryPeek(out _, out long at) ? at : null;
        }
    }

    public override void Sleep(int milliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds);
        // Each sleeping thread waits on its own event: a step wakes only the threads that are due, and
        // they do not queue up for one lock on the way out (with a thousand threads that convoy was most of a step).
        var sleeper = t_sleeper ??= new Sleeper();
        lock (_sync)
        {
            if (_shutdown) throw new OperationCanceledException("The simulation has ended.");
            sleeper.Arm(_nowMs + Math.Max(1, milliseconds));
            _queue.Enqueue(sleeper, sleeper.Until);
            _blocked++;
            SignalIfQuiet();
        }

        sleeper.Wake.Wait();
        // Woken by Advance (counted as due until here) or by Shutdown.
        if (sleeper.Woken && Interlocked.Decrement(ref _due) == 0)
        {
            lock (_sync) SignalIfQuiet();
        }

        if (_shutdown && !sleeper.Woken) throw new OperationCanceledException("The simulation has ended.");
    }

    /// <summary>Moves time forward and wakes every thread whose sleep is over.</summary>
    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        List<Sleeper> woken = _woken;
        lock (_sync)
        {
            _nowMs += (long)by.TotalMilliseconds;
            while (_queue.TryPeek(out var sleeper, out long at) && at <= _nowMs)
            {
                _queue.Dequeue();
                sleeper.Woken = true;
                _blocked--;
                Interlocked.Increment(ref _due);
                woken.Add(sleeper);
            }
        }

        foreach (var sleeper in woken) sleeper.Wake.Set();
        woken.Clear();
    }

    /// <summary>
    /// Waits until every woken thread has left its sleep and at least <paramref name="expectedBlocked"/>
    /// threads sleep again (the fleet is idle), or until <paramref name="timeout"/> of real time. False on timeout.
    /// </summary>
    public bool WaitUntilQuiet(int expectedBlocked, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            lock (_sync)
            {
                if (_due == 0 && _blocked >= expectedBlocked) return true;
                if (_shutdown) return false;
                _expected = expectedBlocked;
                _quiet.Reset();
            }

            long left = deadline - Environment.TickCount64;
            if (left <= 0 || !_quiet.Wait((int)left)) return false;
        }
    }

    // Called under the lock.
    private void SignalIfQuiet()
    {
        if (_due == 0 && _blocked >= _expected) _quiet.Set();
    }

    /// <summary>Ends the simulation: every sleeper (and every later sleep) gets an <see cref="OperationCanceledException"/>.</summary>
    public void Shutdown()
    {
        List<Sleeper> sleepers;
        lock (_sync)
        {
            _shutdown = true;
            sleepers = [.. _queue.UnorderedItems.Select(i => i.Element)];
            _queue.Clear();
            _quiet.Set();
        }

        foreach (var sleeper in sleepers) sleeper.Wake.Set();
    }

    /// <summary>One thread's sleep; reused by the thread for each of its sleeps.</summary>
    private sealed class Sleeper
    {
        public readonly ManualResetEventSlim Wake = new(false, spinCount: 1);
        public long Until;
        public bool Woken;

        public void Arm(long until)
        {
            Until = until;
            Woken = false;
            Wake.Reset();
        }
    }
}
