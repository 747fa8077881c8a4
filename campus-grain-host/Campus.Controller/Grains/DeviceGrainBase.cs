using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.History;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Campus.Controller.Grains;

/// <summary>The persisted state every device grain has.</summary>
internal class DeviceState
{
    public bool Provisioned { get; set; }
    public string School { get; set; } = "";
    public string Room { get; set; } = "";
    public DeviceKind Kind { get; set; }
    public string? HmacKey { get; set; }
    public SequenceTracker Sequence { get; set; } = new();
    public PresenceMonitor Presence { get; set; } = new();
    public long Accepted { get; set; }
    public long Duplicates { get; set; }
    public string? Firmware { get; set; }
    public bool Tampered { get; set; }
    public double? PowerW { get; set; }
    public double? EnergyKwh { get; set; }
    public double? TemperatureC { get; set; }
    public double? HumidityPct { get; set; }
    public bool? Occupied { get; set; }
    public EnergyCounter Counter { get; set; } = new();
}

/// <summary>
/// What all device grains share: provisioning, topic and sequence checks, presence, tamper,
/// command acknowledgements, the room report, observers and the write policy. Kinds override
/// <see cref="ApplyTelemetryAsync"/> and <see cref="ApplyEventAsync"/>.
/// </summary>
internal abstract class DeviceGrainBase<TState> : Grain, IDeviceGrain where TState : DeviceState, new()
{
    private readonly ObserverSet<IDeviceObserver> _observers;
    private DateTimeOffset _lastWrite;
    private bool _dirty;

    protected DeviceGrainBase(IPersistentState<TState> state, DeviceServices services)
    {
        Persisted = state;
        Services = services;
        _observers = new ObserverSet<IDeviceObserver>(services.Time);
    }

    protected IPersistentState<TState> Persisted { get; }
    protected TState S => Persisted.State;
    protected DeviceServices Services { get; }
    protected ControllerOptions Options => Services.Options.Value;
    protected string DeviceId => this.GetPrimaryKeyString();
    protected DateTimeOffset Now => Services.Time.GetUtcNow();

    /// <summary>The device's last discrete change worth an immediate room report (door, occupancy, online).</summary>
    protected bool DiscreteChange { get; set; }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Devices that activate together (a host start, a district reconnecting) would otherwise all
        // write their telemetry state in the same moment of every interval: a stall for the database.
        // Each starts at its own phase of the interval instead, so the writes spread evenly over it.
        _lastWrite = Now - DeviceWritePhase.Of(DeviceId, Options.DeviceStateWriteInterval);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_dirty && S.Provisioned) await Persisted.WriteStateAsync();
    }

    public async Task Provision(DeviceSpec spec, string? hmacKeyBase64)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!string.Equals(spec.Id, DeviceId, StringComparison.Ordinal))
            throw new ArgumentException($"Spec is for device '{spec.Id}' but this grain is '{DeviceId}'.", nameof(spec));
        S.Provisioned = true;
        S.School = spec.School;
        S.Room = spec.Room;
        S.Kind = spec.Kind;
        if (hmacKeyBase64 is not null) S.HmacKey = hmacKeyBase64;
        await WriteNowAsync();
    }

    public async Task<IngestResult> Ingest(DeviceMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!S.Provisioned) return IngestResult.Rejected("unknown-device");
        var t = message.Topic;
        if (!string.Equals(t.School, S.School, StringComparison.Ordinal) || !string.Equals(t.Room, S.Room, StringComparison.Ordinal) || t.Kind != S.Kind)
            return IngestResult.Rejected("wrong-location");

        if (message.Payload is DeviceStatus { IsLastWill: true })
        {
            await GoOfflineAsync("Last will: the device's connection dropped.");
            return IngestResult.Accepted;
        }

        var (boot, seq) = SequenceOf(message.Payload);
        var pre = await PreSequenceCheckAsync(message, boot, seq);
        if (pre is { } early) return early;

        var mark = S.Sequence.Mark();
        var verdict = S.Sequence.Observe(boot, seq);
        if (!verdict.IsNew && !IsResendOfRefused)
        {
            S.Duplicates++;
            return IngestResult.Duplicate;
        }
        var important = verdict.NewBoot || verdict.Missed > 0;
        if (verdict.Missed > 0) Log.Gap(Services.Logger, DeviceId, verdict.Missed, seq, boot);

        IngestResult result;
        try
        {
            result = message.Payload switch
            {
                Telemetry telemetry => await ApplyTelemetryAsync(message, telemetry),
                MakerReading reading => await ApplyMakerReadingAsync(message, reading),
                DeviceStatus status => await ApplyStatusAsync(status),
                DeviceEvent ev => await ApplyEventAsync(message, ev),
                CommandAck ack => await ApplyAckAsync(message, ack),
                _ => IngestResult.Rejected("wrong-kind"),
            };
        }
        catch
        {
            // Not stored, so not acknowledged: the device sends it again, and that copy must not look
            // like a duplicate of this one. (What was stored before the failure dedupes in the history.)
            S.Sequence.Restore(mark);
            _dirty = true;
            if (TakeBackChecks())
            {
                // What the checks keep for the re-send (a door's taken-back event, its answer) is written now, so a
                // host that dies before its next write does not lose it. With the grain storage down as well, it
                // goes with the next write that succeeds.
                try
                {
                    await WriteNowAsync();
                }
                catch (Exception e)
                {
                    Log.KeptForResendNotWritten(Services.Logger, DeviceId, e);
                }
            }
            throw;
        }
        if (result.Outcome == IngestOutcome.Duplicate) S.Duplicates++;
        else if (result.Outcome == IngestOutcome.Accepted) S.Accepted++;

        if (await SeenAsync(message.ReceivedAt)) important = true;
        important |= message.Payload is not Telemetry and not MakerReading;
        _dirty = true;
        if (important || Options.DeviceStateWriteInterval <= TimeSpan.Zero || Now - _lastWrite >= Options.DeviceStateWriteInterval)
            await WriteNowAsync();
        if (result.Outcome == IngestOutcome.Accepted) await ReportAsync(0);
        return result;
    }

    /// <summary>
    /// The current message is known, from <see cref="PreSequenceCheckAsync"/>, to be the re-send of one that was refused
    /// (never stored): it is applied even when the sequence check takes it for old, as it does when the refused
    /// message was the first of its boot seen here or the device restarted before sending it again.
    /// </summary>
    protected virtual bool IsResendOfRefused => false;

    /// <summary>
    /// The message passed <see cref="PreSequenceCheckAsync"/> but could not be applied: forget what the check recorded.
    /// Returns whether the grain now keeps something for the message's re-send that must be written at once.
    /// </summary>
    protected virtual bool TakeBackChecks() => false;

    /// <summary>Before sequencing: signed-event checks (doors). A non-null result ends the message.</summary>
    protected virtual ValueTask<IngestResult?> PreSequenceCheckAsync(DeviceMessage message, uint boot, uint seq) => ValueTask.FromResult<IngestResult?>(null);

    protected virtual async Task<IngestResult> ApplyTelemetryAsync(DeviceMessage message, Telemetry t)
    {
        var stored = await Services.History.AppendAsync(new TelemetryRecord
        {
            SchoolId = S.School,
            RoomId = S.Room,
            DeviceId = DeviceId,
            Kind = S.Kind.ToWire(),
            Boot = t.Boot,
            Seq = t.Seq,
            DeviceTime = t.Ts > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(t.Ts) : null,
            ReceivedAt = message.ReceivedAt,
            EnergyKwh = t.EnergyKwh,
            PowerW = t.PowerW,
            VoltageV = t.VoltageV,
            CurrentA = t.CurrentA,
            PowerFactor = t.PowerFactor,
            TemperatureC = t.TemperatureC,
            HumidityPct = t.HumidityPct,
            Occupied = t.Occupied,
        });
        if (stored == AppendResult.Duplicate) return IngestResult.Duplicate;
        var delta = 0.0;
        if (t.EnergyKwh is { } kwh)
        {
            delta = S.Counter.Observe(kwh);
            S.EnergyKwh = kwh;
        }
        if (t.PowerW is { } p) S.PowerW = p;
        if (t.TemperatureC is { } c) S.TemperatureC = c;
        if (t.HumidityPct is { } h) S.HumidityPct = h;
        if (t.Occupied is { } o)
        {
            if (S.Occupied != o) DiscreteChange = true;
            S.Occupied = o;
        }
        PendingEnergyDelta += delta;
        return IngestResult.Accepted;
    }

    /// <summary>Energy counted since the last room report.</summary>
    protected double PendingEnergyDelta { get; set; }

    protected virtual Task<IngestResult> ApplyMakerReadingAsync(DeviceMessage message, MakerReading reading) =>
        Task.FromResult(IngestResult.Rejected("wrong-kind"));

    protected virtual Task<IngestResult> ApplyStatusAsync(DeviceStatus status)
    {
        if (status.Fw is not null) S.Firmware = status.Fw;
        return Task.FromResult(IngestResult.Accepted);
    }

    protected virtual async Task<IngestResult> ApplyEventAsync(DeviceMessage message, DeviceEvent ev)
    {
        if (ev is TamperEvent tamper)
        {
            await LogEventAsync(message, ev, details: tamper.State.ToWire());
            var open = tamper.State == ContactState.Open;
            S.Tampered = open;
            await SignalAsync(open
                ? new AlertSignal(AlertType.Tamper, AlertSeverity.Critical, "Enclosure opened (tamper switch).")
                : AlertSignal.Clear(AlertType.Tamper, "Enclosure closed."));
            return IngestResult.Accepted;
        }
        return IngestResult.Rejected("wrong-kind");
    }

    protected virtual async Task<IngestResult> ApplyAckAsync(DeviceMessage message, CommandAck ack)
    {
        if (string.Equals(message.Topic.CommandName, CommandNames.Lockdown, StringComparison.Ordinal))
            await School.LockdownAcknowledged(DeviceId, ack.Id, ack.Ok, ack.Error);
        return IngestResult.Accepted;
    }

    /// <summary>Appends an event of this device to the access/event log; false when it was already stored.</summary>
    protected async Task<bool> LogEventAsync(DeviceMessage message, DeviceEvent ev, string? card = null, string? personId = null,
        string? result = null, string? reason = null, string? source = null, string? details = null)
    {
        var stored = await Services.History.AppendAccessAsync(new AccessLogEntry
        {
            SchoolId = S.School,
            RoomId = S.Room,
            DoorId = DeviceId,
            EventType = ev.Type.ToWire(),
            PersonId = personId,
            Card = card,
            Result = result,
            Reason = reason,
            Source = source,
            Details = details,
            OccurredAt = message.ReceivedAt,
            Boot = ev.Boot,
            Seq = ev.Seq,
        });
        return stored == AppendResult.Inserted;
    }

    protected ISchoolGrain School => GrainFactory.GetGrain<ISchoolGrain>(S.School);

    protected Task SignalAsync(AlertSignal signal) => School.Signal(DeviceId, S.Room, signal);

    /// <summary>The state changed outside a message's write policy: it is written at the latest on deactivation.</summary>
    protected void MarkStateChanged() => _dirty = true;

    private (bool Online, bool Known, DateTimeOffset LastSeen) PresenceNow => (S.Presence.Online, S.Presence.Known, S.Presence.LastSeen);

    /// <summary>
    /// Raises or clears a presence alert; when that fails, presence goes back to <paramref name="before"/>, so
    /// that the message's re-send (or the next tick) changes it again and signals again.
    /// </summary>
    private async Task SignalOrTakeBackAsync(AlertSignal signal, (bool Online, bool Known, DateTimeOffset LastSeen) before)
    {
        try
        {
            await SignalAsync(signal);
        }
        catch
        {
            (S.Presence.Online, S.Presence.Known, S.Presence.LastSeen) = before;
            throw;
        }
    }

    /// <returns>True when presence changed.</returns>
    private async Task<bool> SeenAsync(DateTimeOffset at)
    {
        Services.Watch.Seen(DeviceId, S.Kind, at);
        var before = PresenceNow;
        var clear = S.Presence.Seen(at);
        if (clear is { } c) await SignalOrTakeBackAsync(c, before);
        if (before.Online) return false;
        DiscreteChange = true;
        return true;
    }

    private async Task GoOfflineAsync(string why)
    {
        Services.Watch.MarkOffline(DeviceId);
        var before = PresenceNow;
        var signal = S.Presence.WentOffline(Now, why);
        if (signal is null) return;
        await SignalOrTakeBackAsync(signal.Value, before);
        DiscreteChange = true;
        await WriteNowAsync();
        await ReportAsync(0);
    }

    public virtual async Task Tick()
    {
        if (!S.Provisioned) return;
        var timeout = Options.OfflineTimeout(S.Kind.ToWire());
        var silent = Now - S.Presence.LastSeen;
        if (S.Presence.Online && silent > timeout)
            await GoOfflineAsync($"No message for {silent.TotalSeconds:0} s (timeout {timeout.TotalSeconds:0} s).");
    }

    /// <summary>Sends this device's live values to its room (energy delta included) and to observers.</summary>
    protected async Task ReportAsync(double extraDelta)
    {
        var live = new DeviceLive(DeviceId, S.Kind, S.Presence.Online, S.PowerW, PendingEnergyDelta + extraDelta, S.Occupied, S.TemperatureC, DoorStateForReport, Now);
        PendingEnergyDelta = 0;
        await Room.Report(live);
        DiscreteChange = false;
        if (_observers.Count > 0)
        {
            var snapshot = BuildSnapshot();
            _observers.Notify(o => o.DeviceChanged(snapshot));
        }
    }

    protected virtual DoorState? DoorStateForReport => null;

    private (string School, string Room, IRoomGrain Grain)? _room;

    /// <summary>The room's grain, made again only when the device's school or room changes (a report goes to it per message).</summary>
    private IRoomGrain Room
    {
        get
        {
            if (_room is not { } r || !ReferenceEquals(r.School, S.School) || !ReferenceEquals(r.Room, S.Room))
                _room = r = (S.School, S.Room, GrainFactory.GetGrain<IRoomGrain>(DeviceGrains.RoomKey(S.School, S.Room)));
            return r.Grain;
        }
    }

    protected async Task WriteNowAsync()
    {
        try
        {
            await Persisted.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            // The stored version is not the one this activation read: typically a write whose commit went
            // through while its answer was lost. Every later write would fail the same way, so the grain
            // starts again from what is stored; the message is not acknowledged and comes again.
            DeactivateOnIdle();
            throw;
        }
        _lastWrite = Now;
        _dirty = false;
    }

    public Task<DeviceSnapshot> GetSnapshot() => Task.FromResult(BuildSnapshot());

    protected virtual DeviceSnapshot BuildSnapshot() => new(
        DeviceId, S.School, S.Room, S.Kind, S.Presence.Online, S.Presence.Known ? S.Presence.LastSeen : null,
        S.Sequence.Boot, S.Sequence.LastSeq, S.Accepted, S.Duplicates, S.Sequence.TotalMissed, S.Firmware,
        S.PowerW, S.EnergyKwh, S.TemperatureC, S.HumidityPct, S.Occupied, DoorStateForReport, S.Tampered, EntriesForSnapshot, ReadingsForSnapshot);

    protected virtual IReadOnlyDictionary<string, double>? ReadingsForSnapshot => null;

    protected virtual long EntriesForSnapshot => 0;

    public Task Subscribe(IDeviceObserver observer)
    {
        _observers.Subscribe(observer);
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IDeviceObserver observer)
    {
        _observers.Unsubscribe(observer);
        return Task.CompletedTask;
    }

    private static (uint Boot, uint Seq) SequenceOf(IContractPayload payload) => payload switch
    {
        Telemetry t => (t.Boot, t.Seq),
        MakerReading m => (m.Boot, m.Seq),
        DeviceStatus s => (s.Boot ?? 0, s.Seq ?? 0),
        DeviceEvent e => (e.Boot, e.Seq),
        CommandAck a => (a.Boot, a.Seq),
        _ => (0, 0),
    };
}

/// <summary>The services device grains share (one object, so grain constructors stay short).</summary>
internal sealed class DeviceServices(
    IHistoryStore history,
    ICommandPublisher commands,
    DeviceWatch watch,
    TimeProvider time,
    IOptions<ControllerOptions> options,
    ControllerMetrics metrics,
    ILogger<DeviceServices> logger)
{
    public IHistoryStore History { get; } = history;
    public ICommandPublisher Commands { get; } = commands;
    public DeviceWatch Watch { get; } = watch;
    public TimeProvider Time { get; } = time;
    public IOptions<ControllerOptions> Options { get; } = options;
    public ControllerMetrics Metrics { get; } = metrics;
    public ILogger Logger { get; } = logger;
}

/// <summary>Spreads the periodic state writes of many devices over the write interval.</summary>
internal static class DeviceWritePhase
{
    /// <summary>A device's stable phase in [0, <paramref name="interval"/>): the same on every host and start.</summary>
    public static TimeSpan Of(string deviceId, TimeSpan interval)
    {
        if (interval <= TimeSpan.Zero) return TimeSpan.Zero;
        // A finalising mix on the stable hash: ids that differ in one digit land far apart.
        var hash = StableHash.Of(deviceId);
        hash ^= hash >> 16;
        hash *= 0x85ebca6bu;
        hash ^= hash >> 13;
        hash *= 0xc2b2ae35u;
        hash ^= hash >> 16;
        return TimeSpan.FromTicks((long)(hash / (uint.MaxValue + 1.0) * interval.Ticks));
    }
}
