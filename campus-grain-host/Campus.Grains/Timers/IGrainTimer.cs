namespace Campus.Grains;

/// <summary>A grain timer; dispose it to stop it.</summary>
public interface IGrainTimer : IDisposable
{
    /// <summary>Changes when the timer next fires and its period (<see cref="Timeout.InfiniteTimeSpan"/>: once).</summary>
    void Change(TimeSpan dueTime, TimeSpan period);
}

/// <summary>When a grain timer fires and how its ticks are scheduled.</summary>
public readonly record struct GrainTimerCreationOptions(TimeSpan DueTime, TimeSpan Period)
{
    /// <summary>Ticks may interleave with calls at await points (default false: a tick is a full turn).</summary>
    public bool Interleave { get; init; }

    /// <summary>Ticks count as activity, keeping the grain from idle collection (default false).</summary>
    public bool KeepAlive { get; init; }
}

