namespace Campus.Controller.History;

/// <summary>Bucket size of an energy series.</summary>
public enum EnergyGranularity
{
    /// <summary>One bucket per local hour of the school (DST-correct: a DST day has 23 or 25 of them).</summary>
    Hour,
    /// <summary>One bucket per local calendar day of the school.</summary>
    Day,
    /// <summary>One bucket per local calendar month of the school, summed from the daily buckets.</summary>
    Month,
}

public enum EnergyTargetKind { District, School, Room }

/// <summary>What an energy series is about: the whole district, one school, or one room of a school.</summary>
public sealed record EnergyTarget
{
    private EnergyTarget(EnergyTargetKind kind, string? schoolId, string? roomId)
    {
        Kind = kind;
        SchoolId = schoolId;
        RoomId = roomId;
    }

    public EnergyTargetKind Kind { get; }
    public string? SchoolId { get; }
    public string? RoomId { get; }

    public static EnergyTarget District() => new(EnergyTargetKind.District, null, null);

    public static EnergyTarget School(string schoolId)
    {
        ArgumentException.ThrowIfNullOrEmpty(schoolId);
        return new(EnergyTargetKind.School, schoolId, null);
    }

    public static EnergyTarget Room(string schoolId, string roomId)
    {
        ArgumentException.ThrowIfNullOrEmpty(schoolId);
        ArgumentException.ThrowIfNullOrEmpty(roomId);
        return new(EnergyTargetKind.Room, schoolId, roomId);
    }

    public override string ToString() => Kind switch
    {
        EnergyTargetKind.District => "district",
        EnergyTargetKind.School => SchoolId!,
        _ => SchoolId + "/" + RoomId,
    };
}

/// <summary>
/// An energy series over local calendar dates [<see cref="From"/>, <see cref="To"/>] (both inclusive) in
/// the school's time zone. For the district, each school's own local dates are used for days and months,
/// and the district time zone (<see cref="HistoryOptions.DistrictTimeZoneId"/>) bounds hourly series.
/// </summary>
public sealed record EnergySeriesQuery(EnergyTarget Target, EnergyGranularity Granularity, DateOnly From, DateOnly To)
{
    /// <summary>Longest range per granularity, so that no query is unbounded.</summary>
    public static int MaxDays(EnergyGranularity granularity) => granularity switch
    {
        EnergyGranularity.Hour => 62,
        EnergyGranularity.Day => 1_100,
        _ => 3_700,
    };

    internal void Check()
    {
        ArgumentNullException.ThrowIfNull(Target);
        if (To < From)
        {
            throw new ArgumentException($"The range ends ({To:yyyy-MM-dd}) before it starts ({From:yyyy-MM-dd}).", nameof(To));
        }
        var days = To.DayNumber - From.DayNumber + 1;
        if (days > MaxDays(Granularity))
        {
            throw new ArgumentException($"A {Granularity} series covers at most {MaxDays(Granularity)} days; asked for {days}.", nameof(To));
        }
    }
}

/// <summary>
/// One bucket of an energy series; buckets without data are left out. Aggregation per quantity:
/// energy is summed, power is averaged over the reported samples, peak is the maximum sample.
/// </summary>
/// <param name="Start">Bucket start in the school's local offset (district: the district time zone for hours, UTC midnight of the date otherwise).</param>
/// <param name="EnergyKwh">Energy consumed in the bucket (sum of counter deltas).</param>
/// <param name="AfterHoursKwh">Part of <paramref name="EnergyKwh"/> consumed outside the school's opening hours.</param>
/// <param name="AvgPowerW">Mean of the reported power samples of the target's devices; null without samples.</param>
/// <param name="PeakPowerW">Largest power sample; null without samples.</param>
/// <param name="Samples">Telemetry readings that contributed.</param>
public sealed record EnergyPoint(DateTimeOffset Start, double EnergyKwh, double AfterHoursKwh, double? AvgPowerW, double? PeakPowerW, long Samples);

public sealed record EnergySeries(EnergyTarget Target, EnergyGranularity Granularity, IReadOnlyList<EnergyPoint> Points);

/// <summary>
/// After-hours waste ranking over local dates [From, To]: with a school, ranks its rooms; without, ranks
/// the district's schools. Highest after-hours energy first.
/// </summary>
public sealed record AfterHoursRankingQuery(string? SchoolId, DateOnly From, DateOnly To, RankPage Page = default);

/// <summary>One row of the after-hours waste ranking.</summary>
/// <param name="Share">After-hours energy divided by all energy (0..1); 0 when no energy at all.</param>
public sealed record AfterHoursRank(int Rank, EnergyTarget Target, double AfterHoursKwh, double EnergyKwh, double Share);

/// <summary>Latest access events of a school (or of all schools when null), optionally of one door or person.</summary>
public sealed record AccessLogQuery(string? SchoolId, string? DoorId = null, string? PersonId = null, DateTimeOffset? From = null, DateTimeOffset? To = null, PageRequest Page = default);

public sealed record AlertHistoryQuery(string? SchoolId, string? AlertId = null, DateTimeOffset? From = null, DateTimeOffset? To = null, PageRequest Page = default);

public sealed record AuditLogQuery(string? SchoolId, DateTimeOffset? From = null, DateTimeOffset? To = null, string? Actor = null, PageRequest Page = default);

/// <summary>Raw telemetry of one device, newest first, within [From, To) of receive time.</summary>
public sealed record TelemetryQuery(string SchoolId, string DeviceId, DateTimeOffset From, DateTimeOffset To, PageRequest Page = default);

public sealed record StoredTelemetry(long Id, TelemetryRecord Record);
