namespace Campus.Controller.History;

/// <summary>Rollup scopes as stored in the rollup tables.</summary>
internal static class RollupScope
{
    public const int Room = 1;
    public const int School = 2;

    public static string RoomEntity(string schoolId, string roomId) => schoolId + "/" + roomId;
}

/// <summary>The last counter reading of a meter: where the next delta starts from.</summary>
internal readonly record struct MeterState(uint Boot, uint Seq, double EnergyKwh, long AtMs);

/// <summary>A rollup row: hourly buckets are keyed by the UTC instant (Unix ms) of the local hour start, daily by the local date as yyyymmdd.</summary>
internal readonly record struct BucketKey(int Scope, string Entity, long Bucket);

/// <summary>Increments to one rollup row (or, read back, the row itself).</summary>
internal sealed class BucketDelta
{
    public BucketDelta(string schoolId) => SchoolId = schoolId;

    public string SchoolId { get; }
    public double EnergyKwh { get; set; }
    public double AfterHoursKwh { get; set; }
    public double PowerSum { get; set; }
    public long PowerCount { get; set; }
    public double? PeakPowerW { get; set; }
    public long Samples { get; set; }

    public void Add(double energyKwh, bool afterHours, double? powerW)
    {
        EnergyKwh += energyKwh;
        if (afterHours)
        {
            AfterHoursKwh += energyKwh;
        }
        if (powerW is { } p)
        {
            PowerSum += p;
            PowerCount++;
            PeakPowerW = PeakPowerW is { } peak ? Math.Max(peak, p) : p;
        }
        Samples++;
    }

    public void Add(BucketDelta other)
    {
        EnergyKwh += other.EnergyKwh;
        AfterHoursKwh += other.AfterHoursKwh;
        PowerSum += other.PowerSum;
        PowerCount += other.PowerCount;
        if (other.PeakPowerW is { } p)
        {
            PeakPowerW = PeakPowerW is { } peak ? Math.Max(peak, p) : p;
        }
        Samples += other.Samples;
    }
}

/// <summary>The rollup increments and meter states of one batch, to be written in the batch's transaction.</summary>
internal sealed class RollupBatch
{
    public Dictionary<BucketKey, BucketDelta> Hourly { get; } = [];
    public Dictionary<BucketKey, BucketDelta> Daily { get; } = [];
    /// <summary>Meter states changed by the batch (device id to state), for the stores that keep them here.</summary>
    public Dictionary<string, MeterState> MeterStates { get; } = new(StringComparer.Ordinal);

    public bool IsEmpty => Hourly.Count == 0 && Daily.Count == 0 && MeterStates.Count == 0;

    public void Clear()
    {
        Hourly.Clear();
        Daily.Clear();
        MeterStates.Clear();
    }
}

/// <summary>
/// Turns telemetry readings into energy rollup increments: the energy of a reading is the delta of the
/// meter's cumulative counter since the previous (newer-than-stored) reading of that meter, booked to the
/// local hour and local day of the reading in the school's time zone, and to after-hours when the reading
/// falls outside the school's opening hours. Pure logic: every store uses it, inside its write transaction.
/// </summary>
internal sealed class EnergyRollup
{
    private readonly double _maxPlausiblePowerKw;
    private readonly long _maxClockSkewMs;

    public EnergyRollup(HistoryOptions options)
    {
        _maxPlausiblePowerKw = options.MaxPlausiblePowerKw;
        _maxClockSkewMs = (long)options.MaxClockSkew.TotalMilliseconds;
    }

    /// <summary>The time a reading is booked at: the device clock when set and not ahead of the receive time by more than the allowed skew.</summary>
    public long BookingTimeMs(TelemetryRecord r) =>
        BookingTimeMs(r.DeviceTime?.ToUnixTimeMilliseconds(), r.ReceivedAt.ToUnixTimeMilliseconds());

    /// <summary>The same, from a stored row's device time and receive time (Unix ms).</summary>
    public long BookingTimeMs(long? deviceTimeMs, long receivedMs) =>
        deviceTimeMs is { } device && device <= receivedMs + _maxClockSkewMs ? device : receivedMs;

    /// <summary>
    /// Adds the reading's increments to <paramref name="batch"/>. <paramref name="previous"/> is the meter's
    /// last state (from the batch, a cache or the database), null when it has none yet. Returns the meter's
    /// new state when the reading was counted, else null; the caller keeps it.
    /// </summary>
    public MeterState? Apply(TelemetryRecord r, MeterState? previous, SchoolProfile school, RollupBatch batch)
    {
        if (r.EnergyKwh is null && r.PowerW is null)
        {
            return null;
        }
        var atMs = BookingTimeMs(r);
        var energy = 0.0;
        MeterState? counted = null;
        if (r.EnergyKwh is { } counter)
        {
            if (previous is not { } last || IsNewer(r, atMs, last))
            {
                energy = previous is { } before ? Delta(before, counter, atMs) : 0;
                counted = new MeterState(r.Boot, r.Seq, counter, atMs);
            }
            // An older reading arriving late adds no energy: the newer one already counted it.
        }

        var at = DateTimeOffset.FromUnixTimeMilliseconds(atMs);
        var local = TimeZoneInfo.ConvertTime(at, school.TimeZone).DateTime;
        var hourStartMs = atMs - (((local.Minute * 60L) + local.Second) * 1000L + local.Millisecond);
        var day = DayKey(DateOnly.FromDateTime(local));
        var afterHours = school.IsAfterHours(local);
        var room = RollupScope.RoomEntity(r.SchoolId, r.RoomId);

        Book(batch.Hourly, new BucketKey(RollupScope.Room, room, hourStartMs), r.SchoolId, energy, afterHours, r.PowerW);
        Book(batch.Hourly, new BucketKey(RollupScope.School, r.SchoolId, hourStartMs), r.SchoolId, energy, afterHours, r.PowerW);
        Book(batch.Daily, new BucketKey(RollupScope.Room, room, day), r.SchoolId, energy, afterHours, r.PowerW);
        Book(batch.Daily, new BucketKey(RollupScope.School, r.SchoolId, day), r.SchoolId, energy, afterHours, r.PowerW);
        return counted;
    }

    private static bool IsNewer(TelemetryRecord r, long atMs, MeterState last) =>
        r.Boot == last.Boot ? r.Seq > last.Seq : atMs >= last.AtMs;

    private double Delta(MeterState last, double counter, long atMs)
    {
        var delta = counter - last.EnergyKwh;
        if (delta >= 0)
        {
            return delta;
        }
        // The counter went down: a reset. If the new value could have been used since the last reading,
        // the meter restarted from zero and the new value is the energy since; otherwise it is a new baseline.
        var hours = Math.Max(0, atMs - last.AtMs) / 3_600_000.0;
        return counter <= _maxPlausiblePowerKw * hours ? counter : 0;
    }

    private static void Book(Dictionary<BucketKey, BucketDelta> buckets, BucketKey key, string school, double energy, bool afterHours, double? powerW)
    {
        if (!buckets.TryGetValue(key, out var delta))
        {
            delta = new BucketDelta(school);
            buckets.Add(key, delta);
        }
        delta.Add(energy, afterHours, powerW);
    }

    public static int DayKey(DateOnly date) => (date.Year * 10_000) + (date.Month * 100) + date.Day;

    public static DateOnly FromDayKey(long key) => new((int)(key / 10_000), (int)(key / 100 % 100), (int)(key % 100));

    /// <summary>The instant local midnight of <paramref name="date"/> happens in <paramref name="zone"/>.</summary>
    public static DateTimeOffset LocalMidnight(DateOnly date, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        // Where DST starts at midnight, the day begins at the first valid local time.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(30);
        }
        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    /// <summary>A rollup instant shown in the zone's local offset.</summary>
    public static DateTimeOffset ToLocal(long unixMs, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(unixMs), zone);
}
