namespace Campus.Grains;

/// <summary>
/// A call or activation met a runtime that is not running (not started yet, or stopping): nothing about the call
/// itself was wrong, and it may succeed against a runtime that runs.
/// </summary>
public sealed class GrainRuntimeStoppedException : InvalidOperationException
{
    public GrainRuntimeStoppedException(string message) : base(message) { }

    public GrainRuntimeStoppedException() : this("The grain runtime is not running.") { }

    public GrainRuntimeStoppedException(string message, Exception inner) : base(message, inner) { }
}
