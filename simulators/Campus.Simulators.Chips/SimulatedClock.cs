using Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>
/// The firmware clock driven by simulation time. With <c>autoAdvance</c> a <see cref="Sleep"/> moves
/// time forward itself (single-threaded tests); otherwise sleeping threads wait until the simulation
/// calls <see cref="Advance"/> far enough. <see cref="Shutdown"/> releases every sleeper with
/// <see cref="OperationCanceledException"/> so firmware threads end with the simulation.
/// </summary>
public sealed class SimulatedClock : Clock
{
    private readonly object _sync = new();
    private readonly DateTime _startUtc;
    private long _elapsedTicks;
    private bool _timeSet;
    private bool _shutdown;
    private int _sleepers;

    public SimulatedClock(DateTime startUtc, bool autoAdvance = false, bool timeSet = true)
    {
        if (startUtc.Kind != DateTimeKind.Utc)
        {
            throw new ArgumentException("The simulated clock starts at a UTC time.", nameof(startUtc));
        }

        _startUtc = startUtc;
        AutoAdvance = autoAdvance;
        _timeSet = timeSet;
    }

    public bool AutoAdvance { get; }

    public override DateTime UtcNow
    {
        get
        {
            lock (_sync)
            {
                return _startUtc.AddTicks(_elapsedTicks);
            }
        }
    }

    public override bool IsTimeSet
    {
        get
        {
            lock (_sync)
            {
                return _timeSet;
            }
        }
    }

    public override long TickCountMs
    {
        get
        {
            lock (_sync)
            {
                return _elapsedTicks / TimeSpan.TicksPerMillisecond;
            }
        }
    }

    /// <summary>Simulation time since start.</summary>
    public TimeSpan Elapsed
    {
        get
        {
            lock (_sync)
            {
                return TimeSpan.FromTicks(_elapsedTicks);
            }
        }
    }

    /// <summary>Threads currently blocked in <see cref="Sleep"/>.</summary>
    public int Sleepers
    {
        get
        {
            lock (_sync)
            {
                return _sleepers;
            }
        }
    }

    /// <summary>Marks the wall clock as set or not (SNTP answered / lost).</summary>
    public void SetTimeSet(bool value)
    {
        lock (_sync)
        {
            _timeSet = value;
        }
    }

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        lock (_sync)
        {
            _elapsedTicks += by.Ticks;
            Monitor.PulseAll(_sync);
        }
    }

    public override void Sleep(int milliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds);
        if (AutoAdvance)
        {
            Advance(TimeSpan.FromMilliseconds(milliseconds));
            return;
        }

        lock (_sync)
        {
            long until = _elapsedTicks + (milliseconds * TimeSpan.TicksPerMillisecond);
            _sleepers++;
            try
            {
                while (_elapsedTicks < until)
                {
                    if (_shutdown)
                    {
                        throw new OperationCanceledException("The simulated clock was shut down.");
                    }

                    Monitor.Wait(_sync);
                }
            }
            finally
            {
                _sleepers--;
            }
        }
    }

    /// <summary>Wakes every sleeper with <see cref="OperationCanceledException"/>; later sleeps throw at once.</summary>
    public void Shutdown()
    {
        lock (_sync)
        {
            _shutdown = true;
            Monitor.PulseAll(_sync);
        }
    }
}
