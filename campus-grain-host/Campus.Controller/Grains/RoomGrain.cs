using Campus.Controller.Domain;
using Campus.Controller.History;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.Options;

namespace Campus.Controller.Grains;

/// <summary>A room's persisted state: its spec, energy today, its usual consumption profile and rule state.</summary>
internal sealed class RoomState
{
    public RoomSpec? Spec { get; set; }
    public EnergyDay Today { get; set; } = new();
    public HourAccumulator Hour { get; set; } = new();
    public ConsumptionProfile Profile { get; set; } = new();
    public AfterHoursEnergyWatch Waste { get; set; } = new();
    public Dictionary<string, DeviceLive> Devices { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// A room (key "{school}/{room}"): sums its devices into power now, energy today (the school's
/// local day), occupancy and door states; runs the after-hours-waste and consumption-spike rules
/// (finished hours' energy and power now, each against the same hour of past weeks; the usual power
/// is learned from the energy history when the room has none yet, see <see cref="SeedPowerAsync"/>);
/// reports to its school (at most once per <see cref="ControllerOptions.RoomReportInterval"/>
/// unless something discrete changed). Its state is written when an hour closes and on
/// deactivation; energy today after a crash restarts from the last written hour.
/// </summary>
internal sealed class RoomGrain(
    [PersistentState("room")] IPersistentState<RoomState> state,
    TimeProvider time,
    IEnergyHistory history,
    IOptions<ControllerOptions> options) : Grain, IRoomGrain
{
    private readonly ObserverSet<IRoomObserver> _observers = new(time);
    private SchoolClock? _clock;
    private TimeZoneInfo _zone = TimeZoneInfo.Utc;
    private DateTimeOffset _lastReport = DateTimeOffset.MinValue;
    private DateTimeOffset _clockAt = DateTimeOffset.MinValue;
    private bool _dirty;
    private bool _powerSeedTried;

    // The totals of S.Devices, summed at activation and then kept up to date report by report instead of
    // summed at each report (summed again for each report to the school).
    private double _powerSum;
    private int _occupiedOnline;
    private double _tempSum;
    private int _temps;

    private RoomState S => state.State;
    private string School => this.GetPrimaryKeyString()[..this.GetPrimaryKeyString().IndexOf('/', StringComparison.Ordinal)];
    private string Room => this.GetPrimaryKeyString()[(this.GetPrimaryKeyString().IndexOf('/', StringComparison.Ordinal) + 1)..];
    private ISchoolGrain SchoolGrain => GrainFactory.GetGrain<ISchoolGrain>(School);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!this.GetPrimaryKeyString().Contains('/', StringComparison.Ordinal))
            throw new ArgumentException($"Room keys are \"school/room\"; got '{this.GetPrimaryKeyString()}'.");
        Recount();
        SetClock(await SchoolGrain.GetClock());
        // Reports queued before this activation may carry earlier times: they count now, as the saved
        // day and hour would otherwise roll back.
        _clockAt = time.GetUtcNow();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_dirty) await state.WriteStateAsync();
    }

    public async Task Configure(RoomSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var moved = S.Spec is { } before && before.BuildingOrDefault() != spec.BuildingOrDefault();
        S.Spec = spec;
        await state.WriteStateAsync();
        if (moved) // the school sums rooms per building: tell it now, not at the next report
        {
            var snapshot = Snapshot(time.GetUtcNow());
            SetClock(await SchoolGrain.ReportRoom(snapshot));
            _observers.Notify(obs => obs.RoomChanged(snapshot));
        }
    }

    public async Task Report(DeviceLive device)
    {
        ArgumentNullException.ThrowIfNull(device);
        // Reports are one way: the room counts each at the time its device made it, not when the room got
        // to it, and its clock never goes back (reports of several devices may cross on the way).
        var now = device.At > _clockAt ? device.At : _clockAt;
        _clockAt = now;
        var discrete = !S.Devices.TryGetValue(device.Device, out var before)
            || before.Online != device.Online || before.Occupied != device.Occupied || before.Door != device.Door;
        if (before is not null) Count(before, -1);
        S.Devices[device.Device] = device with { EnergyDeltaKwh = 0 };
        Count(device, 1);
        _dirty = true;

        var o = options.Value;
        if (device.EnergyDeltaKwh > 0) S.Today.Add(device.EnergyDeltaKwh, now, _zone);
        else S.Today.Roll(now, _zone);
        if (S.Hour.Add(now, _zone, device.EnergyDeltaKwh) is { } finished)
        {
            if (S.Profile.AddHour(finished.HourStart, finished.Kwh, o.Spike) is { } spike) await SignalAsync(spike);
            await state.WriteStateAsync();
            _dirty = false;
        }

        var (power, occupied, _) = Totals();
        if (!_powerSeedTried) await SeedPowerAsync(now);
        if (S.Profile.AddPower(now, TimeZoneInfo.ConvertTime(now, _zone).DateTime, power, o.Spike) is { } powerSpike) await SignalAsync(powerSpike);
        var open = _clock?.OpeningHours.Contains(now, _zone) ?? true;
        var waste = S.Waste.Update(now, power, occupied, open, S.Spec?.IdlePowerW ?? 200, o.AfterHoursEnergyMinDuration);
        if (waste is { } w) await SignalAsync(w);

        if (discrete || waste is not null || now - _lastReport >= o.RoomReportInterval)
        {
            _lastReport = now;
            var snapshot = Snapshot(now);
            SetClock(await SchoolGrain.ReportRoom(snapshot));
            _observers.Notify(obs => obs.RoomChanged(snapshot));
        }
    }

    /// <summary>
    /// Once per activation, while the room has no usual power for any hour of the week: learns it from
    /// the energy history of the last <see cref="SpikeRule.WeeksKept"/> weeks before the current hour: each
    /// hour's room-wide mean power (its energy in kWh is its mean power in kW) or its highest single
    /// meter reading, whichever is higher (a lower bound of the room's peak).
    /// Best effort: without the history it is learned live.
    /// </summary>
    private async Task SeedPowerAsync(DateTimeOffset now)
    {
        _powerSeedTried = true;
        if (!S.Profile.HasNoPowerHistory) return;
        var rule = options.Value.Spike;
        var local = TimeZoneInfo.ConvertTime(now, _zone).DateTime;
        var hourStart = new DateTime(local.Year, local.Month, local.Day, local.Hour, 0, 0, DateTimeKind.Unspecified);
        var to = DateOnly.FromDateTime(local);
        var days = Math.Min(EnergySeriesQuery.MaxDays(EnergyGranularity.Hour) - 1, 7 * rule.WeeksKept);
        try
        {
            var series = await history.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room(School, Room), EnergyGranularity.Hour, to.AddDays(-days), to));
            var hours = series.Points.Where(p => p.Samples > 0 && p.Start.DateTime < hourStart).Select(p => (p.Start.DateTime, Math.Max(p.PeakPowerW ?? 0, p.EnergyKwh * 1000))).ToList();
            if (hours.Count == 0) return;
            S.Profile.SeedPower(hours, rule);
            _dirty = true;
        }
        catch (Exception ex) when (ex is StorageUnavailableException or InvalidOperationException)
        {
            // No history to learn from now: the usual power is learned from the room's own hours.
        }
    }

    private Task SignalAsync(AlertSignal signal) => SchoolGrain.Signal(Room, Room, signal);

    private void SetClock(SchoolClock clock)
    {
        if (_clock == clock) return;
        _clock = clock;
        _zone = TimeZoneInfo.FindSystemTimeZoneById(clock.TimeZoneId);
    }

    private (double Power, bool Occupied, double? Temperature) Totals() =>
        (_powerSum, _occupiedOnline > 0, _temps == 0 ? null : _tempSum / _temps);

    /// <summary>Sums the devices again (each report to the school does, so rounding never builds up).</summary>
    private void Recount()
    {
        (_powerSum, _occupiedOnline, _tempSum, _temps) = (0, 0, 0, 0);
        foreach (var d in S.Devices.Values) Count(d, 1);
    }

    /// <summary>Adds (<paramref name="sign"/> 1) or takes away (-1) one device's part of the room's totals.</summary>
    private void Count(DeviceLive d, int sign)
    {
        if (d.PowerW is { } p && d.Online) _powerSum += sign * p;
        if (d.Occupied == true && d.Online) _occupiedOnline += sign;
        if (d.TemperatureC is { } t)
        {
            _tempSum += sign * t;
            _temps += sign;
        }
    }

    /// <param name="recount">Sum the devices again (for the school's reports, so rounding never builds up).</param>
    private RoomSnapshot Snapshot(DateTimeOffset now, bool recount = true)
    {
        S.Today.Roll(now, _zone);
        if (recount) Recount();
        var (power, occupied, temp) = Totals();
        var doors = new Dictionary<string, DoorState>(StringComparer.Ordinal);
        int online = 0, offline = 0;
        foreach (var d in S.Devices.Values)
        {
            if (d.Door is { } door) doors[d.Device] = door;
            if (d.Online) online++; else offline++;
        }
        return new RoomSnapshot(School, Room, power, S.Today.Kwh, occupied, temp, doors, online, offline, now, S.Spec?.BuildingOrDefault() ?? BuildingSpec.DefaultId);
    }

    public Task<RoomSnapshot> GetSnapshot() => Task.FromResult(Snapshot(time.GetUtcNow(), recount: false));

    public Task Subscribe(IRoomObserver observer)
    {
        _observers.Subscribe(observer);
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IRoomObserver observer)
    {
        _observers.Unsubscribe(observer);
        return Task.CompletedTask;
    }
}
