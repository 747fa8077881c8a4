using Campus.Dashboard.Developer;
using Campus.Simulators;
using Campus.Simulators.District;
using Campus.Simulators.Scenarios;

namespace Campus.GrainHost.Demo;

/// <summary>
/// Runs the simulators' scripted scenarios (<see cref="ScenarioCatalog"/>) on the district this host
/// simulates in demo mode: the chosen room's devices are the scenario's, its first step happens
/// now and the others follow at the script's intervals of simulated time, through the running
/// simulation's scenario hooks. Registered only with --demo (<see cref="DemoModeExtensions"/>).
/// </summary>
internal sealed partial class DemoScenarioRunner(TimeProvider time, ILogger<DemoScenarioRunner> logger) : IScenarioRunner, IAsyncDisposable
{
    private const int KeptRuns = 20;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Scenarios whose steps need what only a simulation started for that scenario has (the day
    /// model's load overrides, switchable network links); they run with the simulators' own
    /// scenario command instead.
    /// </summary>
    private static readonly Dictionary<string, string> NotOnRunningDistrict = new(StringComparer.Ordinal)
    {
        ["energy-waste"] = "Needs the day model's load override, which a running district does not offer; run it with the simulators' scenario command.",
        ["power-spike"] = "Needs the day model's load override, which a running district does not offer; run it with the simulators' scenario command.",
        ["room-network-outage"] = "Needs the room's switchable network link, made only when a simulation starts for this scenario; run it with the simulators' scenario command.",
        ["device-offline"] = "Needs the device's switchable network link for its power cut, made only when a simulation starts for this scenario; run it with the simulators' scenario command.",
    };

    private static readonly Dictionary<string, (string Title, string Description)> Texts = new(StringComparer.Ordinal)
    {
        ["night-break-in"] = ("Night break-in", "A classroom door is forced open for 20 s: the reader reports it, the controller raises a door-forced alert."),
        ["door-held-open"] = ("Door held open", "Someone leaves through the exit button and the door stays open 150 s: pre-alarm, then alarm."),
        ["cloned-card-replay"] = ("Cloned card replayed", "A security guard's card is tapped; 5 minutes later the captured access event is published again with the door's credentials: the controller takes the byte-identical copy for a redelivery and logs the entry once."),
        ["meter-failure"] = ("Meter failure", "The room's energy meter stops answering, then answers with bad checksums: readings without power."),
        ["device-offline"] = ("Device offline", "The room's environment node loses power (last will), then boots again."),
        ["energy-waste"] = ("Energy waste after hours", "Lights are left on in the empty room after hours."),
        ["power-spike"] = ("Power spike", "A 9 kW load appears in the room for 3 minutes."),
        ["room-network-outage"] = ("Network outage", "The room's network fails for 5 minutes; its devices deliver what they measured when it returns."),
    };

    private readonly Lock _lock = new();
    private readonly TimeProvider _time = time;
    private readonly List<Run> _runs = [];
    private readonly CancellationTokenSource _stopping = new();
    private DistrictSimulation? _simulation;
    private int _next;

    public event Action<ScenarioRunView>? RunChanged;

    /// <summary>The running district (set once the demo district has started).</summary>
    public void Attach(DistrictSimulation simulation) => Volatile.Write(ref _simulation, simulation);

    public IReadOnlyList<ScenarioInfo> Scenarios =>
        [.. ScenarioCatalog.Names.Select(n => new ScenarioInfo(n, Texts.GetValueOrDefault(n).Title ?? n, Texts.GetValueOrDefault(n).Description ?? "", NotOnRunningDistrict.GetValueOrDefault(n)))];

    public IReadOnlyList<ScenarioTarget> Targets(string scenario)
    {
        var sim = Volatile.Read(ref _simulation);
        if (sim is null || !ScenarioCatalog.Names.Contains(scenario)) return [];
        var targets = new List<ScenarioTarget>();
        foreach (var school in sim.District.Schools)
        {
            foreach (var room in school.Rooms)
            {
                if (PlanFor(sim.District, scenario, school, room) is not null) targets.Add(new ScenarioTarget(school.Id, school.Name, room.Id, room.Name));
            }
        }
        return targets;
    }

    public IReadOnlyList<ScenarioRunView> Runs
    {
        get
        {
            lock (_lock) return [.. _runs.AsEnumerable().Reverse().Select(r => r.View())];
        }
    }

    public Task<ScenarioRunView> StartAsync(string scenario, string school, string room, string startedBy, CancellationToken cancellationToken = default)
    {
        var sim = Volatile.Read(ref _simulation) ?? throw new InvalidOperationException("The demo district is still starting; try again in a few seconds.");
        if (!ScenarioCatalog.Names.Contains(scenario)) throw new ArgumentException($"Unknown scenario '{scenario}'; scenarios: {string.Join(", ", ScenarioCatalog.Names)}.", nameof(scenario));
        if (NotOnRunningDistrict.TryGetValue(scenario, out var why)) throw new ArgumentException($"Scenario '{scenario}' cannot run on the running district: {why}", nameof(scenario));
        var schoolModel = sim.District.Schools.FirstOrDefault(s => s.Id == school) ?? throw new ArgumentException($"School '{school}' is not in the demo district.", nameof(school));
        var roomModel = schoolModel.Rooms.FirstOrDefault(r => r.Id == room) ?? throw new ArgumentException($"Room '{room}' is not in school '{school}'.", nameof(room));
        var plan = PlanFor(sim.District, scenario, schoolModel, roomModel)
            ?? throw new ArgumentException($"Scenario '{scenario}' needs a classroom with a door, a mains energy meter and an environment node; {school}/{room} is not one.", nameof(room));

        // The script's local times become offsets from its first step, which happens now.
        var date = sim.District.Date.ToDateTime(TimeOnly.MinValue);
        DateTime Utc(TimeOnly local) => TimeZoneInfo.ConvertTimeToUtc(date + local.ToTimeSpan(), schoolModel.TimeZone);
        var first = plan.Steps.Min(s => Utc(s.AtLocal));
        var steps = plan.Steps.OrderBy(s => s.AtLocal).Select(s => new StepState(s, Utc(s.AtLocal) - first)).ToList();
        var tail = plan.StartUtc + plan.Duration - first;
        Run run;
        lock (_lock)
        {
            run = new Run(this, (++_next).ToString(System.Globalization.CultureInfo.InvariantCulture), scenario, school, room, startedBy, _time.GetUtcNow(), steps,
                [.. plan.Expected.Select(e => $"{e.Device} {e.Stream}: {e.Description}")]);
            _runs.Add(run);
            if (_runs.Count > KeptRuns) _runs.RemoveAt(0);
        }
        LogStarted(logger, scenario, school, room, startedBy, run.Id);
        run.Task = Task.Run(() => DriveAsync(sim, run, tail, _stopping.Token), CancellationToken.None);
        Changed(run);
        return Task.FromResult(run.View());
    }

    /// <summary>The scenario's plan with the chosen room's devices, or null when the room cannot host it.</summary>
    private static ScenarioPlan? PlanFor(DistrictModel district, string scenario, SchoolModel school, RoomModel room)
    {
        if (room.Kind != RoomKind.Classroom) return null;
        bool Has(string kind) => school.Devices.Any(d => d.Room == room.Id && d.Kind == kind && (kind != "energy" || d.Meter == "pzem"));
        if (!Has("door") || !Has("energy") || (scenario == "device-offline" && !Has("env"))) return null;
        // The catalog picks the first suitable classroom of the first school: put this one first.
        var narrowed = district with { Schools = [school with { Buildings = [new BuildingModel("scenario", "", [room]), .. school.Buildings] }] };
        try
        {
            return ScenarioCatalog.Plan(scenario, narrowed);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // e.g. no security guard with a card in this school for the cloned-card scenario.
            return null;
        }
    }

    private async Task DriveAsync(DistrictSimulation sim, Run run, TimeSpan tail, CancellationToken cancellationToken)
    {
        var start = sim.SimulatedUtc;
        try
        {
            foreach (var step in run.Steps)
            {
                await WaitForAsync(sim, start + step.Offset, cancellationToken).ConfigureAwait(false);
                try
                {
                    step.Step.Apply(sim);
                    lock (_lock) step.DoneAt = sim.SimulatedUtc;
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    lock (_lock) step.Error = ex.Message;
                    throw;
                }
                finally
                {
                    Changed(run);
                }
            }
            await WaitForAsync(sim, start + tail, cancellationToken).ConfigureAwait(false);
            run.Finish(ScenarioRunState.Completed, null);
        }
        catch (OperationCanceledException)
        {
            run.Finish(ScenarioRunState.Failed, "The host stopped before the scenario ended.");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Shown on the page and logged: a step the simulation refused, or the district stopped.
            run.Finish(ScenarioRunState.Failed, ex.Message);
            LogFailed(logger, run.Scenario, run.Id, ex.Message);
        }
        Changed(run);
    }

    /// <summary>Waits until the district's simulated clock reaches <paramref name="at"/>.</summary>
    private static async Task WaitForAsync(DistrictSimulation sim, DateTime at, CancellationToken cancellationToken)
    {
        while (sim.SimulatedUtc < at)
        {
            if (sim.Completion.IsCompleted) throw new InvalidOperationException("The simulated district stopped.");
            await Task.Delay(Tick, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Changed(Run run)
    {
        var view = run.View();
        try
        {
            RunChanged?.Invoke(view);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogListenerFailed(logger, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] tasks;
        lock (_lock) tasks = [.. _runs.Select(r => r.Task).OfType<Task>()];
        await Task.WhenAll(tasks).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private sealed class StepState(ScenarioStep step, TimeSpan offset)
    {
        public ScenarioStep Step { get; } = step;
        public TimeSpan Offset { get; } = offset;
        public DateTime? DoneAt { get; set; }
        public string? Error { get; set; }
    }

    private sealed class Run(DemoScenarioRunner owner, string id, string scenario, string school, string room, string by, DateTimeOffset startedAt, List<StepState> steps, IReadOnlyList<string> expected)
    {
        private ScenarioRunState _state;
        private DateTimeOffset? _finishedAt;
        private string? _error;

        public string Id => id;
        public string Scenario => scenario;
        public List<StepState> Steps => steps;
        public Task? Task { get; set; }

        public void Finish(ScenarioRunState state, string? error)
        {
            lock (owner._lock)
            {
                _state = state;
                _error = error;
                _finishedAt = owner._time.GetUtcNow();
            }
        }

        public ScenarioRunView View()
        {
            lock (owner._lock)
            {
                return new ScenarioRunView(id, scenario, school, room, by, startedAt, _state,
                    [.. steps.Select(s => new ScenarioStepView(s.Step.Description, s.Offset, s.DoneAt, s.Error))], expected, _finishedAt, _error);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scenario {Scenario} started in {School}/{Room} by {User} (run {Run})")]
    private static partial void LogStarted(ILogger logger, string scenario, string school, string room, string user, string run);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scenario {Scenario} (run {Run}) failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string scenario, string run, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A scenario run listener failed: {Reason}")]
    private static partial void LogListenerFailed(ILogger logger, string reason);
}
