using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Campus.Mqtt;
using Campus.Simulators.Chips;
using Campus.Simulators.Day;
using Campus.Simulators.District;
using Campus.Simulators.Fleet;
using Campus.Simulators.Scenarios;

namespace Campus.Simulators;

/// <summary>How a district simulation runs.</summary>
public sealed record SimulationOptions
{
    public string BrokerHost { get; init; } = "127.0.0.1";
    public int BrokerPort { get; init; } = 1883;

    /// <summary>Simulated seconds per real second (60 = a simulated minute per second); 0 = as fast as the machine goes.</summary>
    public double Speed { get; init; } = 60;

    public int Seed { get; init; } = 1;

    /// <summary>Start of the simulated time; default 06:30 local time of the first school on the district's date, or the scenario's start.</summary>
    public DateTime? StartUtc { get; init; }

    /// <summary>Simulated time to run; null = until stopped (or the scenario's length).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>A scenario of <see cref="ScenarioCatalog"/>, or null.</summary>
    public string? Scenario { get; init; }

    /// <summary>
    /// More scenarios of <see cref="ScenarioCatalog"/> in the same run (after <see cref="Scenario"/>);
    /// their steps happen at their local times, so a run over a whole day plays all of them.
    /// </summary>
    public IReadOnlyList<string>? Scenarios { get; init; }

    /// <summary>
    /// Called on the simulation's thread with the new simulated time just before the fleet's clock
    /// moves there, e.g. to advance a controller's fake <see cref="TimeProvider"/> in lock-step.
    /// Every device message of the previous step has been acknowledged by then.
    /// </summary>
    public Action<DateTime>? TimeAdvancing { get; init; }

    /// <summary>Device id -> secrets issued by the controller; null = anonymous broker (keys derived from the seed).</summary>
    public IReadOnlyDictionary<string, DeviceSecret>? Credentials { get; init; }

    /// <summary>Simulated time per lock-step; null = chosen from the speed (100 ms to 2 s).</summary>
    public TimeSpan? Step { get; init; }

    /// <summary>
    /// A longer step for quiet times (null = always <see cref="Step"/>): used when no card tap is near, no
    /// scenario step happened in the last 15 minutes or comes within a minute, and no door is in use.
    /// Firmware then samples less often; meters integrate exactly as long as it divides a minute.
    /// </summary>
    public TimeSpan? IdleStep { get; init; }

    /// <summary>
    /// The boot counter the simulated devices find in their flash (0: factory-new). Each device
    /// counts one boot up from it, so a run started from a higher base is a new epoch of sequence
    /// numbers to the controller and is not taken for a redelivery of an earlier run's messages.
    /// </summary>
    public uint BootBase { get; init; }

    /// <summary>
    /// Publish the retained commands a controller would (maker kit configuration, class sign timetables,
    /// door allow-lists) as a stand-in when running against a bare broker. Needs an anonymous broker.
    /// </summary>
    public bool StandInController { get; init; }

    /// <summary>Only these schools (null = all).</summary>
    public IReadOnlyCollection<string>? Schools { get; init; }

    /// <summary>
    /// Give every device its own switchable network link (a loopback relay to the broker) so that
    /// scenario actions queued on the running simulation (<see cref="DistrictSimulation.QueueScenario"/>)
    /// can cut any device's or room's network, as a simulation started for a scenario does for the
    /// scenario's devices. One relay per device; off by default.
    /// </summary>
    public bool SwitchableNetwork { get; init; }

    /// <summary>Longest real wait for the fleet to go idle after a step.</summary>
    public TimeSpan QuietTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest real wait for every device to connect before time starts.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>A snapshot of a running simulation, for progress displays.</summary>
public sealed record SimulationStats(
    DateTime SimulatedUtc,
    TimeSpan SimulatedElapsed,
    TimeSpan RealElapsed,
    int Devices,
    int Connected,
    long Published,
    long Acknowledged,
    long CommandsReceived,
    int TapsDone,
    int TapsMissed,
    int LateSteps,
    IReadOnlyList<string> ScenarioLog)
{
    public double AchievedSpeed => RealElapsed.TotalSeconds > 0 ? SimulatedElapsed.TotalSeconds / RealElapsed.TotalSeconds : 0;

    public double MessagesPerSecond => RealElapsed.TotalSeconds > 0 ? Published / RealElapsed.TotalSeconds : 0;
}

/// <summary>
/// A simulated district with the real firmware on every device: start it with
/// <see cref="StartAsync"/>, watch <see cref="Stats"/>, await <see cref="Completion"/> or stop it.
/// One lock-step clock drives all devices; the day model sets their physical inputs each step.
/// </summary>
public sealed class DistrictSimulation : IAsyncDisposable, IScenarioActions
{
    private readonly DistrictModel _district;
    private readonly SimulationOptions _options;
    private readonly DayModel _day;
    private readonly LockstepClock _clock;
    private readonly FleetNetwork _network;
    private readonly Dictionary<string, SimulatedDevice> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SwitchableLink> _roomLinks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SwitchableLink> _deviceLinks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task> _stopping = new(StringComparer.Ordinal);
    private readonly List<string> _log = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _real = new();
    private readonly DateTime _startUtc;
    private readonly TimeSpan _step;
    private readonly ScenarioPlan? _plan;
    private readonly List<ScenarioPlan> _plans = [];
    private readonly Lock _queueLock = new();
    private readonly List<QueuedAction> _queue = [];
    private readonly HashSet<string> _poweredOff = new(StringComparer.Ordinal);
    private readonly HashSet<(string School, string Room)> _cutRooms = [];
    private long _queued;
    private bool _queueClosed;
    private List<SimulatedDevice> _ordered = [];
    private string _stepSchool = "";
    private Thread? _driver;
    private int _lateSteps;

    /// <summary>Simulated time before the start in which the devices boot and connect.</summary>
    public static readonly TimeSpan BootMargin = TimeSpan.FromSeconds(30);

    private DistrictSimulation(DistrictModel district, SimulationOptions options)
    {
        _district = options.Schools is null ? district : district with
        {
            Schools = [.. district.Schools.Where(s => options.Schools.Contains(s.Id))],
            People = [.. district.People.Where(p => options.Schools.Contains(p.School))],
        };
        _options = options;
        _day = new DayModel(_district, options.Seed);
        foreach (var name in (options.Scenario is null ? [] : new[] { options.Scenario }).Concat(options.Scenarios ?? []))
        {
            _plans.Add(ScenarioCatalog.Plan(name, _district));
        }

        _plan = _plans.FirstOrDefault();
        _startUtc = options.StartUtc ?? _plan?.StartUtc ?? DefaultStartUtc(_district);
        _clock = new LockstepClock(_startUtc - BootMargin);
        _network = new FleetNetwork(options.BrokerHost, options.BrokerPort);
        _step = options.Step ?? TimeSpan.FromMilliseconds(Math.Clamp(Math.Round(options.Speed * 16 / 100) * 100, 100, 2000));
        if (options.Speed <= 0 && options.Step is null) _step = TimeSpan.FromSeconds(1);
        Duration = options.Duration ?? _plan?.Duration;
    }

    public DistrictModel District => _district;

    /// <summary>The day model the devices follow (with the scenarios' load overrides).</summary>
    internal DayModel Day => _day;

    /// <summary>The (first) scenario being run, with what it must cause.</summary>
    public ScenarioPlan? Scenario => _plan;

    /// <summary>Every scenario being run.</summary>
    public IReadOnlyList<ScenarioPlan> Scenarios => _plans;

    public DateTime StartUtc => _startUtc;

    public TimeSpan Step => _step;

    public TimeSpan? Duration { get; }

    /// <summary>Completes when the simulated duration has passed or the simulation was stopped.</summary>
    public Task Completion => _completion.Task;

    public DateTime SimulatedUtc => _clock.UtcNow;

    public static async Task<DistrictSimulation> StartAsync(DistrictModel district, SimulationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(district);
        ArgumentNullException.ThrowIfNull(options);
        var simulation = new DistrictSimulation(district, options);
        try
        {
            await simulation.StartCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await simulation.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return simulation;
    }

    /// <summary>The same secrets a run without a credentials file uses (HMAC key derived from the seed).</summary>
    public static DeviceSecret DefaultSecret(string deviceId, int seed) =>
        new(deviceId, "", HMACSHA256.HashData(Encoding.UTF8.GetBytes("campus-sim-" + seed.ToString(CultureInfo.InvariantCulture)), Encoding.UTF8.GetBytes(deviceId)));

    public SimulationStats Stats
    {
        get
        {
            int done = 0, missed = 0, connected = 0;
            foreach (var d in _devices.Values)
            {
                done += d.TapsDone;
                missed += d.TapsMissed;
                if (d.Runtime.IsConnected) connected++;
            }

            string[] log;
            lock (_log) log = [.. _log];
            return new SimulationStats(_clock.UtcNow, _clock.UtcNow - _startUtc, _real.Elapsed, _devices.Count, connected,
                Interlocked.Read(ref _network.Published), Interlocked.Read(ref _network.Acknowledged), Interlocked.Read(ref _network.Received),
                done, missed, Volatile.Read(ref _lateSteps), log);
        }
    }

    /// <summary>One line per device with a problem: not connected, last error, messages waiting.</summary>
    public IReadOnlyList<string> Diagnostics() =>
        [.. _devices.Values.Where(d => !d.Runtime.IsConnected || d.Runtime.LastError.Length > 0 || d.Runtime.Pending > 0)
            .Select(d => $"{d.Model.Id}: running={d.IsRunning} connected={d.Runtime.IsConnected} pending={d.Runtime.Pending} error='{d.Runtime.LastError}'")];

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        if (_options.StandInController) await PublishStandInCommandsAsync(cancellationToken).ConfigureAwait(false);
        foreach (var room in _plans.SelectMany(p => p.LinkedRooms).Distinct())
        {
            _roomLinks[room] = new SwitchableLink(_options.BrokerHost, _options.BrokerPort);
        }

        foreach (var device in _plans.SelectMany(p => p.LinkedDevices).Concat(_options.SwitchableNetwork ? _district.Devices.Select(d => d.Id) : []).Distinct())
        {
            _deviceLinks[device] = new SwitchableLink(_options.BrokerHost, _options.BrokerPort);
        }

        foreach (var model in _district.Devices)
        {
            var secret = _options.Credentials is null ? DefaultSecret(model.Id, _options.Seed)
                : _options.Credentials.TryGetValue(model.Id, out var s) ? s
                : throw new ArgumentException($"The credentials have no entry for device '{model.Id}'.", nameof(_options.Credentials));
            var link = _deviceLinks.GetValueOrDefault(model.Id) ?? _roomLinks.GetValueOrDefault(model.Room);
            _devices[model.Id] = new SimulatedDevice(model, _clock, _network, secret, link, _options.BootBase);
        }

        foreach (var device in _devices.Values) device.Update(_day, _startUtc);

        // Boot: firmware start-up sleeps on the clock (display reset, sensor init) and devices
        // connect in real time; time moves in small steps until the fleet is up, then jumps to the start.
        var devices = _devices.Values.ToList();
        _network.Open.Reset();
        // One thread per device start: start-up sleeps on the clock, so the thread pool must not be used.
        var starting = devices.Select(d =>
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            new Thread(() =>
            {
                try
                {
                    d.Start();
                    done.SetResult();
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            }) { IsBackground = true, Name = "boot " + d.Model.Id }.Start();
            return done.Task;
        }).ToArray();
        var deadline = DateTime.UtcNow + _options.ConnectTimeout;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int expected = 0;
            bool ready = true;
            for (int i = 0; i < devices.Count; i++)
            {
                // A device still starting has its start thread asleep on the clock (sensor and display set-up).
                expected += starting[i].IsCompleted ? devices[i].ClockThreads : 1;
                ready &= starting[i].IsCompleted && devices[i].Runtime.IsConnected;
            }

            if (ready) break;
            // Start-up sleeps need time to move; connecting does not (the clock waits for the network).
            bool allStarted = starting.All(t => t.IsCompleted);
            if (allStarted) _network.Open.Set();
            if (!allStarted && _clock.UtcNow < _startUtc - TimeSpan.FromMilliseconds(100))
            {
                if (!_clock.WaitUntilQuiet(expected, TimeSpan.FromMilliseconds(500))) continue;
                // A device that finished starting during the wait has its own threads to count now.
                int again = 0;
                for (int i = 0; i < devices.Count; i++) again += starting[i].IsCompleted ? devices[i].ClockThreads : 1;
                if (again != expected) continue;
                MoveClock(TimeSpan.FromMilliseconds(50));
            }
            else if (allStarted && _clock.UtcNow < _startUtc - TimeSpan.FromMilliseconds(100)
                && devices.Any(d => !d.Runtime.IsConnected && d.Runtime.LastError.StartsWith("mqtt:", StringComparison.Ordinal))
                && _clock.WaitUntilQuiet(expected, TimeSpan.FromMilliseconds(100)))
            {
                // A connect failed (a busy machine): the device waits out its backoff on the clock, so time moves.
                MoveClock(TimeSpan.FromMilliseconds(50));
                await Task.Delay(5, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
        }

        // Let retained commands arrive and be applied (the clock waits) so the run starts from a settled fleet.
        long seen = -1;
        var settleUntil = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < settleUntil)
        {
            long now = Interlocked.Read(ref _network.Published) + Interlocked.Read(ref _network.Received) + Interlocked.Read(ref _network.Acknowledged);
            if (now == seen) break;
            seen = now;
            await Task.Delay(300, cancellationToken).ConfigureAwait(false);
        }

        Log($"boot: {_devices.Values.Count(d => d.Runtime.IsConnected)} of {_devices.Count} devices connected after {(_clock.UtcNow - _startUtc + BootMargin).TotalSeconds:0.0} s of simulated boot time");
        _network.Open.Set();
        foreach (var t in starting.Where(t => t.IsFaulted)) await t.ConfigureAwait(false);
        _ordered = [.. _devices.Values.OrderBy(d => d.Model.Id, StringComparer.Ordinal)];
        Settle(_options.QuietTimeout);
        if (_clock.UtcNow < _startUtc) MoveClock(_startUtc - _clock.UtcNow);
        _clock.WaitUntilQuiet(ExpectedBlocked(), _options.QuietTimeout);
        Settle(_options.QuietTimeout);
        _real.Start();
        _driver = new Thread(Drive) { IsBackground = true, Name = "district-simulation" };
        _driver.Start();
    }

    private void MoveClock(TimeSpan by)
    {
        _options.TimeAdvancing?.Invoke(_clock.UtcNow + by);
        _clock.Advance(by);
    }

    /// <summary>
    /// Waits until every connected device's messages are acknowledged and every command it received is
    /// handled (a controller's replies to this step's requests included), so that the next step starts
    /// from the same state whatever the network's timing. False after <paramref name="timeout"/>.
    /// </summary>
    private bool Settle(TimeSpan timeout)
    {
        long deadline = -1;
        int spins = 0;
        while (!Delivered())
        {
            if (_stop.IsCancellationRequested) return false;
            if (deadline < 0) deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            else if (Environment.TickCount64 > deadline) return false;
            if (++spins < 50) Thread.Yield();
            else _network.Activity.Wait(1);
            _network.Activity.Reset();
        }

        return true;
    }

    private bool Delivered()
    {
        foreach (var d in _ordered)
        {
            if (!d.IsRunning) continue;
            var runtime = d.Runtime;
            if (runtime.CommandsWaiting > 0) return false;
            if (runtime.Pending > 0 && runtime.IsConnected) return false;
        }

        return true;
    }

    private int ExpectedBlocked()
    {
        int n = 0;
        foreach (var d in _devices.Values)
        {
            if (d.IsRunning) n += d.ClockThreads;
        }

        return n;
    }

    private void Drive()
    {
        try
        {
            var end = Duration is { } d ? _startUtc + d : DateTime.MaxValue;
            var taps = Duration is { } ? _day.Taps(_startUtc, end).ToList() : [];
            int nextTap = 0;
            DateTime tapsUntil = Duration is { } ? end : _startUtc;
            var steps = _plans.SelectMany(p => p.Steps.Select(s => (At: DayModel.Utc(_district.School(p.School), _district.Date.ToDateTime(s.AtLocal)), Step: s, p.School)))
                .OrderBy(s => s.At).ToList();
            int nextStep = 0;
            var devices = _ordered;
            while (!_stop.IsCancellationRequested)
            {
                var now = _clock.UtcNow;
                if (now >= end) break;
                if (Duration is null && now + TimeSpan.FromMinutes(1) > tapsUntil)
                {
                    // Open-ended run: plan the taps an hour at a time.
                    taps = [.. taps.Skip(nextTap), .. _day.Taps(tapsUntil, tapsUntil.AddHours(1))];
                    nextTap = 0;
                    tapsUntil = tapsUntil.AddHours(1);
                }

                while (nextStep < steps.Count && steps[nextStep].At <= now)
                {
                    var (at, step, school) = steps[nextStep++];
                    Log($"{DayModel.Local(_district.School(school), at):HH:mm:ss} {step.Description}");
                    _stepSchool = school;
                    step.Apply(this);
                }

                ApplyQueued(now);

                var stepBy = _step;
                if (_options.IdleStep is { } idle && idle > _step && now.Ticks % idle.Ticks == 0
                    && (nextTap >= taps.Count || taps[nextTap].AtUtc > now + idle + TimeSpan.FromMinutes(1))
                    && (nextStep >= steps.Count || steps[nextStep].At > now + idle + TimeSpan.FromMinutes(1))
                    && (nextStep == 0 || steps[nextStep - 1].At < now - TimeSpan.FromMinutes(15))
                    && NextQueuedAt() > now + idle + TimeSpan.FromMinutes(1)
                    && !devices.Any(d => d.DoorBusy))
                {
                    stepBy = idle;
                }

                while (nextTap < taps.Count && taps[nextTap].AtUtc < now + stepBy)
                {
                    var tap = taps[nextTap++];
                    if (_devices.TryGetValue(tap.DoorDevice, out var door)) door.Tap(tap);
                }

                foreach (var device in devices)
                {
                    if (device.IsRunning) device.Update(_day, now);
                }

                MoveClock(stepBy);
                if (!_clock.WaitUntilQuiet(ExpectedBlocked(), _options.QuietTimeout) | !Settle(_options.QuietTimeout)) Interlocked.Increment(ref _lateSteps);
                if (_options.Speed > 0)
                {
                    var due = TimeSpan.FromTicks((long)((_clock.UtcNow - _startUtc).Ticks / _options.Speed));
                    var ahead = due - _real.Elapsed;
                    if (ahead > TimeSpan.Zero) _stop.Token.WaitHandle.WaitOne(ahead);
                }
            }

            CloseQueue();
            _completion.TrySetResult();
        }
        catch (Exception e)
        {
            CloseQueue();
            _completion.TrySetException(e);
        }
    }

    private void Log(string line)
    {
        lock (_log) _log.Add(line);
    }

    /// <summary>Stops time and every device (DISCONNECT, so no wills).</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        if (_driver is not null) await Task.Run(() => _driver.Join()).ConfigureAwait(false);
        CloseQueue();
        _real.Stop();
        _clock.Shutdown();
        await Task.WhenAll(_stopping.Values).ConfigureAwait(false);
        // Dedicated threads: a stop blocks on joins and the DISCONNECT; the thread pool would starve with hundreds of them.
        var threads = _devices.Values.Select(d => new Thread(() => d.Stop(graceful: true)) { IsBackground = true, Name = "stop " + d.Model.Id }).ToList();
        foreach (var t in threads) t.Start();
        await Task.Run(() => { foreach (var t in threads) t.Join(); }).ConfigureAwait(false);
        _completion.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        foreach (var link in _roomLinks.Values.Concat(_deviceLinks.Values)) await link.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    // ---- queued scenario actions (from any thread; applied on the driver thread, between steps) --

    /// <summary>
    /// Queues a scenario action for a school of the running simulation: it is applied on the
    /// simulation's own thread between two steps (never while devices move), at the first step at or
    /// after <paramref name="atUtc"/> (null: the next step), with <paramref name="school"/> as the
    /// school its room names refer to. Safe to call from any thread; actions due at the same step
    /// are applied in the order they were queued. The task gives the simulated time the action was
    /// applied at, or the action's exception; it fails with <see cref="InvalidOperationException"/>
    /// when the simulation stops first.
    /// </summary>
    /// <exception cref="ArgumentException">The school is not simulated.</exception>
    /// <exception cref="InvalidOperationException">The simulation has stopped.</exception>
    public Task<DateTime> Queue(string school, Action<IScenarioActions> action, DateTime? atUtc = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (!_district.Schools.Any(s => s.Id == school)) throw new ArgumentException($"School '{school}' is not simulated.", nameof(school));
        var item = new QueuedAction(school, atUtc ?? DateTime.MinValue, action, new TaskCompletionSource<DateTime>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_queueLock)
        {
            if (_queueClosed || _completion.Task.IsCompleted) throw new InvalidOperationException("The simulation has stopped.");
            item.Seq = ++_queued;
            // Kept ordered by due time, then by queue order.
            int i = _queue.Count;
            while (i > 0 && _queue[i - 1].AtUtc > item.AtUtc) i--;
            _queue.Insert(i, item);
        }

        return item.Done.Task;
    }

    /// <summary>
    /// Queues a whole scenario on the running simulation, starting now in simulated time: its steps
    /// keep the script's intervals (the first step is applied at the next step of the simulation)
    /// and act in <paramref name="plan"/>'s school. One task per step, in the plan's step order;
    /// see <see cref="Queue"/>.
    /// </summary>
    public IReadOnlyList<Task<DateTime>> QueueScenario(ScenarioPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var offsets = ScenarioOffsets(plan, _district);
        var start = _clock.UtcNow;
        lock (_queueLock)
        {
            // One lock for all steps: no other queued action falls between two steps due at once.
            return [.. plan.Steps.Select((step, i) => Queue(plan.School, step.Apply, start + offsets[i]))];
        }
    }

    /// <summary>Where a district's day starts without a scenario: 06:30 local time of its first school on the district's date.</summary>
    public static DateTime DefaultStartUtc(DistrictModel district)
    {
        ArgumentNullException.ThrowIfNull(district);
        return DayModel.Utc(district.Schools[0], district.Date.ToDateTime(new TimeOnly(6, 30)));
    }

    /// <summary>Each step's simulated time after the plan's first step, in the plan's step order.</summary>
    public static IReadOnlyList<TimeSpan> ScenarioOffsets(ScenarioPlan plan, DistrictModel district)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(district);
        var school = district.School(plan.School);
        var at = plan.Steps.Select(s => DayModel.Utc(school, district.Date.ToDateTime(s.AtLocal))).ToList();
        var first = at.Count == 0 ? default : at.Min();
        return [.. at.Select(t => t - first)];
    }

    /// <summary>Actions queued but not applied yet.</summary>
    public int QueuedActions
    {
        get
        {
            lock (_queueLock) return _queue.Count;
        }
    }

    private DateTime NextQueuedAt()
    {
        lock (_queueLock) return _queue.Count == 0 ? DateTime.MaxValue : _queue[0].AtUtc;
    }

    private void ApplyQueued(DateTime now)
    {
        while (true)
        {
            QueuedAction item;
            lock (_queueLock)
            {
                if (_queue.Count == 0 || _queue[0].AtUtc > now) return;
                item = _queue[0];
                _queue.RemoveAt(0);
            }

            _stepSchool = item.School;
            try
            {
                item.Apply(this);
                item.Done.TrySetResult(now);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A refused action fails its caller, not the simulation.
                Log($"{DayModel.Local(_district.School(item.School), now):HH:mm:ss} queued action failed: {e.Message}");
                item.Done.TrySetException(e);
            }
        }
    }

    private void CloseQueue()
    {
        List<QueuedAction> left;
        lock (_queueLock)
        {
            _queueClosed = true;
            left = [.. _queue];
            _queue.Clear();
        }

        foreach (var item in left) item.Done.TrySetException(new InvalidOperationException("The simulation stopped before the queued action was due."));
    }

    private sealed class QueuedAction(string school, DateTime atUtc, Action<IScenarioActions> apply, TaskCompletionSource<DateTime> done)
    {
        public string School => school;
        public DateTime AtUtc => atUtc;
        public Action<IScenarioActions> Apply => apply;
        public TaskCompletionSource<DateTime> Done => done;
        public long Seq { get; set; }
    }

    // ---- scenario actions (on the driver thread, between steps) -----------------------------

    private SimulatedDevice Get(string id) => _devices.TryGetValue(id, out var d) ? d : throw new ArgumentException($"Device '{id}' is not simulated.", nameof(id));

    void IScenarioActions.ForceDoor(string door, TimeSpan openFor) => Get(door).OpenDoor(openFor, withRex: false);

    void IScenarioActions.HoldDoorOpen(string door, TimeSpan openFor) => Get(door).OpenDoor(openFor, withRex: true);

    void IScenarioActions.TapCard(string door, string card) => Get(door).Tap(new DoorTap(_clock.UtcNow, door, card, "", WalkIn: false));

    void IScenarioActions.ReplayLastEvent(string door, string type)
    {
        var captured = Get(door).Captured(type) ?? throw new InvalidOperationException($"No '{type}' event of {door} was captured to replay.");
        var secret = _options.Credentials?.GetValueOrDefault(door);
        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder().WithTcpServer(_options.BrokerHost, _options.BrokerPort)
            .WithClientId(secret is null ? door + "-clone" : door);
        if (secret is not null) builder.WithCredentials(secret.UserName, secret.Password);
        Task.Run(async () =>
        {
            await client.ConnectAsync(builder.Build());
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(captured.Topic).WithPayload(captured.Payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await client.DisconnectAsync();
            await client.DisposeAsync();
        }).GetAwaiter().GetResult();
    }

    void IScenarioActions.SetMeterFault(string meter, string fault)
    {
        var pzem = Get(meter).Pzem ?? throw new ArgumentException($"Device '{meter}' has no PZEM meter.", nameof(meter));
        pzem.Fault = fault switch
        {
            "no-answer" => PzemFault.NoAnswer,
            "bad-crc" => PzemFault.BadCrc,
            "truncated" => PzemFault.Truncated,
            _ => PzemFault.None,
        };
        pzem.FaultCount = -1;
    }

    void IScenarioActions.PowerOff(string device)
    {
        var d = Get(device);
        _poweredOff.Add(device);
        if (_deviceLinks.TryGetValue(device, out var link)) link.Cut();
        _stopping[device] = Task.Run(() => d.Stop(graceful: false));
    }

    void IScenarioActions.PowerOn(string device)
    {
        var d = Get(device);
        if (_stopping.Remove(device, out var stopping)) stopping.GetAwaiter().GetResult();
        _poweredOff.Remove(device);
        // Its own link comes back, unless its room's network is still down.
        if (_deviceLinks.TryGetValue(device, out var link) && !_cutRooms.Contains((d.Model.School, d.Model.Room))) link.Restore();
        d.Start();
    }

    void IScenarioActions.CutRoomNetwork(string room)
    {
        _cutRooms.Add((_stepSchool, room));
        foreach (var d in _devices.Values.Where(d => d.Model.Room == room && d.Model.School == _stepSchool))
        {
            d.SetWifi(false);
            if (_deviceLinks.TryGetValue(d.Model.Id, out var own)) own.Cut();
        }

        if (_roomLinks.TryGetValue(room, out var link)) link.Cut();
    }

    void IScenarioActions.RestoreRoomNetwork(string room)
    {
        _cutRooms.Remove((_stepSchool, room));
        if (_roomLinks.TryGetValue(room, out var link)) link.Restore();
        foreach (var d in _devices.Values.Where(d => d.Model.Room == room && d.Model.School == _stepSchool))
        {
            if (_deviceLinks.TryGetValue(d.Model.Id, out var own) && !_poweredOff.Contains(d.Model.Id)) own.Restore();
            d.SetWifi(true);
        }
    }

    void IScenarioActions.LightsLeftOn(string room, TimeSpan forHowLong) =>
        _day.Overrides.AddLightsLeftOn(_stepSchool, room, _clock.UtcNow, _clock.UtcNow + forHowLong);

    void IScenarioActions.EmptyRoom(string room, TimeSpan forHowLong) =>
        _day.Overrides.AddEmptyRoom(_stepSchool, room, _clock.UtcNow, _clock.UtcNow + forHowLong);

    void IScenarioActions.ExtraLoad(string room, double watts, TimeSpan forHowLong) =>
        _day.Overrides.AddExtraLoad(_stepSchool, room, _clock.UtcNow, _clock.UtcNow + forHowLong, watts);

    // ---- stand-in controller ----------------------------------------------------------------

    private async Task PublishStandInCommandsAsync(CancellationToken cancellationToken)
    {
        if (_options.Credentials is not null) throw new InvalidOperationException("The stand-in controller needs an anonymous broker; with credentials the controller sends the commands.");
        await using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(_options.BrokerHost, _options.BrokerPort).WithClientId("campus-sim-stand-in").Build(), cancellationToken).ConfigureAwait(false);
        foreach (var (topic, payload) in StandInCommands.For(_district, _day, _options.Seed))
        {
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag().Build(), cancellationToken).ConfigureAwait(false);
        }

        await client.DisconnectAsync(cancellationToken).ConfigureAwait(false);
    }
}
