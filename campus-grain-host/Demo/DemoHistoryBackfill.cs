using Campus.Controller.History;
using Campus.Controller.Services;
using Campus.Simulators.District;
using Microsoft.Extensions.Options;

namespace Campus.GrainHost.Demo;

/// <summary>
/// Gives a new demo district the past a real one has: a few weeks of hourly energy readings of each of
/// its meters before the simulated day (or the controller's current hour, if earlier), in each school's time zone, shaped like school
/// days (heating, lights and people during opening hours, the base load at night and on closed days).
/// With them the rooms learn their usual power (<see cref="Campus.Controller.Domain.ConsumptionProfile"/>)
/// at once, so that a power spike raises its consumption-spike alert on a fresh demo.
/// </summary>
/// <remarks>
/// The readings go through the history's normal write path (<see cref="ITelemetryHistory.AppendAsync"/>):
/// cumulative counters from zero, one reading at the start of the range and one at the end of each
/// hour, as boot <see cref="Boot"/> of each meter (the simulated fleet boots with the Unix time of its
/// run's start, never 1). Idempotent: a room that already has energy in the range is left alone, and
/// any reading written again would be a duplicate (same meter, boot and sequence number) that changes
/// nothing. Hours from the simulated day's start on are left to the simulated meters. Quick: a few
/// thousand readings for the small district, appended in batches (group commit).
/// </remarks>
internal sealed partial class DemoHistoryBackfill(
    ITelemetryHistory telemetry,
    IEnergyHistory energy,
    TimeProvider time,
    IOptions<ControllerOptions> controller,
    ILogger<DemoHistoryBackfill> logger)
{
    /// <summary>The boot number of the backfilled readings.</summary>
    public const uint Boot = 1;

    private const int InFlight = 512;
    private const int MetersAtOnce = 8;

    /// <summary>
    /// Weeks backfilled: one more than the spike rule needs of each hour of the week before it gives a
    /// verdict, so that hours skipped near the simulated day's start still leave enough.
    /// </summary>
    public int Weeks => controller.Value.Spike.MinSamples + 1;

    /// <summary>Backfills the rooms of <paramref name="district"/> that have no energy history in the range; returns the readings written.</summary>
    public async Task<int> RunAsync(DistrictModel district, DateTime simulationStartUtc, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(district);
        var started = time.GetTimestamp();
        var now = time.GetUtcNow().UtcDateTime;
        // The weeks before the simulated start (or before now, if that is earlier): the simulated meters
        // book their own readings from the simulated start on, and a meter's history must end before them.
        var end = new DateTime(Math.Min(now.Ticks, simulationStartUtc.Ticks), DateTimeKind.Utc);
        end = new DateTime(end.Ticks - (end.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc);
        var start = end.AddDays(-7 * Weeks);
        var jobs = new List<(SchoolModel School, RoomModel Room, DeviceModel Meter)>();
        var rooms = 0;
        foreach (var school in district.Schools)
        {
            foreach (var room in school.Rooms)
            {
                var meters = school.Devices.Where(d => d.Room == room.Id && d.Kind == "energy").ToList();
                if (meters.Count == 0 || await HasHistoryAsync(school, room.Id, start, end, cancellationToken).ConfigureAwait(false)) continue;
                rooms++;
                jobs.AddRange(meters.Select(m => (school, room, m)));
            }
        }
        // Several meters at once share the history's group commits; each meter's readings stay in order.
        var written = 0;
        await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = MetersAtOnce, CancellationToken = cancellationToken }, async (job, ct) =>
            Interlocked.Add(ref written, await WriteMeterAsync(job.School, job.Room, job.Meter, start, end, ct).ConfigureAwait(false))).ConfigureAwait(false);
        if (written > 0) LogBackfilled(logger, rooms, Weeks, written, (long)time.GetElapsedTime(started).TotalMilliseconds);
        return written;
    }

    private async Task<bool> HasHistoryAsync(SchoolModel school, string room, DateTime startUtc, DateTime endUtc, CancellationToken cancellationToken)
    {
        var from = DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(startUtc, school.TimeZone));
        var to = DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(endUtc, school.TimeZone));
        var series = await energy.GetEnergySeriesAsync(new EnergySeriesQuery(EnergyTarget.Room(school.Id, room), EnergyGranularity.Day, from, to), cancellationToken).ConfigureAwait(false);
        return series.Points.Any(p => p.Samples > 0);
    }

    private async Task<int> WriteMeterAsync(SchoolModel school, RoomModel room, DeviceModel meter, DateTime startUtc, DateTime endUtc, CancellationToken cancellationToken)
    {
        var deviceId = meter.Id;
        var pending = new List<Task<AppendResult>>(InFlight);
        var counter = 0.0;
        uint seq = 0;
        var written = 0;
        // Readings of one meter are appended in order; a batch completes before the next one starts.
        async Task AppendAsync(DateTime atUtc, double powerW)
        {
            var at = new DateTimeOffset(atUtc);
            pending.Add(telemetry.AppendAsync(new TelemetryRecord
            {
                SchoolId = school.Id,
                RoomId = room.Id,
                DeviceId = deviceId,
                Kind = "energy",
                Boot = Boot,
                Seq = ++seq,
                DeviceTime = at,
                ReceivedAt = at,
                EnergyKwh = Math.Round(counter, 3),
                PowerW = Math.Round(powerW, 1),
            }, cancellationToken).AsTask());
            if (pending.Count >= InFlight) await FlushAsync().ConfigureAwait(false);
        }
        async Task FlushAsync()
        {
            foreach (var r in await Task.WhenAll(pending).ConfigureAwait(false)) if (r == AppendResult.Inserted) written++;
            pending.Clear();
        }

        var first = true;
        for (var hour = startUtc; hour < endUtc; hour = hour.AddHours(1))
        {
            var local = TimeZoneInfo.ConvertTimeFromUtc(hour, school.TimeZone);
            var power = MeanPowerW(school, room, meter, local);
            if (first)
            {
                await AppendAsync(hour, power).ConfigureAwait(false);
                first = false;
            }
            counter += power / 1000;
            await AppendAsync(hour.AddHours(1).AddSeconds(-1), power).ConfigureAwait(false);
        }
        await FlushAsync().ConfigureAwait(false);
        return written;
    }

    /// <summary>
    /// A meter's mean power over the local hour starting at <paramref name="local"/>: the room's base load
    /// always; while the school is open, heating or cooling (30 W/m², half of it outside lessons), and
    /// during lessons (08:00-16:00, fewer at lunch) lights (8 W/m²) and 5 W per person. A bench circuit
    /// (INA219) draws a few watts, more during lessons. A few percent of noise, the same for the same hour.
    /// </summary>
    internal static double MeanPowerW(SchoolModel school, RoomModel room, DeviceModel meter, DateTime local)
    {
        var open = school.IsOpen(local.AddMinutes(30));
        var lessons = open && local.Hour is >= 8 and < 16
            ? (local.Hour == 12 ? 0.3 : 0.85) * (room.Kind == Campus.Simulators.District.RoomKind.Office ? 1 : 0.9)
            : 0;
        double w;
        if (meter.Options.TryGetValue("meter", out var kind) && kind == "ina219")
        {
            w = 3 + (lessons * 10);
        }
        else
        {
            w = room.BaseLoadW;
            if (open) w += 30 * room.AreaM2 * (lessons > 0 ? 1 : 0.5);
            w += lessons * ((8 * room.AreaM2) + (5 * Math.Max(2, room.Capacity)));
        }
        return w * (1 + (0.06 * (Noise(meter.Id, local) - 0.5)));
    }

    /// <summary>A number in [0, 1) that depends only on the meter and the hour.</summary>
    private static double Noise(string meter, DateTime local)
    {
        var h = 2166136261u;
        foreach (var c in meter) h = (h ^ c) * 16777619u;
        var x = (ulong)(h ^ (uint)(local.Ticks / TimeSpan.TicksPerHour)) * 0x9E3779B97F4A7C15UL;
        return (x >> 11) / (double)(1UL << 53);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo history: {Rooms} room(s) given {Weeks} weeks of hourly energy ({Readings} readings in {Milliseconds} ms)")]
    private static partial void LogBackfilled(ILogger logger, int rooms, int weeks, int readings, long milliseconds);
}
