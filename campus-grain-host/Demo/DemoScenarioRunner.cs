using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Dashboard.Developer;
using Campus.Grains;
using Campus.Simulators;
using Campus.Simulators.District;
using Campus.Simulators.Scenarios;

namespace Campus.GrainHost.Demo;

/// <summary>
/// Runs the simulators' scripted scenarios (<see cref="ScenarioCatalog"/>) on the district this host
/// simulates in demo mode: the chosen room's devices are the scenario's, its first step happens
/// now and the others follow at the script's intervals of simulated time. Each step is queued on
/// the running simulation (<see cref="DistrictSimulation.Queue"/>) and applied on its own thread
/// between two steps, in the chosen room's school. Registered only with --demo (<see cref="DemoModeExtensions"/>).
/// </summary>
/// <remarks>
/// The controller judges "after hours" by its own clock (this machine's time in the school's zone),
/// not by the simulated one. When that clock says the school is open, "energy waste after hours"
/// suspends the school's opening hours in the registry for its run (audited as by "demo-scenario")
/// and puts them back when the lights go off, so that the controller raises its after-hours-energy alert.
/// </remarks>
internal sealed partial class DemoScenarioRunner(TimeProvider time, IGrainFactory grains, ILogger<DemoScenarioRunner> logger) : IScenarioRunner, IAsyncDisposable
{
    private const int KeptRuns = 20;
    private const string By = "demo-scenario";
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    private static readonly Dictionary<string, (string Title, string Description)> Texts = new(StringComparer.Ordinal)
    {
        ["night-break-in"] = ("Night break-in", "A classroom door is forced open for 20 s: the reader reports it, the controller raises a door-forced alert."),
        ["door-held-open"] = ("Door held open", "Someone leaves through the exit button and the door stays open 150 s: pre-alarm, then alarm."),
        ["cloned-card-replay"] = ("Cloned card replayed", "A security guard's card is tapped; 5 minutes later the captured access event is published again with the door's credentials: a byte-identical copy sent without the MQTT redelivery flag is a replay, so the controller raises a replayed-access-event alert and counts the entry once."),
        ["meter-failure"] = ("Meter failure", "The room's energy meter stops answering, then answers with bad checksums: readings without power."),
        ["device-offline"] = ("Device offline", "The room's environment node loses power (last will: a device-offline alert), then boots again (the alert resolves)."),
        ["energy-waste"] = ("Energy waste after hours", "The room empties and its lights stay on for 4 h: after 30 simulated minutes the controller raises an after-hours-energy alert. "
            + "The controller judges \"after hours\" by its own clock: while that says the school is open, the run suspends the school's opening hours until the lights go off."),
        ["power-spike"] = ("Power spike", "A 9 kW load appears in the room for 3 minutes: the room's live power jumps above 9 kW, and once it has stayed "
            + "far above the room's usual power for this hour of the week for a simulated minute, the controller raises a consumption-spike alert "
            + "(the usual power comes from the weeks of hourly energy history the demo gives its rooms on a new data folder)."),
        ["room-network-outage"] = ("Network outage", "The room's network fails for 5 minutes: each of its devices goes offline (device-offline alerts), then delivers what it measured when it returns."),
    };

    private readonly Lock _lock = new();
    private readonly TimeProvider _time = time;
    private readonly List<Run> _runs = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _hoursGate = new(1, 1);
    private readonly Dictionary<string, (WeeklySchedule Hours, int Runs)> _suspendedHours = new(StringComparer.Ordinal);
    private DistrictSimulation? _simulation;
    private int _next;

    public event Action<ScenarioRunView>? RunChanged;

    /// <summary>The running district (set once the demo district has started).</summary>
    public void Attach(DistrictSimulation simulation) => Volatile.Write(ref _simulation, simulation);

    public IReadOnlyList<ScenarioInfo> Scenarios =>
        [.. ScenarioCatalog.Names.Select(n => new ScenarioInfo(n, Texts.GetValueOrDefault(n).Title ?? n, Texts.GetValueOrDefault(n).Description ?? "", null))];

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
        var schoolModel = sim.District.Schools.FirstOrDefault(s => s.Id == school) ?? throw new ArgumentException($"School '{school}' is not in the demo district.", nameof(school));
        var roomModel = schoolModel.Rooms.FirstOrDefault(r => r.Id == room) ?? throw new ArgumentException($"Room '{room}' is not in school '{school}'.", nameof(room));
        var plan = PlanFor(sim.District, scenario, schoolModel, roomModel)
            ?? throw new ArgumentException($"Scenario '{scenario}' needs a classroom with a door, a mains energy meter and an environment node; {school}/{room} is not one.", nameof(room));

        // The script's local times become offsets from its first step, which happens now.
        var offsets = DistrictSimulation.ScenarioOffsets(plan, sim.District);
        var steps = plan.Steps.Select((s, i) => new StepState(s.Description, offsets[i], s.Apply)).OrderBy(s => s.Offset).ToList();
        var first = TimeZoneInfo.ConvertTimeToUtc(sim.District.Date.ToDateTime(plan.Steps.Min(s => s.AtLocal)), schoolModel.TimeZone);
        var tail = plan.StartUtc + plan.Duration - first;
        if (steps.Count > 0 && steps[^1].Offset + plan.Lingers > tail) tail = steps[^1].Offset + plan.Lingers;
        var afterHours = scenario == "energy-waste";
        if (afterHours)
        {
            // Done by this runner on the controller, before the simulated steps; undone when the run ends.
            steps.Insert(0, new StepState("the school closes on the controller's clock (its opening hours are suspended until the lights go off, unless it is after hours there already)", TimeSpan.Zero, null));
        }
        Run run;
        lock (_lock)
        {
            run = new Run(this, (++_next).ToString(System.Globalization.CultureInfo.InvariantCulture), scenario, school, room, startedBy, _time.GetUtcNow(), steps,
                [.. plan.Expected.Select(e => $"{e.Device} {e.Stream}: {e.Description}"), .. ControllerAlerts(scenario, school, room, sim.District)]);
            _runs.Add(run);
            if (_runs.Count > KeptRuns) _runs.RemoveAt(0);
        }
        LogStarted(logger, scenario, school, room, startedBy, run.Id);
        run.Task = Task.Run(() => DriveAsync(sim, run, school, afterHours, tail, _stopping.Token), CancellationToken.None);
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

    /// <summary>What the controller shows for a scenario on the live demo, beyond the device messages.</summary>
    private static IEnumerable<string> ControllerAlerts(string scenario, string school, string room, DistrictModel district)
    {
        var devices = district.School(school).Devices.Where(d => d.Room == room).ToList();
        return scenario switch
        {
            "night-break-in" => [$"controller: door-forced alert in {room}"],
            "door-held-open" => [$"controller: door-held-open alert in {room} (pre-alarm, then alarm; resolved when the door closes)"],
            "cloned-card-replay" => [$"controller: replayed-access-event alert in {room}; the entry counted once"],
            "meter-failure" => [$"controller: readings of {devices.FirstOrDefault(d => d.Kind == "energy" && d.Meter == "pzem")?.Id} without power"],
            "device-offline" => [$"controller: device-offline alert for {devices.First(d => d.Kind == "env").Id}, resolved when it is back"],
            "room-network-outage" => [$"controller: device-offline alerts for {string.Join(", ", devices.Select(d => d.Id))}, resolved when the network returns"],
            "energy-waste" => [$"controller: after-hours-energy alert in {room}"],
            "power-spike" => [$"controller: the live power of {room} above 9 kW for 3 minutes; a consumption-spike alert in {room} after a minute of it"],
            _ => [],
        };
    }

    private async Task DriveAsync(DistrictSimulation sim, Run run, string school, bool afterHours, TimeSpan tail, CancellationToken cancellationToken)
    {
        var start = sim.SimulatedUtc;
        var closed = false;
        try
        {
            foreach (var step in run.Steps)
            {
                try
                {
                    DateTime done;
                    if (step.Apply is null)
                    {
                        closed = await CloseSchoolAsync(school).ConfigureAwait(false);
                        done = sim.SimulatedUtc;
                    }
                    else
                    {
                        // Applied by the simulation between two of its steps, at the script's interval from the start.
                        done = await sim.Queue(school, step.Apply, start + step.Offset).WaitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    lock (_lock) step.DoneAt = done;
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
        finally
        {
            if (closed) await ReopenSchoolAsync(school).ConfigureAwait(false);
        }
        Changed(run);
    }

    /// <summary>
    /// Suspends the school's opening hours in the registry when the controller's clock says it is open
    /// (runs overlapping in one school share one suspension). True when this run must reopen it.
    /// </summary>
    private async Task<bool> CloseSchoolAsync(string school)
    {
        var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey);
        await _hoursGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_suspendedHours.TryGetValue(school, out var suspended))
            {
                _suspendedHours[school] = suspended with { Runs = suspended.Runs + 1 };
                return true;
            }
            var spec = (await registry.ListSchools().ConfigureAwait(false)).FirstOrDefault(s => s.Id == school)
                ?? throw new InvalidOperationException($"School '{school}' is not registered with the controller.");
            var zone = TimeZoneInfo.FindSystemTimeZoneById(spec.TimeZoneId);
            var now = _time.GetUtcNow();
            if (!spec.OpeningHours.Contains(now, zone)) return false;
            await registry.UpsertSchool(spec with { OpeningHours = new WeeklySchedule([]) }, By).ConfigureAwait(false);
            _suspendedHours[school] = (spec.OpeningHours, 1);
            LogHoursSuspended(logger, school, TimeZoneInfo.ConvertTime(now, zone).ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture));
            return true;
        }
        finally
        {
            _hoursGate.Release();
        }
    }

    /// <summary>Puts the school's opening hours back when the last run that suspended them ends.</summary>
    private async Task ReopenSchoolAsync(string school)
    {
        var registry = grains.GetGrain<IRegistryGrain>(IRegistryGrain.RegistryKey);
        await _hoursGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_suspendedHours.TryGetValue(school, out var suspended)) return;
            if (suspended.Runs > 1)
            {
                _suspendedHours[school] = suspended with { Runs = suspended.Runs - 1 };
                return;
            }
            _suspendedHours.Remove(school);
            // Only the hours: anything else an admin changed meanwhile stays.
            var spec = (await registry.ListSchools().ConfigureAwait(false)).FirstOrDefault(s => s.Id == school);
            if (spec is not null) await registry.UpsertSchool(spec with { OpeningHours = suspended.Hours }, By).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The demo provisions the school again from the district file at its next start.
            LogReopenFailed(logger, school, ex.Message);
        }
        finally
        {
            _hoursGate.Release();
        }
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
        _hoursGate.Dispose();
    }

    /// <summary>One step of a run: a simulation action (<see cref="Apply"/>) or, when null, the runner's own on the controller.</summary>
    private sealed class StepState(string description, TimeSpan offset, Action<IScenarioActions>? apply)
    {
        public string Description { get; } = description;
        public TimeSpan Offset { get; } = offset;
        public Action<IScenarioActions>? Apply { get; } = apply;
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
                    [.. steps.Select(s => new ScenarioStepView(s.Description, s.Offset, s.DoneAt, s.Error))], expected, _finishedAt, _error);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scenario {Scenario} started in {School}/{Room} by {User} (run {Run})")]
    private static partial void LogStarted(ILogger logger, string scenario, string school, string room, string user, string run);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scenario {Scenario} (run {Run}) failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string scenario, string run, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Opening hours of school {School} suspended for an energy-waste run (the controller's clock says {Local} there, open)")]
    private static partial void LogHoursSuspended(ILogger logger, string school, string local);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Opening hours of school {School} could not be put back: {Reason}")]
    private static partial void LogReopenFailed(ILogger logger, string school, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A scenario run listener failed: {Reason}")]
    private static partial void LogListenerFailed(ILogger logger, string reason);
}
