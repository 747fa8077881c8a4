using Campus.Contracts;
using System.Globalization;

namespace Campus.Controller.Domain;

/// <summary>What a card holder is at school; decides who may pass during a lockdown.</summary>
public enum PersonRole
{
    Student,
    Teacher,
    Staff,
    Security,
    Admin,
    Visitor,
}

/// <summary>A card is usable only while it is active.</summary>
public enum CardStatus
{
    Active,
    Blocked,
    Lost,
    Expired,
}

/// <summary>One campus card (UID in upper-case hex, 8 or 14 digits).</summary>
public sealed record AccessCard(string Uid, CardStatus Status);

/// <summary>
/// A window of local time on some days of the week. <see cref="Days"/> holds digits 1 (Monday)
/// to 7 (Sunday). A window whose end is at or before its start runs past midnight into the
/// next day (it belongs to the day it starts on).
/// </summary>
public sealed record TimeWindow(string Days, TimeOnly From, TimeOnly To)
{
    public static TimeWindow Parse(string days, string from, string to)
    {
        ArgumentException.ThrowIfNullOrEmpty(days);
        foreach (var c in days)
            if (c is < '1' or > '7')
                throw new ArgumentException($"Days must be digits 1 (Monday) to 7 (Sunday); got '{days}'.", nameof(days));
        return new TimeWindow(days,
            TimeOnly.ParseExact(from, "HH:mm", CultureInfo.InvariantCulture),
            TimeOnly.ParseExact(to, "HH:mm", CultureInfo.InvariantCulture));
    }

    /// <summary>ISO day number: 1 = Monday ... 7 = Sunday.</summary>
    public static int IsoDay(DayOfWeek d) => d == DayOfWeek.Sunday ? 7 : (int)d;

    public bool Contains(DateTime local)
    {
        var time = TimeOnly.FromDateTime(local);
        var day = IsoDay(local.DayOfWeek);
        if (From < To) return HasDay(day) && time >= From && time < To;
        // Overnight: from its start day's From until the next day's To.
        var previous = day == 1 ? 7 : day - 1;
        return (HasDay(day) && time >= From) || (HasDay(previous) && time < To);
    }

    private bool HasDay(int isoDay) => Days.Contains((char)('0' + isoDay), StringComparison.Ordinal);
}

/// <summary>A weekly schedule: the union of its windows. Empty means never.</summary>
public sealed record WeeklySchedule(IReadOnlyList<TimeWindow> Windows)
{
    public static readonly WeeklySchedule Always = new([new TimeWindow("1234567", TimeOnly.MinValue, TimeOnly.MinValue)]);

    public bool Contains(DateTime local)
    {
        foreach (var w in Windows)
            if (w.Contains(local)) return true;
        return false;
    }

    /// <summary>True when the instant, seen in the zone's local time, is inside a window.</summary>
    public bool Contains(DateTimeOffset instant, TimeZoneInfo zone) => Contains(TimeZoneInfo.ConvertTime(instant, zone).DateTime);
}

/// <summary>A person's right to enter the rooms of one access zone during a schedule.</summary>
public sealed record ZoneGrant(string Zone, WeeklySchedule Schedule);

/// <summary>A card holder: identity, role, cards and access zones.</summary>
public sealed record PersonProfile(
    string Id,
    string Name,
    PersonRole Role,
    string School,
    IReadOnlyList<AccessCard> Cards,
    IReadOnlyList<ZoneGrant> Zones);

/// <summary>Why access was granted or denied; the names are the wire values of the contracts.</summary>
public enum AccessReason
{
    Ok,
    UnknownCard,
    CardBlocked,
    OutsideSchedule,
    NoZone,
    Lockdown,
    Timeout,
}

public static class AccessReasons
{
    public static string ToWire(this AccessReason r) => r switch
    {
        AccessReason.Ok => "ok",
        AccessReason.UnknownCard => "unknown-card",
        AccessReason.CardBlocked => "card-blocked",
        AccessReason.OutsideSchedule => "outside-schedule",
        AccessReason.NoZone => "no-zone",
        AccessReason.Lockdown => "lockdown",
        AccessReason.Timeout => "timeout",
        _ => throw new ArgumentOutOfRangeException(nameof(r), r, "Unknown access reason."),
    };
}

/// <summary>The answer to one access request.</summary>
public readonly record struct AccessDecision(bool Granted, AccessReason Reason, string? PersonId);

/// <summary>
/// Access decisions for a door. The order of checks: card known, card active, lockdown
/// (only <see cref="PersonRole.Security"/> staff pass during a lockdown, so responders can
/// move), same school and a zone that holds the door's room, then that zone's schedule in the
/// school's local time.
/// </summary>
public static class AccessPolicy
{
    public static AccessDecision Decide(
        PersonProfile? person,
        string cardUid,
        string doorSchool,
        IReadOnlyCollection<string> doorZones,
        bool lockdown,
        DateTimeOffset now,
        TimeZoneInfo schoolZone)
    {
        if (person is null) return new AccessDecision(false, AccessReason.UnknownCard, null);
        AccessCard? card = null;
        foreach (var c in person.Cards)
            if (string.Equals(c.Uid, cardUid, StringComparison.OrdinalIgnoreCase)) { card = c; break; }
        if (card is null) return new AccessDecision(false, AccessReason.UnknownCard, null);
        if (card.Status != CardStatus.Active) return new AccessDecision(false, AccessReason.CardBlocked, person.Id);
        if (lockdown && person.Role != PersonRole.Security) return new AccessDecision(false, AccessReason.Lockdown, person.Id);
        if (!string.Equals(person.School, doorSchool, StringComparison.Ordinal))
            return new AccessDecision(false, AccessReason.NoZone, person.Id);

        var local = TimeZoneInfo.ConvertTime(now, schoolZone).DateTime;
        var anyZone = false;
        foreach (var grant in person.Zones)
        {
            if (!Contains(doorZones, grant.Zone)) continue;
            anyZone = true;
            if (grant.Schedule.Contains(local)) return new AccessDecision(true, AccessReason.Ok, person.Id);
        }
        return new AccessDecision(false, anyZone ? AccessReason.OutsideSchedule : AccessReason.NoZone, person.Id);
    }

    private static bool Contains(IReadOnlyCollection<string> zones, string zone)
    {
        foreach (var z in zones)
            if (string.Equals(z, zone, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>
    /// The cached allow-list of one door: every active card of the school's people whose zones
    /// hold the door, with the windows of those zones. Sorted by card for a stable document.
    /// </summary>
    public static List<AllowListEntry> BuildAllowList(IEnumerable<PersonProfile> people, string doorSchool, IReadOnlyCollection<string> doorZones)
    {
        var byCard = new SortedDictionary<string, List<TimeWindow>>(StringComparer.Ordinal);
        foreach (var p in people)
        {
            if (!string.Equals(p.School, doorSchool, StringComparison.Ordinal)) continue;
            List<TimeWindow>? windows = null;
            foreach (var g in p.Zones)
            {
                if (!Contains(doorZones, g.Zone)) continue;
                windows ??= [];
                windows.AddRange(g.Schedule.Windows);
            }
            if (windows is null) continue;
            foreach (var c in p.Cards)
            {
                if (c.Status != CardStatus.Active) continue;
                if (!byCard.TryGetValue(c.Uid, out var list)) byCard[c.Uid] = list = [];
                foreach (var w in windows) if (!list.Contains(w)) list.Add(w);
            }
        }
        var result = new List<AllowListEntry>(byCard.Count);
        foreach (var (card, windows) in byCard) result.Add(new AllowListEntry(card, windows));
        return result;
    }
}

/// <summary>One card of a door's allow-list and the windows it may enter in.</summary>
public sealed record AllowListEntry(string Card, IReadOnlyList<TimeWindow> Windows)
{
    /// <summary>
    /// The windows as a door reader reads them: there a window whose end equals its start is
    /// empty, while here it is a whole day from its start. Such a window is sent as its two
    /// halves with the same meaning: (days, X, 00:00) over midnight and (next days, 00:00, X), or
    /// for X = 00:00, (days, 00:00, 12:00) and (days, 12:00, 00:00).
    /// </summary>
    public IEnumerable<TimeWindow> ReaderWindows()
    {
        foreach (var w in Windows)
        {
            if (w.From != w.To)
            {
                yield return w;
            }
            else if (w.From == TimeOnly.MinValue)
            {
                var noon = new TimeOnly(12, 0);
                yield return w with { To = noon };
                yield return w with { From = noon, To = TimeOnly.MinValue };
            }
            else
            {
                yield return w with { To = TimeOnly.MinValue };
                var next = new char[w.Days.Length];
                for (var i = 0; i < next.Length; i++) next[i] = w.Days[i] == '7' ? '1' : (char)(w.Days[i] + 1);
                Array.Sort(next);
                yield return new TimeWindow(new string(next), TimeOnly.MinValue, w.From);
            }
        }
    }
}

/// <summary>
/// The controller's answer to one access request (the reader's (boot, seq), its request id and card), kept
/// from the moment it is decided until the request's access-log entry is stored.
/// </summary>
public sealed class AccessAnswer
{
    public uint Boot { get; set; }
    public uint Seq { get; set; }
    public string Req { get; set; } = "";
    public string Card { get; set; } = "";
    public bool Granted { get; set; }
    public AccessReason Reason { get; set; }
    public string? PersonId { get; set; }
    public DateTimeOffset DecidedAt { get; set; }
    /// <summary>Id of the access command that carries the answer (the same if it has to be sent again).</summary>
    public string CommandId { get; set; } = "";
    /// <summary>True once the answer was handed to the broker for the reader.</summary>
    public bool Published { get; set; }
}

/// <summary>
/// Answers a door gave whose requests are not logged yet. A request whose processing failed after its answer
/// went out (the log could not be stored) is not acknowledged, so the reader sends it again; the re-send is
/// answered from here, with the same decision, instead of being decided a second time. Bounded: the oldest
/// answer is forgotten beyond <see cref="Capacity"/>, as many as the replay guard keeps taken-back events, so
/// a request the guard lets back in always finds its answer (the guard forgets one as early or earlier: it also
/// keeps the door's other refused events); the re-send of a forgotten one is a replay.
/// </summary>
public sealed class AccessAnswerBook
{
    public const int Capacity = ReplayGuard.TakenBackCount;

    /// <summary>Oldest first.</summary>
    public List<AccessAnswer> Pending { get; set; } = [];

    /// <summary>The answer given to this request, or null when it was never answered (or forgotten).</summary>
    public AccessAnswer? Find(uint boot, uint seq, string req, string card)
    {
        foreach (var a in Pending)
        {
            if (a.Boot == boot && a.Seq == seq && string.Equals(a.Req, req, StringComparison.Ordinal) && string.Equals(a.Card, card, StringComparison.Ordinal))
                return a;
        }
        return null;
    }

    public AccessAnswer Add(AccessAnswer answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        Pending.RemoveAll(a => a.Boot == answer.Boot && a.Seq == answer.Seq);
        if (Pending.Count >= Capacity) Pending.RemoveRange(0, Pending.Count - Capacity + 1);
        Pending.Add(answer);
        return answer;
    }

    /// <summary>The request is logged: its re-sends are duplicates from now on, so the answer is no longer needed.</summary>
    public void Remove(AccessAnswer answer) => Pending.Remove(answer);
}
