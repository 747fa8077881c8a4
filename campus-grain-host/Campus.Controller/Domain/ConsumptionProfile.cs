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

    /// <summary>
    /// Power spikes: the room's power now is above its usual peak power for this hour of the week
    /// (median of past weeks) + <see cref="Sigmas"/> robust standard deviations, above that usual
    /// power x this...
    /// </summary>
    public double PowerFactor { get; init; } = 2.5;

    /// <summary>...and above that usual power + this many watts (a kettle or a heater is no spike)...</summary>
    public double MinPowerIncreaseW { get; init; } = 5000;

    /// <summary>...and has been, at every report, for at least this long (a motor's inrush is no spike).</summary>
    public TimeSpan PowerMinDuration { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The hours of the week around the current one whose usual power counts: the highest limit among
    /// them applies. One hour: the same hour of past weeks only. Demo mode, whose simulated district lives
    /// days in minutes of the controller's clock, sets a whole week (the room's busiest usual hour).
    /// </summary>
    public TimeSpan PowerBaselineSpan { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// A room's usual consumption per hour of the week (168 buckets, local time), robust to
/// outliers: the baseline of a bucket is the median of its last weeks and the spread the median
/// absolute deviation. Two verdicts use it: a finished hour whose energy is far above its bucket's
/// baseline is a spike (<see cref="AddHour"/>), and so is power far above the bucket's usual peak
/// power, held for <see cref="SpikeRule.PowerMinDuration"/> (<see cref="AddPower"/>): that one is
/// raised while the load is on, not when its hour ends. The usual power can be learned from the
/// energy history of past weeks (<see cref="SeedPower"/>) instead of waiting weeks for it.
/// </summary>
public sealed class ConsumptionProfile
{
    /// <summary>Per hour of the week (0 = Monday 00:00), the last weeks' energy, oldest first.</summary>
    public List<double>[] Buckets { get; set; } = CreateBuckets();

    /// <summary>
    /// Per hour of the week, the last weeks' peak room power (W) in that hour, oldest first. Peaks, not
    /// means: a large load that runs part of an hour every week (a kiln, an oven, a charger) sets the
    /// usual peak, so it is not taken for a spike every week.
    /// </summary>
    public List<double>[] PowerBuckets { get; set; } = CreateBuckets();

    /// <summary>The local hour being watched and the highest room power reported in it (null: no report yet).</summary>
    public DateTime? PowerHourStart { get; set; }
    public double? PowerHourPeakW { get; set; }

    /// <summary>Since when the room's power is above its bucket's limit (null: it is not).</summary>
    public DateTimeOffset? PowerOverSince { get; set; }

    /// <summary>The current excursion above the limit was signalled (once per excursion).</summary>
    public bool PowerRaised { get; set; }

    // The current hour's limit, computed once per hour and rule (reports are frequent; buckets change hourly).
    private int _limitHour = -1;
    private SpikeRule? _limitRule;
    private (double Usual, double Limit)? _limit;

    /// <summary>True when no hour of the week has a usual power yet.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool HasNoPowerHistory => Array.TrueForAll(PowerBuckets, b => b.Count == 0);

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
            var (median, spread) = Baseline(bucket);
            var limit = Math.Max(median + (rule.Sigmas * spread),
                Math.Max(median * (1 + rule.MinRelativeIncrease), median + rule.MinAbsoluteIncreaseKwh));
            if (kwh > limit)
                signal = new AlertSignal(AlertType.ConsumptionSpike, AlertSeverity.Warning,
                    $"{kwh:0.00} kWh in the hour from {localHourStart:ddd HH:mm}; usual {median:0.00} kWh (limit {limit:0.00}).");
        }
        Keep(bucket, kwh, rule);
        return signal;
    }

    /// <summary>Adds a week's value to a bucket, which keeps the last <see cref="SpikeRule.WeeksKept"/>.</summary>
    private static void Keep(List<double> bucket, double value, SpikeRule rule)
    {
        bucket.Add(value);
        if (bucket.Count > rule.WeeksKept) bucket.RemoveAt(0);
    }

    /// <summary>A bucket's median and its robust standard deviation (1.4826 x the median absolute deviation).</summary>
    private static (double Median, double Spread) Baseline(List<double> bucket)
    {
        var median = Median(bucket);
        var deviations = new List<double>(bucket.Count);
        foreach (var x in bucket) deviations.Add(Math.Abs(x - median));
        return (median, 1.4826 * Median(deviations));
    }

    /// <summary>
    /// Fills the usual power from past hours (local hour start, peak power in W), oldest first; only
    /// the last <see cref="SpikeRule.WeeksKept"/> of each hour of the week are kept.
    /// </summary>
    public void SeedPower(IEnumerable<(DateTime LocalHourStart, double PeakPowerW)> hours, SpikeRule rule)
    {
        ArgumentNullException.ThrowIfNull(hours);
        foreach (var (start, w) in hours.OrderBy(h => h.LocalHourStart))
        {
            Keep(PowerBuckets[HourOfWeek(start)], w, rule);
        }
        _limitHour = -1;
    }

    /// <summary>
    /// The power limit of an hour of the week (W) and the usual power it comes from: the highest of the
    /// hours within <see cref="SpikeRule.PowerBaselineSpan"/> around it; null when none has enough weeks.
    /// </summary>
    public (double Usual, double Limit)? PowerLimit(int hourOfWeek, SpikeRule rule)
    {
        var span = Math.Clamp((int)Math.Round(rule.PowerBaselineSpan.TotalHours), 1, 168);
        (double Usual, double Limit)? best = null;
        for (var k = -(span / 2); k < span - (span / 2); k++)
        {
            if (BucketLimit((hourOfWeek + k + 168) % 168, rule) is { } l && (best is null || l.Limit > best.Value.Limit)) best = l;
        }
        return best;
    }

    private (double Usual, double Limit)? BucketLimit(int hourOfWeek, SpikeRule rule)
    {
        var b = PowerBuckets[hourOfWeek];
        if (b.Count < rule.MinSamples) return null;
        var (median, spread) = Baseline(b);
        return (median, Math.Max(median + (rule.Sigmas * spread), Math.Max(median * rule.PowerFactor, median + rule.MinPowerIncreaseW)));
    }

    /// <summary>
    /// Takes the room's power at a report: keeps the local hour's highest power (a finished
    /// hour becomes a week of its bucket) and returns a spike signal once the power has stayed above
    /// the bucket's limit for <see cref="SpikeRule.PowerMinDuration"/>. An excursion is signalled once.
    /// </summary>
    public AlertSignal? AddPower(DateTimeOffset now, DateTime local, double powerW, SpikeRule rule)
    {
        var hour = new DateTime(local.Year, local.Month, local.Day, local.Hour, 0, 0, DateTimeKind.Unspecified);
        if (PowerHourStart != hour)
        {
            if (PowerHourStart is { } finished && PowerHourPeakW is { } peak)
            {
                Keep(PowerBuckets[HourOfWeek(finished)], peak, rule);
                _limitHour = -1;
            }
            PowerHourStart = hour;
            PowerHourPeakW = null;
        }

        // Judged before this report counts into its hour: the spike is measured against past weeks only.
        var how = HourOfWeek(hour);
        if (_limitHour != how || !ReferenceEquals(_limitRule, rule))
        {
            _limit = PowerLimit(how, rule);
            (_limitHour, _limitRule) = (how, rule);
        }
        var limit = _limit;
        PowerHourPeakW = Math.Max(PowerHourPeakW ?? powerW, powerW);
        if (limit is not { } l || powerW <= l.Limit)
        {
            PowerOverSince = null;
            PowerRaised = false;
            return null;
        }
        PowerOverSince ??= now;
        if (PowerRaised || now - PowerOverSince.Value < rule.PowerMinDuration) return null;
        PowerRaised = true;
        return new AlertSignal(AlertType.ConsumptionSpike, AlertSeverity.Warning,
            $"Power {powerW / 1000:0.0} kW since {local.AddTicks(-(now - PowerOverSince.Value).Ticks):ddd HH:mm:ss}; usual {l.Usual / 1000:0.00} kW at this time of the week (limit {l.Limit / 1000:0.00} kW).");
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
