using System.Globalization;

namespace Campus.Controller.History;

/// <summary>A weekly opening window of a school, in its local time. <see cref="To"/> is exclusive.</summary>
public readonly record struct OpeningWindow(DayOfWeek Day, TimeOnly From, TimeOnly To);

/// <summary>
/// What the history needs to know about a school: its IANA time zone (daily buckets follow its local days,
/// DST included) and its opening hours (energy outside them counts as after-hours).
/// </summary>
public sealed record SchoolProfile
{
    public SchoolProfile(string schoolId, string timeZoneId, IReadOnlyList<OpeningWindow> openingHours)
    {
        ArgumentException.ThrowIfNullOrEmpty(schoolId);
        ArgumentException.ThrowIfNullOrEmpty(timeZoneId);
        ArgumentNullException.ThrowIfNull(openingHours);
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(timeZoneId, out var zone))
        {
            throw new ArgumentException($"Unknown time zone '{timeZoneId}'; use an IANA id such as Asia/Shanghai.", nameof(timeZoneId));
        }
        foreach (var w in openingHours)
        {
            if (w.To <= w.From && w.To != TimeOnly.MinValue)
            {
                throw new ArgumentException($"Opening window {w.Day} {w.From:HH\\:mm}-{w.To:HH\\:mm} ends before it starts.", nameof(openingHours));
            }
        }
        SchoolId = schoolId;
        TimeZoneId = timeZoneId;
        TimeZone = zone;
        OpeningHours = openingHours;
    }

    public string SchoolId { get; }
    public string TimeZoneId { get; }
    public TimeZoneInfo TimeZone { get; }
    public IReadOnlyList<OpeningWindow> OpeningHours { get; }

    /// <summary>Monday to Friday, 07:00 to 18:00.</summary>
    public static IReadOnlyList<OpeningWindow> WeekdaysSevenToSix { get; } =
    [
        new(DayOfWeek.Monday, new(7, 0), new(18, 0)),
        new(DayOfWeek.Tuesday, new(7, 0), new(18, 0)),
        new(DayOfWeek.Wednesday, new(7, 0), new(18, 0)),
        new(DayOfWeek.Thursday, new(7, 0), new(18, 0)),
        new(DayOfWeek.Friday, new(7, 0), new(18, 0)),
    ];

    /// <summary>True when the local time is outside every opening window of its weekday.</summary>
    public bool IsAfterHours(DateTime local)
    {
        var day = local.DayOfWeek;
        var time = TimeOnly.FromDateTime(local);
        foreach (var w in OpeningHours)
        {
            // A window ending at 00:00 runs to the end of the day.
            if (w.Day == day && time >= w.From && (w.To == TimeOnly.MinValue || time < w.To))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Opening hours as stored: "1=07:00-18:00;2=07:00-18:00" (1 = Monday ... 7 = Sunday).</summary>
    internal string FormatOpeningHours()
    {
        var parts = new List<string>(OpeningHours.Count);
        foreach (var w in OpeningHours)
        {
            var iso = w.Day == DayOfWeek.Sunday ? 7 : (int)w.Day;
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{iso}={w.From:HH\\:mm}-{w.To:HH\\:mm}"));
        }
        return string.Join(';', parts);
    }

    internal static IReadOnlyList<OpeningWindow> ParseOpeningHours(string text)
    {
        var windows = new List<OpeningWindow>();
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var dash = part.IndexOf('-', eq + 1);
            if (eq != 1 || dash < 0 || part[0] is < '1' or > '7')
            {
                throw new FormatException($"Opening window '{part}' is not like '1=07:00-18:00'.");
            }
            var iso = part[0] - '0';
            windows.Add(new OpeningWindow(
                iso == 7 ? DayOfWeek.Sunday : (DayOfWeek)iso,
                TimeOnly.ParseExact(part.AsSpan(eq + 1, dash - eq - 1), "HH:mm", CultureInfo.InvariantCulture),
                TimeOnly.ParseExact(part.AsSpan(dash + 1), "HH:mm", CultureInfo.InvariantCulture)));
        }
        return windows;
    }
}
