using Campus.Firmware.Apps.Door;
using Campus.Firmware.Apps.Energy;
using Campus.Firmware.Apps.Sign;
using Campus.Firmware.Common;

namespace Campus.Firmware.Tests.Apps;

/// <summary>The apps' decision logic on its own: allow-list windows, report filters, timetable and screen composition.</summary>
public sealed class AppLogicTests
{
    private static long Local(int year, int month, int day, int hour, int minute, int tz) =>
        new DateTimeOffset(year, month, day, hour, minute, 0, TimeSpan.FromMinutes(tz)).ToUnixTimeMilliseconds();

    [Theory]
    [InlineData(2026, 11, 26, 9, 55, "ok")]               // Thursday inside 07:00-18:00
    [InlineData(2026, 11, 26, 18, 0, "outside-schedule")] // the end is exclusive
    [InlineData(2026, 11, 26, 6, 59, "outside-schedule")]
    [InlineData(2026, 11, 29, 10, 0, "outside-schedule")] // Sunday
    [InlineData(2026, 11, 28, 23, 30, "ok")]              // Saturday night shift 22:00-06:00
    [InlineData(2026, 11, 29, 5, 59, "ok")]               // ... which ends Sunday morning
    [InlineData(2026, 11, 29, 23, 30, "outside-schedule")] // Sunday is not a night-shift start day
    public void Allow_list_windows_follow_local_days_and_times(int y, int mo, int d, int h, int mi, string expected)
    {
        var list = AllowList.Parse(JsonNode.Parse("""
            {"v":1,"version":2,"tzOffsetMin":480,"entries":[
             {"card":"04a1b2c3","windows":[{"days":"12345","from":"07:00","to":"18:00"},{"days":"6","from":"22:00","to":"06:00"}]},
             {"card":"04000001"}]}
            """));
        Assert.Equal(expected, list.Decide("04A1B2C3", Local(y, mo, d, h, mi, 480)));
        Assert.Equal("ok", list.Decide("04000001", Local(y, mo, d, h, mi, 480)));
        Assert.Equal("unknown-card", list.Decide("04FFFFFF", Local(y, mo, d, h, mi, 480)));
    }

    [Fact]
    public void Allow_list_needs_a_set_clock_for_windows_and_rejects_malformed_entries()
    {
        var list = AllowList.Parse(JsonNode.Parse("""{"entries":[{"card":"04A1B2C3","windows":[{"days":"1","from":"00:00","to":"24:00"}]}]}"""));
        Assert.Equal("outside-schedule", list.Decide("04A1B2C3", 0));
        Assert.Contains("card", Assert.Throws<ArgumentException>(() => AllowList.Parse(JsonNode.Parse("""{"entries":[{"card":"XYZ"}]}"""))).Message);
        Assert.Contains("windows[0]", Assert.Throws<ArgumentException>(() => AllowList.Parse(JsonNode.Parse("""{"entries":[{"card":"04A1B2C3","windows":[{"days":"8","from":"07:00","to":"18:00"}]}]}"""))).Message);
        Assert.Contains("tzOffsetMin", Assert.Throws<ArgumentException>(() => AllowList.Parse(JsonNode.Parse("""{"tzOffsetMin":2000,"entries":[]}"""))).Message);
        Assert.Equal("04A1B2C3D4E5F6", AllowList.CardFromUid([0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6], 7));
    }

    [Fact]
    public void Report_filter_sends_on_heartbeat_and_on_changes_at_most_once_per_throttle()
    {
        var filter = new ReportFilter { ThrottleMs = 10_000, HeartbeatMs = 60_000 };
        Assert.True(filter.Due(0, false)); // the first sample always goes
        filter.Reported(0);
        Assert.False(filter.Due(1_000, false));
        Assert.False(filter.Due(5_000, true)); // changed but throttled
        Assert.True(filter.Due(10_000, true));
        filter.Reported(10_000);
        Assert.False(filter.Due(69_999, false));
        Assert.True(filter.Due(70_000, false)); // heartbeat
        Assert.Equal(1, filter.Throttled);
        Assert.True(ReportFilter.Moved(10, 7.9, 2));
        Assert.False(ReportFilter.Moved(10, 8.1, 2));
        Assert.True(ReportFilter.Moved(double.NaN, 8, 2));
        Assert.False(ReportFilter.Moved(double.NaN, double.NaN, 2));
    }

    [Fact]
    public void Energy_counter_integrates_power_and_keeps_the_total_in_the_store()
    {
        var store = new Campus.Simulators.Chips.InMemoryNonVolatileStore();
        var counter = new EnergyCounter(store) { SaveEveryMs = 60_000 };
        for (long t = 0; t <= 3_600_000; t += 1000) counter.AddSample(t < 1_800_000 ? 1000 : 500, t);
        Assert.Equal(0.75, counter.Kwh, 3);
        counter.Save(3_600_000);
        Assert.Equal(counter.Kwh, new EnergyCounter(store).Kwh, 9);
        counter.AddSample(-20, 3_601_000); // negative power counts as none
        Assert.True(counter.Kwh < 0.751);
    }

    [Fact]
    public void Timetable_is_sorted_and_finds_the_current_and_next_lesson()
    {
        var tt = Timetable.Parse(JsonNode.Parse("""
            {"date":"2026-11-26","room":"Lab 1","lessons":[
             {"id":"b","period":2,"from":"10:00","to":"10:45","subject":"Physics"},
             {"id":"a","period":1,"from":"08:00","to":"08:45","subject":"Maths"}]}
            """));
        Assert.Equal(["a", "b"], tt.Lessons.Select(l => l.Id));
        long day = CivilTime.ParseDate("2026-11-26");
        Assert.Equal("a", tt.Current(day, 8 * 60 + 10)!.Id);
        Assert.Null(tt.Current(day, 9 * 60));
        Assert.Equal("b", tt.Next(day, 9 * 60)!.Id);
        Assert.Null(tt.Current(day + 1, 8 * 60 + 10));
        Assert.Throws<ArgumentException>(() => Timetable.Parse(JsonNode.Parse("""{"date":"26.11.2026","lessons":[]}""")));
        Assert.Throws<ArgumentException>(() => Timetable.Parse(JsonNode.Parse("""{"date":"2026-11-26","lessons":[{"id":"x","from":"10:00","to":"09:00"}]}""")));
    }

    [Fact]
    public void Sign_screen_hides_expired_notices_and_changes_its_key_only_when_the_content_changes()
    {
        var tt = Timetable.Parse(JsonNode.Parse("""{"date":"2026-11-26","room":"Room 101","lessons":[{"id":"p3","period":3,"from":"10:00","to":"10:45","subject":"Physics","teacher":"Li Wei","class":"8B"}]}"""));
        var notices = Notices.Parse(JsonNode.Parse($$"""{"items":[{"text":"Old","until":{{Local(2026, 11, 26, 9, 0, 480)}}},{"text":"Fire drill 14:00"}]}"""));
        var at0955 = SignScreen.Compose(tt, notices, Local(2026, 11, 26, 9, 55, 480), 480);
        var at0956 = SignScreen.Compose(tt, notices, Local(2026, 11, 26, 9, 56, 480), 480);
        var at1000 = SignScreen.Compose(tt, notices, Local(2026, 11, 26, 10, 0, 480), 480);
        Assert.Equal(at0955.Key, at0956.Key);
        Assert.NotEqual(at0955.Key, at1000.Key);
        Assert.Contains("NEXT P3 Physics", at0955.Key, StringComparison.Ordinal);
        Assert.Contains("NOW P3 Physics", at1000.Key, StringComparison.Ordinal);
        Assert.Contains("! Fire drill 14:00", at1000.Key, StringComparison.Ordinal);
        Assert.DoesNotContain("Old", at1000.Key, StringComparison.Ordinal);
        Assert.Equal("Caf? ?", SignScreen.Printable("Café 班", 10));

        var lockdown = SignScreen.ComposeLockdown("Stay in your classroom, lock the door, keep away from the windows and wait for staff.");
        Assert.Equal("LOCKDOWN", lockdown.TextAt(0));
        Assert.True(lockdown.Count >= 3);
        for (int i = 1; i < lockdown.Count; i++) Assert.True(lockdown.TextAt(i).Length <= SignLayout.Columns(1));
    }
}
