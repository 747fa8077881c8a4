using Campus.Controller.Domain;

namespace Campus.Controller.Services;

/// <summary>Rules and timings of the controller (section "Campus:Controller").</summary>
public sealed class ControllerOptions
{
    public const string SectionName = "Campus:Controller";

    /// <summary>A device that sends nothing for this long is offline, per kind (energy, env, door, sign, maker).</summary>
    public Dictionary<string, TimeSpan> OfflineAfter { get; set; } = new(StringComparer.Ordinal)
    {
        ["energy"] = TimeSpan.FromSeconds(180),
        ["env"] = TimeSpan.FromSeconds(180),
        ["door"] = TimeSpan.FromSeconds(180),
        ["sign"] = TimeSpan.FromSeconds(300),
        ["maker"] = TimeSpan.FromSeconds(600),
    };

    /// <summary>How often devices are checked for missed heartbeats and held-open doors.</summary>
    public TimeSpan WatchInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Door timings (authorized window after a grant or exit request, held-open pre-alarm and alarm).</summary>
    public DoorTimings Door { get; set; } = new();

    /// <summary>Strike time sent with a grant, ms.</summary>
    public int OpenMs { get; set; } = 5000;

    /// <summary>Denied cards at one door: this many...</summary>
    public int DeniedCardsThreshold { get; set; } = 5;

    /// <summary>...within this time raise an alert.</summary>
    public TimeSpan DeniedCardsWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Power drawn by an empty room after hours for at least this long is waste.</summary>
    public TimeSpan AfterHoursEnergyMinDuration { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Consumption-spike rule (robust per-hour-of-week baseline).</summary>
    public SpikeRule Spike { get; set; } = new();

    /// <summary>
    /// A device grain writes its state at most this often for telemetry alone (the history row,
    /// idempotent on (device, boot, seq), is the durable record of each reading); security events,
    /// new boots, gaps and presence changes are written at once. Zero writes on every message.
    /// </summary>
    public TimeSpan DeviceStateWriteInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A room pushes its aggregate to its school at most this often (discrete changes go at once).</summary>
    public TimeSpan RoomReportInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan OfflineTimeout(string kind) =>
        OfflineAfter.TryGetValue(kind, out var t) && t > TimeSpan.Zero ? t : TimeSpan.FromSeconds(180);
}
