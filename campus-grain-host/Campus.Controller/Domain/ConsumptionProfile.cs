namespace Campus.Controller.Domain;

/// <summary>Tuning of the consumption-spike rule.</summary>
public sealed record SpikeRule
{
    /// <summary>Weeks of history kept per hour of the week.</summary>
    public int WeeksKept { get; init; } = 8;

    /// <summary>No verdict before this many samples of the same hour of the week.</summary>
    public int MinSamples { get; init; } = 3;

    /// <summary>A spike is above median + this many robust standard deviations (1.4826 x MAD)...</summary>
    public double Sigmas { get; init; } = 4;

    /// <summary>...and above median x (1 + this)...</summary>
    public double MinRelativeIncrease { get; init; } = 0.5;

    /// <summary>...and above median + this many kWh (ignores noise in nearly idle rooms).</summary>
    public double MinAbsoluteIncreaseKwh { get; init; } = 0.5;
}

/// <summary>
/// A room's usual consumption per hour of the week (168 buckets, local time), robust to
/// outliers: the baseline of a bucket is the median of its last weeks and the spread the median
/// absolute deviation. A finished hour far above its bucket's baseline is a spike.
/// </summary>
public sealed class ConsumptionProfile
{
    /// <summary>Per hour of the week (0 = Monday 00:00), the last weeks' energy, oldest first.</summary>
    public List<double>[] Buckets { get; set; } = CreateBuckets();

    private static List<double>[] CreateBuckets()
    {
        var b = new List<double>[168];
        for (var i = 0; i < b.Length; i++) b[i] = [];
        return b;
    }

    public static int HourOfWeek(DateTime local) => ((TimeWindow.IsoDay(local.DayOfWeek) - 1) * 24) + local.Hour;

    /// <summary>The baseline (median) of a bucket, or null with too few samples.</summary>
    public double? Baseline(int hourOfWeek, SpikeRule rule)
    {
        var b = Buckets[hourOfWeek];
        return b.Count < rule.MinSamples ? null : Median(b);
    }

    /// <summary>Adds one finished hour; returns a spike signal when it is far above the usual.</summary>
    public AlertSignal? AddHour(DateTime localHourStart, double kwh, SpikeRule rule)
    {
        var bucket = Buckets[HourOfWeek(localHourStart)];
        AlertSignal? signal = null;
        if (bucket.Count >= rule.MinSamples)
        {
            var median = Median(bucket);
            var deviations = new List<double>(bucket.Count);
            foreach (var x in bucket) deviations.Add(Math.Abs(x - median));
            var spread = 1.4826 * Median(deviations);
            var limit = Math.Max(median + (rule.Sigmas * spread),
                Math.Max(median * (1 + rule.MinRelativeIncrease), median + rule.MinAbsoluteIncreaseKwh));
            if (kwh > limit)
                signal = new AlertSignal(AlertType.ConsumptionSpike, AlertSeverity.Warning,
                    $"{kwh:0.00} kWh in the hour from {localHourStart:ddd HH:mm}; usual {median:0.00} kWh (limit {limit:0.00}).");
        }
        bucket.Add(kwh);
        if (bucket.Count > rule.WeeksKept) bucket.RemoveAt(0);
        return signal;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

/// <summary>
/// Sums energy into local clock hours; when a reading falls in a later hour, the finished hour
/// is handed back (hours with no reading at all are skipped).
/// </summary>
public sealed class HourAccumulator
{
    public DateTime? HourStart { get; set; }
    public double Kwh { get; set; }

    public (DateTime HourStart, double Kwh)? Add(DateTimeOffset now, TimeZoneInfo zone, double kwh)
    {
        var finished = Roll(now, zone);
        Kwh += kwh;
        return finished;
    }

    /// <summary>Closes the current hour if the clock has moved past it.</summary>
    public (DateTime HourStart, double Kwh)? Roll(DateTimeOffset now, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone).DateTime;
        var hour = new DateTime(local.Year, local.Month, local.Day, local.Hour, 0, 0, DateTimeKind.Unspecified);
        if (HourStart == hour) return null;
        (DateTime, double)? finished = HourStart is { } h ? (h, Kwh) : null;
        HourStart = hour;
        Kwh = 0;
        return finished;
    }
}
