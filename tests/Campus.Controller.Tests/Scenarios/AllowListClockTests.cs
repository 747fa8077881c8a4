using System.Globalization;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.Testing;
using Campus.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Controller.Tests.Scenarios;

/// <summary>
/// A door's cached allow-list against the school's own decision, across a daylight-saving change,
/// midnight and the start of a week: the reader evaluates the list as the door firmware does
/// (local time = UTC + the list's tzOffsetMin; weekly windows; a window whose end is not after its
/// start runs past midnight).
/// </summary>
public sealed class AllowListClockTests
{
    private const string Card = "04A1B2C3";
    private const string AlwaysCard = "0A0B0C0D";

    public static TheoryData<string, string, int, int> Transitions => new()
    {
        // zone, local start (a Saturday noon), offset before, offset after (minutes)
        { "Europe/Berlin", "2026-03-28T12:00", 60, 120 },     // Sunday 29 March 02:00 -> 03:00
        { "America/New_York", "2026-10-31T12:00", -240, -300 }, // Sunday 1 November 02:00 -> 01:00
    };

    [Theory]
    [MemberData(nameof(Transitions))]
    public async Task A_reader_list_decides_like_the_school_before_and_after_a_dst_change_and_across_midnight_and_the_week_start(
        string zoneId, string localStart, int offsetBefore, int offsetAfter)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var startLocal = DateTime.ParseExact(localStart, "yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture);
        var time = new FakeTimeProvider(new DateTimeOffset(startLocal, zone.GetUtcOffset(startLocal)));
        await using var cluster = await CampusTestCluster.StartAsync(time, o =>
        {
            foreach (var kind in new[] { "energy", "env", "door", "sign", "maker" })
                o.Settings[$"Campus:Controller:OfflineAfter:{kind}"] = "60.00:00:00";
        });
        await AddSchoolWithDoorAsync(cluster, zoneId);
        // Early mornings every day (07:00-09:00), Saturday night into Sunday (22:00-02:30), and a whole
        // day from Sunday 10:00 into Monday (a window whose end is its start): both sides of the
        // change, its skipped or repeated hour, midnight and the week's start are inside or near a window.
        var schedule = new WeeklySchedule([TimeWindow.Parse("1234567", "07:00", "09:00"), TimeWindow.Parse("6", "22:00", "02:30"), TimeWindow.Parse("7", "10:00", "10:00")]);
        var person = new PersonProfile("p1", "Night guard", PersonRole.Staff, "s01", [new AccessCard(Card, CardStatus.Active)], [new ZoneGrant("labs", schedule)]);
        var always = new PersonProfile("p2", "Caretaker", PersonRole.Staff, "s01", [new AccessCard(AlwaysCard, CardStatus.Active)], [new ZoneGrant("labs", WeeklySchedule.Always)]);
        await cluster.Registry.UpsertPerson(person, "admin");
        await cluster.Registry.UpsertPerson(always, "admin");
        await cluster.School("s01").PushAllowLists();
        var first = LatestList(cluster);
        Assert.Equal(offsetBefore, first.TzOffsetMin);

        var transition = ZoneOffsets.NextChange(zone, time.GetUtcNow())!.Value;
        var end = time.GetUtcNow().AddHours(48); // Saturday noon to Monday noon, local
        var checkedAfter = 0;
        var oldListWrongAfter = 0;
        var offlineReaderWrong = new List<string>();
        while (time.GetUtcNow() < end)
        {
            time.Advance(TimeSpan.FromMinutes(10));
            var now = time.GetUtcNow();
            var expectedOffset = (int)zone.GetUtcOffset(now).TotalMinutes;
            await Poll.UntilAsync(() => LatestList(cluster).TzOffsetMin == expectedOffset,
                $"the door's allow-list carries the school's offset {expectedOffset} min at {now:u}", TimeSpan.FromSeconds(30));
            var list = LatestList(cluster);
            var truth = AccessPolicy.Decide(person, Card, "s01", ["labs"], lockdown: false, now, zone).Granted;
            Assert.True(ReaderGrants(list, Card, now) == truth,
                $"at {now:u} ({TimeZoneInfo.ConvertTime(now, zone):ddd HH:mm} local) the school says {(truth ? "grant" : "deny")} but the reader's list v{list.Version} (offset {list.TzOffsetMin}) says otherwise");
            Assert.True(ReaderGrants(list, AlwaysCard, now), $"at {now:u} the reader's list v{list.Version} denies a card that may always enter");
            // A door that went offline right after the first list keeps it, and follows its next offset change.
            if (ReaderGrants(first, Card, now, honourNextChange: true) != truth)
                offlineReaderWrong.Add($"{now:u} ({TimeZoneInfo.ConvertTime(now, zone):ddd HH:mm} local)");
            if (now >= transition)
            {
                checkedAfter++;
                if (ReaderGrants(first, Card, now, honourNextChange: false) != truth) oldListWrongAfter++;
            }
        }
        Assert.True(offlineReaderWrong.Count == 0, $"the first list, read by an offline door that follows its next offset change, disagrees with the school at {string.Join(", ", offlineReaderWrong)}");
        Assert.Equal(offsetAfter, LatestList(cluster).TzOffsetMin);
        Assert.True(checkedAfter > 100, $"only {checkedAfter} instants after the change were checked");
        Assert.True(oldListWrongAfter > 0, "the list from before the change, read without its next offset change, should be wrong somewhere after it (else this test proves nothing)");
        // Weekly windows in local time: midnight and Monday need no new list, the offset change does.
        var pushes = cluster.Commands.Where(c => c.Command is AllowlistCommand && c.Topic.Device == "d1" && c.Command.Ts >= first.Ts).Select(c => (AllowlistCommand)c.Command).ToList();
        Assert.True(pushes.Count == 2, string.Join("; ", pushes.Select(p => $"v{p.Version} at {DateTimeOffset.FromUnixTimeMilliseconds(p.Ts):u} offset {p.TzOffsetMin}")));
    }

    [Fact]
    public async Task A_pushed_list_carries_the_schools_next_offset_change_and_passes_the_contract()
    {
        // Saturday 2026-03-28 12:00 in Berlin (+60); summer time starts Sunday 01:00 UTC (+120), winter time 25 October 01:00 UTC.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.FromHours(1)));
        await using var cluster = await CampusTestCluster.StartAsync(time, o =>
        {
            foreach (var kind in new[] { "energy", "env", "door", "sign", "maker" })
                o.Settings[$"Campus:Controller:OfflineAfter:{kind}"] = "60.00:00:00";
        });
        await AddSchoolWithDoorAsync(cluster, "Europe/Berlin");
        var night = new WeeklySchedule([TimeWindow.Parse("6", "22:00", "06:00")]);
        await cluster.Registry.UpsertPerson(new PersonProfile("p1", "Night guard", PersonRole.Staff, "s01", [new AccessCard(Card, CardStatus.Active)], [new ZoneGrant("labs", night)]), "admin");
        await cluster.School("s01").PushAllowLists();

        var spring = LatestList(cluster);
        Assert.Equal(60, spring.TzOffsetMin);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), spring.NextOffsetAt);
        Assert.Equal(120, spring.NextOffsetMin);
        AssertPassesContract(spring);

        // At the change the school pushes again (to the doors that are online), with the change after it.
        time.Advance(new DateTimeOffset(2026, 3, 29, 1, 0, 1, TimeSpan.Zero) - time.GetUtcNow());
        await Poll.UntilAsync(() => LatestList(cluster).TzOffsetMin == 120, "the list is pushed again with summer time", TimeSpan.FromSeconds(30));
        var summer = LatestList(cluster);
        Assert.Equal(new DateTimeOffset(2026, 10, 25, 1, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), summer.NextOffsetAt);
        Assert.Equal(60, summer.NextOffsetMin);
        AssertPassesContract(summer);
    }

    [Fact]
    public async Task A_list_of_a_school_without_daylight_saving_carries_no_next_offset_change()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.FromHours(8)));
        await using var cluster = await CampusTestCluster.StartAsync(time);
        await AddSchoolWithDoorAsync(cluster, "Asia/Shanghai");
        await cluster.School("s01").PushAllowLists();
        var list = LatestList(cluster);
        Assert.Equal(480, list.TzOffsetMin);
        Assert.Null(list.NextOffsetAt);
        Assert.Null(list.NextOffsetMin);
        Assert.Null(list.OffsetChanges);
        var json = AssertPassesContract(list);
        Assert.DoesNotContain("nextOffset", json, StringComparison.Ordinal); // what an older door reads is unchanged
        Assert.DoesNotContain("offsetChanges", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pushed_list_carries_the_zones_changes_of_the_next_two_years_the_first_being_the_next_change()
    {
        // Saturday 2026-03-28 12:00 in Berlin (+60): the EU changes on the last Sundays of March and October at 01:00 UTC.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.FromHours(1)));
        await using var cluster = await CampusTestCluster.StartAsync(time);
        await AddSchoolWithDoorAsync(cluster, "Europe/Berlin");
        await cluster.School("s01").PushAllowLists();

        var list = LatestList(cluster);
        var expected = new (string At, int Min)[]
        {
            ("2026-03-29T01:00:00Z", 120), ("2026-10-25T01:00:00Z", 60), ("2027-03-28T01:00:00Z", 120),
            ("2027-10-31T01:00:00Z", 60), ("2028-03-26T01:00:00Z", 120),
        };
        Assert.NotNull(list.OffsetChanges);
        Assert.Equal(
            expected.Select(e => (DateTimeOffset.Parse(e.At, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), e.Min)),
            list.OffsetChanges.Select(c => (c.At!.Value, c.Min!.Value)));
        // Older doors read the same next change.
        Assert.Equal((list.NextOffsetAt, list.NextOffsetMin), (list.OffsetChanges[0].At, list.OffsetChanges[0].Min));
        var json = AssertPassesContract(list);
        Assert.Contains("\"offsetChanges\":[{\"at\":1774746000000,\"min\":120},", json, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Europe/Berlin", "2026-03-28T12:00")]
    [InlineData("America/New_York", "2026-10-31T12:00")]
    [InlineData("Australia/Lord_Howe", "2026-04-04T12:00")] // half-hour daylight saving time
    public async Task A_door_offline_after_one_list_decides_like_the_school_across_the_next_four_offset_changes(string zoneId, string localStart)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var startLocal = DateTime.ParseExact(localStart, "yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture);
        var time = new FakeTimeProvider(new DateTimeOffset(startLocal, zone.GetUtcOffset(startLocal)));
        await using var cluster = await CampusTestCluster.StartAsync(time);
        await AddSchoolWithDoorAsync(cluster, zoneId);
        // Windows on both sides of the changes' local hours (01:00-04:00 on the change night), every day.
        var schedule = new WeeklySchedule([TimeWindow.Parse("1234567", "01:30", "02:15"), TimeWindow.Parse("1234567", "02:45", "03:30")]);
        var person = new PersonProfile("p1", "Night guard", PersonRole.Staff, "s01", [new AccessCard(Card, CardStatus.Active)], [new ZoneGrant("labs", schedule)]);
        await cluster.Registry.UpsertPerson(person, "admin");
        await cluster.School("s01").PushAllowLists();
        var list = LatestList(cluster);

        // The door keeps this one list: around each of the zone's next four changes (a day either side, every
        // 5 minutes) its decision, by its own clock, is the school's.
        var changes = ZoneOffsets.Changes(zone, time.GetUtcNow(), ZoneOffsets.ChangesHorizon, 4);
        Assert.Equal(4, changes.Count);
        var wrong = new List<string>();
        var nextOnlyWrong = 0;
        foreach (var (at, _) in changes)
        {
            for (var now = at.AddDays(-1); now <= at.AddDays(1); now = now.AddMinutes(5))
            {
                var truth = AccessPolicy.Decide(person, Card, "s01", ["labs"], lockdown: false, now, zone).Granted;
                if (ReaderGrants(list, Card, now) != truth)
                    wrong.Add($"{now:u} ({TimeZoneInfo.ConvertTime(now, zone):ddd HH:mm} local)");
                if (ReaderGrants(list, Card, now, honourOffsetChanges: false) != truth) nextOnlyWrong++;
            }
        }
        Assert.True(wrong.Count == 0, $"the list v{list.Version}, read by a door offline since it came, disagrees with the school at {string.Join(", ", wrong)}");
        Assert.True(nextOnlyWrong > 0, "a door that follows only nextOffsetAt should be wrong after the second change (else this test proves nothing)");
    }

    [Theory]
    [InlineData("Europe/Berlin", "2026-01-10T00:00:00Z", 8, "2026-03-29T01:00:00Z", 120, "2027-10-31T01:00:00Z", 60, 4)]
    [InlineData("Australia/Lord_Howe", "2026-01-10T00:00:00Z", 8, "2026-04-04T15:00:00Z", 630, "2027-10-02T15:30:00Z", 660, 4)]
    [InlineData("Europe/Berlin", "2026-01-10T00:00:00Z", 2, "2026-03-29T01:00:00Z", 120, "2026-10-25T01:00:00Z", 60, 2)]
    public void The_zones_offset_changes_of_the_next_two_years_are_found_in_order(
        string zoneId, string after, int max, string first, int firstMin, string last, int lastMin, int count)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var found = ZoneOffsets.Changes(zone, DateTimeOffset.Parse(after, CultureInfo.InvariantCulture), ZoneOffsets.ChangesHorizon, max);
        Assert.Equal(count, found.Count);
        Assert.Equal((DateTimeOffset.Parse(first, CultureInfo.InvariantCulture), firstMin), found[0]);
        Assert.Equal((DateTimeOffset.Parse(last, CultureInfo.InvariantCulture), lastMin), found[^1]);
        for (var i = 1; i < found.Count; i++) Assert.True(found[i].At > found[i - 1].At);
        Assert.Empty(ZoneOffsets.Changes(TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai"), DateTimeOffset.Parse(after, CultureInfo.InvariantCulture), ZoneOffsets.ChangesHorizon, max));
    }

    /// <summary>The list as it goes on the wire, read back through the contracts' validation.</summary>
    private static string AssertPassesContract(AllowlistCommand list)
    {
        var bytes = PayloadWriter.Write(list);
        var read = PayloadReader.ReadCommand(bytes, CommandNames.Allowlist, DeviceKind.Door);
        Assert.True(read.IsValid, $"{read.Field}: {read.Message}");
        Assert.Equal(list.NextOffsetAt, ((AllowlistCommand)read.Value).NextOffsetAt);
        return System.Text.Encoding.UTF8.GetString(bytes);
    }

    [Fact]
    public async Task A_school_without_daylight_saving_never_pushes_its_lists_again_for_the_clock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.FromHours(8)));
        await using var cluster = await CampusTestCluster.StartAsync(time);
        await AddSchoolWithDoorAsync(cluster, "Asia/Shanghai");
        time.Advance(TimeSpan.FromSeconds(2)); // the lists pushed for the new door
        await Poll.UntilAsync(() => cluster.Commands.Any(c => c.Command is AllowlistCommand), "the new door gets its list", TimeSpan.FromSeconds(30));
        var before = cluster.Commands.Count(c => c.Command is AllowlistCommand);
        for (var i = 0; i < 24 * 9; i++) time.Advance(TimeSpan.FromHours(1));
        await cluster.School("s01").GetSnapshot(); // a turn of the school after the clock moved
        Assert.Equal(before, cluster.Commands.Count(c => c.Command is AllowlistCommand));
        Assert.Null(ZoneOffsets.NextChange(TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai"), time.GetUtcNow()));
    }

    [Theory]
    [InlineData("Europe/Berlin", "2026-01-10T00:00:00Z", "2026-03-29T01:00:00Z")]
    [InlineData("Europe/Berlin", "2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z")]
    [InlineData("America/New_York", "2026-06-01T00:00:00Z", "2026-11-01T06:00:00Z")]
    [InlineData("Australia/Lord_Howe", "2026-01-10T00:00:00Z", "2026-04-04T15:00:00Z")]
    public void The_next_offset_change_of_a_zone_is_found_to_the_second(string zoneId, string after, string expected)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var found = ZoneOffsets.NextChange(zone, DateTimeOffset.Parse(after, CultureInfo.InvariantCulture));
        Assert.Equal(DateTimeOffset.Parse(expected, CultureInfo.InvariantCulture), found);
    }

    /// <summary>School s01 in <paramref name="zoneId"/> with zone "labs" (room r1) and its door d1.</summary>
    private static async Task AddSchoolWithDoorAsync(CampusTestCluster cluster, string zoneId)
    {
        await cluster.AddSchoolAsync("s01", zoneId, null, new AccessZoneSpec("labs", ["r1"]));
        await cluster.AddRoomAsync("s01", "r1");
        await cluster.AddDeviceAsync("s01", "r1", DeviceKind.Door, "d1");
    }

    private static AllowlistCommand LatestList(CampusTestCluster cluster) =>
        cluster.Commands.Where(c => c.Topic.Device == "d1").Select(c => c.Command).OfType<AllowlistCommand>().Last();

    /// <summary>
    /// The door firmware's rule for its cached list: local time = UTC + tzOffsetMin, or + the min of the latest
    /// offsetChanges entry whose instant has passed; without offsetChanges, + nextOffsetMin from nextOffsetAt on
    /// (a door that does not know those members reads <paramref name="honourNextChange"/> or
    /// <paramref name="honourOffsetChanges"/> false).
    /// </summary>
    private static bool ReaderGrants(AllowlistCommand list, string card, DateTimeOffset now, bool honourNextChange = true, bool honourOffsetChanges = true)
    {
        var entry = list.Entries.FirstOrDefault(e => e.Card == card);
        if (entry is null) return false;
        if (entry.Windows.Count == 0) return true;
        var ms = now.ToUnixTimeMilliseconds();
        var offset = honourNextChange && list.NextOffsetAt is { } at && ms >= at ? list.NextOffsetMin!.Value : list.TzOffsetMin;
        if (honourNextChange && honourOffsetChanges && list.OffsetChanges is { } changes)
        {
            offset = list.TzOffsetMin;
            foreach (var c in changes)
            {
                if (ms < c.At!.Value) break;
                offset = c.Min!.Value;
            }
        }
        var local = now.UtcDateTime.AddMinutes(offset);
        var day = TimeWindow.IsoDay(local.DayOfWeek);
        var yesterday = day == 1 ? 7 : day - 1;
        var minute = (local.Hour * 60) + local.Minute;
        foreach (var w in entry.Windows)
        {
            var from = Minutes(w.From);
            var to = Minutes(w.To);
            if (from <= to)
            {
                if (w.Days.Contains((char)('0' + day)) && minute >= from && minute < to) return true;
            }
            else if ((w.Days.Contains((char)('0' + day)) && minute >= from) || (w.Days.Contains((char)('0' + yesterday)) && minute < to))
            {
                return true;
            }
        }
        return false;
    }

    private static int Minutes(string hhmm) => (int.Parse(hhmm[..2], CultureInfo.InvariantCulture) * 60) + int.Parse(hhmm[3..], CultureInfo.InvariantCulture);
}
