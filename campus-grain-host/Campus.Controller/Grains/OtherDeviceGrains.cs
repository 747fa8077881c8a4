using System.Text.Json;
using Campus.Contracts;
using Campus.Controller.History;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Grains.Storage;

namespace Campus.Controller.Grains;

/// <summary>An energy meter (or energy-environment node): energy deltas and power feed its room.</summary>
internal sealed class EnergyMeterGrain([PersistentState("device")] IPersistentState<DeviceState> state, DeviceServices services)
    : DeviceGrainBase<DeviceState>(state, services), IEnergyMeterGrain;

/// <summary>An environment and occupancy node: temperature, humidity and occupancy feed its room.</summary>
internal sealed class EnvNodeGrain([PersistentState("device")] IPersistentState<DeviceState> state, DeviceServices services)
    : DeviceGrainBase<DeviceState>(state, services), IEnvNodeGrain;

/// <summary>A class sign's persisted state.</summary>
internal sealed class ClassSignState : DeviceState
{
    public long CheckIns { get; set; }
}

/// <summary>An electronic class sign: check-ins, lockdown acknowledgements, tamper, presence.</summary>
internal sealed class ClassSignGrain([PersistentState("device")] IPersistentState<ClassSignState> state, DeviceServices services)
    : DeviceGrainBase<ClassSignState>(state, services), IClassSignGrain
{
    protected override async Task<IngestResult> ApplyEventAsync(DeviceMessage message, DeviceEvent ev)
    {
        if (ev is CheckinEvent checkin)
        {
            if (!await LogEventAsync(message, ev, checkin.Card, details: checkin.Lesson)) return IngestResult.Duplicate;
            S.CheckIns++;
            return IngestResult.Accepted;
        }
        return await base.ApplyEventAsync(message, ev);
    }
}

/// <summary>A maker kit's persisted state.</summary>
internal sealed class MakerKitState : DeviceState
{
    public string? Project { get; set; }
    public Dictionary<string, double> Readings { get; set; } = new(StringComparer.Ordinal);
    public List<string> Milestones { get; set; } = [];
}

/// <summary>A maker kit: sensor readings of its project and milestones.</summary>
internal sealed class MakerKitGrain([PersistentState("device")] IPersistentState<MakerKitState> state, DeviceServices services)
    : DeviceGrainBase<MakerKitState>(state, services), IMakerKitGrain
{
    protected override IReadOnlyDictionary<string, double>? ReadingsForSnapshot => S.Readings;

    protected override async Task<IngestResult> ApplyMakerReadingAsync(DeviceMessage message, MakerReading reading)
    {
        var stored = await Services.History.AppendAsync(new TelemetryRecord
        {
            SchoolId = S.School,
            RoomId = S.Room,
            DeviceId = DeviceId,
            Kind = S.Kind.ToWire(),
            Boot = reading.Boot,
            Seq = reading.Seq,
            DeviceTime = reading.Ts > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(reading.Ts) : null,
            ReceivedAt = message.ReceivedAt,
            ReadingsJson = JsonSerializer.Serialize(reading.Readings, ControllerJsonContext.Default.IReadOnlyDictionaryStringDouble),
        });
        if (stored == AppendResult.Duplicate) return IngestResult.Duplicate;
        S.Project = reading.Project;
        foreach (var (name, value) in reading.Readings) S.Readings[name] = value;
        return IngestResult.Accepted;
    }

    protected override async Task<IngestResult> ApplyEventAsync(DeviceMessage message, DeviceEvent ev)
    {
        if (ev is MilestoneEvent m)
        {
            if (!await LogEventAsync(message, ev, details: $"{m.Project} {m.Milestone.ToWire()} {m.Detail}")) return IngestResult.Duplicate;
            S.Milestones.Add($"{m.Project}:{m.Milestone.ToWire()}");
            if (S.Milestones.Count > 50) S.Milestones.RemoveAt(0);
            return IngestResult.Accepted;
        }
        return await base.ApplyEventAsync(message, ev);
    }
}
