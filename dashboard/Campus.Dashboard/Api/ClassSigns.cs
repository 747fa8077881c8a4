using System.Globalization;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Dashboard.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Campus.Dashboard.Api;

/// <summary>One card presented at a class sign for a lesson; <see cref="Person"/> and <see cref="Name"/> when the card is known.</summary>
public sealed record AttendanceCheckin(DateTimeOffset At, string Sign, string? Card, string? Person, string? Name);

/// <summary>The check-ins of one lesson (lesson id from the timetable, <c>{date}/{period}</c> when the dashboard sent it), one per card.</summary>
public sealed record AttendanceLesson(string Lesson, int? Period, IReadOnlyList<AttendanceCheckin> CheckIns);

/// <summary>A room's attendance on one school-local day, lesson by lesson.</summary>
public sealed record AttendanceDay(string Room, string Date, IReadOnlyList<AttendanceLesson> Lessons);

/// <summary>
/// Attendance from class signs: the <c>checkin</c> events of a room's signs on a day of the
/// school's time zone, grouped per lesson, each card counted once per lesson (its first tap),
/// with the card holder's name when the card is registered.
/// </summary>
internal static class ClassSigns
{
    /// <summary>Check-ins read per sign and day; a room with more is cut there.</summary>
    public const int MaxCheckinsPerSign = 1000;

    public static void Map(RouteGroupBuilder school) =>
        school.MapGet("/rooms/{room}/attendance", AttendanceEndpointAsync).RequireAuthorization(Policies.Signs);

    private static async Task<Results<Ok<AttendanceDay>, NotFound, ValidationProblem>> AttendanceEndpointAsync(string school, string room, CampusData data, string? date)
    {
        var spec = await data.SchoolAsync(school);
        if (spec is null) return TypedResults.NotFound();
        var day = data.Today(spec);
        if (!string.IsNullOrEmpty(date) && !DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out day))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["date"] = ["Use yyyy-MM-dd."] });
        if ((await data.RoomsAsync(school)).All(r => r.Id != room)) return TypedResults.NotFound();
        return TypedResults.Ok(await AttendanceAsync(data, spec, room, day));
    }

    public static async Task<AttendanceDay> AttendanceAsync(CampusData data, SchoolSpec school, string room, DateOnly day)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(school.TimeZoneId);
        var start = day.ToDateTime(TimeOnly.MinValue);
        var from = new DateTimeOffset(start, zone.GetUtcOffset(start));
        var next = start.AddDays(1);
        var to = new DateTimeOffset(next, zone.GetUtcOffset(next));
        var signs = (await data.DevicesAsync(school.Id).ConfigureAwait(false)).Where(d => d.Room == room && d.Kind == DeviceKind.Sign).Select(d => d.Id).ToList();
        var entries = new List<AccessLogEntry>();
        foreach (var sign in signs)
        {
            string? after = null;
            var read = 0;
            do
            {
                var page = await data.History.GetAccessLogAsync(new AccessLogQuery(school.Id, DoorId: sign, From: from, To: to, Page: new PageRequest(PageRequest.MaxLimit, after))).ConfigureAwait(false);
                entries.AddRange(page.Items.Select(e => e.Entry).Where(e => e.EventType == "checkin"));
                read += page.Items.Count;
                after = page.NextCursor;
            }
            while (after is not null && read < MaxCheckinsPerSign);
        }
        var holders = await CardHoldersAsync(data, school.Id, entries.Select(e => e.Card)).ConfigureAwait(false);
        var lessons = entries
            .GroupBy(e => e.Details ?? "", StringComparer.Ordinal)
            .Select(g => new AttendanceLesson(g.Key, PeriodOf(g.Key),
                [.. g.OrderBy(e => e.OccurredAt).DistinctBy(e => e.Card ?? "", StringComparer.OrdinalIgnoreCase).Select(e =>
                {
                    var p = e.Card is null ? null : holders.GetValueOrDefault(e.Card);
                    return new AttendanceCheckin(e.OccurredAt, e.DoorId, e.Card, p?.Id, p?.Name);
                })]))
            .OrderBy(l => l.Period ?? int.MaxValue).ThenBy(l => l.Lesson, StringComparer.Ordinal)
            .ToList();
        return new AttendanceDay(room, day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), lessons);
    }

    private static async Task<Dictionary<string, Controller.Domain.PersonProfile>> CardHoldersAsync(CampusData data, string school, IEnumerable<string?> cards)
    {
        var wanted = cards.Where(c => c is not null).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var result = new Dictionary<string, Controller.Domain.PersonProfile>(StringComparer.OrdinalIgnoreCase);
        if (wanted.Count == 0) return result;
        foreach (var p in await data.Registry.ListPeople(school).ConfigureAwait(false))
            foreach (var c in p.Cards)
                if (wanted.Contains(c.Uid)) result[c.Uid] = p;
        return result;
    }

    /// <summary>The period of a lesson id <c>{yyyy-MM-dd}/{period}</c>, or null for another form.</summary>
    internal static int? PeriodOf(string lesson)
    {
        var slash = lesson.LastIndexOf('/');
        return slash >= 0 && int.TryParse(lesson.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : null;
    }
}
