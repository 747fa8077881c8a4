namespace Campus.Controller.Domain;

/// <summary>When a time zone's UTC offset changes (daylight saving time, or a change of the zone's rules).</summary>
public static class ZoneOffsets
{
    /// <summary>How far ahead <see cref="NextChange"/> looks; DST zones change at least twice a year.</summary>
    public static readonly TimeSpan Horizon = TimeSpan.FromDays(400);

    /// <summary>How far ahead <see cref="Changes"/> looks by default: about two years, four changes of a DST zone.</summary>
    public static readonly TimeSpan ChangesHorizon = TimeSpan.FromDays(731);

    /// <summary>
    /// The first instant after <paramref name="after"/> at which the zone's UTC offset differs from
    /// its offset at <paramref name="after"/>, to the second; null when it does not change within
    /// <see cref="Horizon"/> (e.g. Asia/Shanghai, UTC).
    /// </summary>
    public static DateTimeOffset? NextChange(TimeZoneInfo zone, DateTimeOffset after)
    {
        ArgumentNullException.ThrowIfNull(zone);
        return NextChange(zone, after, after + Horizon);
    }

    /// <summary>
    /// The zone's offset changes after <paramref name="after"/> and within <paramref name="within"/> of it, in
    /// order, each to the second with the offset from then on (minutes); at most <paramref name="max"/>. Empty
    /// for a zone without daylight saving time.
    /// </summary>
    public static IReadOnlyList<(DateTimeOffset At, int OffsetMin)> Changes(TimeZoneInfo zone, DateTimeOffset after, TimeSpan within, int max)
    {
        ArgumentNullException.ThrowIfNull(zone);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var end = after + within;
        var changes = new List<(DateTimeOffset, int)>();
        var from = after;
        while (changes.Count < max && NextChange(zone, from, end) is { } at)
        {
            changes.Add((at, (int)zone.GetUtcOffset(at).TotalMinutes));
            from = at;
        }
        return changes;
    }

    private static DateTimeOffset? NextChange(TimeZoneInfo zone, DateTimeOffset after, DateTimeOffset end)
    {
        var offset = zone.GetUtcOffset(after);
        // Offsets change at most a few times a year and never twice within an hour: step by hours, then bisect.
        var low = after;
        for (var probe = after.AddHours(1); probe <= end; probe = probe.AddHours(1))
        {
            if (zone.GetUtcOffset(probe) == offset)
            {
                low = probe;
                continue;
            }
            var high = probe; // offset(low) == offset, offset(high) != offset
            while (high - low > TimeSpan.FromSeconds(1))
            {
                var mid = low + ((high - low) / 2);
                if (zone.GetUtcOffset(mid) == offset) low = mid; else high = mid;
            }
            return new DateTimeOffset(high.UtcTicks - (high.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        }
        return null;
    }
}
