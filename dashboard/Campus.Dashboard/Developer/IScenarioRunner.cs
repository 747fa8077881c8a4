namespace Campus.Dashboard.Developer;

/// <summary>
/// Runs the simulators' scripted scenarios on the district the host simulates (demo mode). The
/// host registers one only in demo mode; without it the developer page, its link and its API
/// do not exist (404 for everyone).
/// </summary>
public interface IScenarioRunner
{
    /// <summary>Every scripted scenario, and whether it can run on the running district.</summary>
    IReadOnlyList<ScenarioInfo> Scenarios { get; }

    /// <summary>The rooms (with their school) a scenario can run in; empty for an unknown scenario.</summary>
    IReadOnlyList<ScenarioTarget> Targets(string scenario);

    /// <summary>
    /// Starts a scenario in a room now, in the running district's time; its steps follow at the
    /// script's intervals. Throws <see cref="ArgumentException"/> for an unknown scenario or a room it
    /// cannot run in, and <see cref="InvalidOperationException"/> when the district is not running.
    /// </summary>
    Task<ScenarioRunView> StartAsync(string scenario, string school, string room, string startedBy, CancellationToken cancellationToken = default);

    /// <summary>Runs of this host, newest first (a bounded number are kept).</summary>
    IReadOnlyList<ScenarioRunView> Runs { get; }

    /// <summary>Raised (on any thread) when a run starts, takes a step or ends.</summary>
    event Action<ScenarioRunView>? RunChanged;
}

/// <summary>A scripted scenario: <paramref name="Unavailable"/> says why it cannot run here, or is null.</summary>
public sealed record ScenarioInfo(string Name, string Title, string Description, string? Unavailable)
{
    public bool Available => Unavailable is null;
}

public sealed record ScenarioTarget(string School, string SchoolName, string Room, string RoomName)
{
    /// <summary>"school/room", the value of the page's room choice.</summary>
    public string Key => School + "/" + Room;
}

public enum ScenarioRunState
{
    Running,
    Completed,
    Failed,
}

/// <summary>One scripted step: <paramref name="Offset"/> is simulated time after the run's start.</summary>
public sealed record ScenarioStepView(string Description, TimeSpan Offset, DateTime? DoneAtSimulatedUtc, string? Error);

/// <summary>A scenario run and its progress.</summary>
public sealed record ScenarioRunView(
    string Id,
    string Scenario,
    string School,
    string Room,
    string StartedBy,
    DateTimeOffset StartedAt,
    ScenarioRunState State,
    IReadOnlyList<ScenarioStepView> Steps,
    IReadOnlyList<string> Expected,
    DateTimeOffset? FinishedAt,
    string? Error)
{
    public int StepsDone => Steps.Count(s => s.DoneAtSimulatedUtc is not null);
}
