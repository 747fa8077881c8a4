using Campus.Controller.Domain;

namespace Campus.Controller.Tests.Domain;

public sealed class AccessPolicyTests
{
    private static readonly TimeZoneInfo Shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
    private static readonly string[] LabZones = ["labs"];

    private static PersonProfile Teacher(CardStatus status = CardStatus.Active, PersonRole role = PersonRole.Teacher) => new(
        "p1", "Li Wei", role, "s01",
        [new AccessCard("04A1B2C3", status)],
        [new ZoneGrant("labs", new WeeklySchedule([TimeWindow.Parse("12345", "07:00", "18:00")]))]);

    // 2026-11-26 is a Thursday.
    private static DateTimeOffset ShanghaiTime(int day, int hour, int minute = 0) => new(2026, 11, day, hour, minute, 0, TimeSpan.FromHours(8));

    [Fact]
    public void A_teacher_with_an_active_card_enters_a_lab_inside_the_schedule()
    {
        var d = AccessPolicy.Decide(Teacher(), "04a1b2c3", "s01", LabZones, false, ShanghaiTime(26, 9), Shanghai);
        Assert.Equal(new AccessDecision(true, AccessReason.Ok, "p1"), d);
    }

    [Theory]
    [InlineData(26, 6, 59, AccessReason.OutsideSchedule)]
    [InlineData(26, 18, 0, AccessReason.OutsideSchedule)]
    [InlineData(28, 10, 0, AccessReason.OutsideSchedule)] // Saturday
    [InlineData(26, 17, 59, AccessReason.Ok)]
    public void The_schedule_is_applied_in_the_school_local_time(int day, int hour, int minute, AccessReason expected)
    {
        var d = AccessPolicy.Decide(Teacher(), "04A1B2C3", "s01", LabZones, false, ShanghaiTime(day, hour, minute), Shanghai);
        Assert.Equal(expected, d.Reason);
    }

    [Fact]
    public void The_same_instant_is_inside_the_schedule_in_one_time_zone_and_outside_in_another()
    {
        var instant = new DateTimeOffset(2026, 11, 26, 2, 0, 0, TimeSpan.Zero); // 10:00 Shanghai, 03:00 Berlin
        Assert.True(AccessPolicy.Decide(Teacher(), "04A1B2C3", "s01", LabZones, false, instant, Shanghai).Granted);
        Assert.Equal(AccessReason.OutsideSchedule, AccessPolicy.Decide(Teacher(), "04A1B2C3", "s01", LabZones, false, instant, Berlin).Reason);
    }

    [Fact]
    public void Schedules_follow_daylight_saving_time_changes()
    {
        // Berlin moves from CET (+1) to CEST (+2) on 2026-03-29: 05:30 UTC is 06:30 local on
        // Friday 27 March (before the 07:00 start) and 07:30 local on Monday 30 March.
        var beforeDst = new DateTimeOffset(2026, 3, 27, 5, 30, 0, TimeSpan.Zero);
        var afterDst = new DateTimeOffset(2026, 3, 30, 5, 30, 0, TimeSpan.Zero);
        Assert.Equal(AccessReason.OutsideSchedule, AccessPolicy.Decide(Teacher(), "04A1B2C3", "s01", LabZones, false, beforeDst, Berlin).Reason);
        Assert.Equal(AccessReason.Ok, AccessPolicy.Decide(Teacher(), "04A1B2C3", "s01", LabZones, false, afterDst, Berlin).Reason);
    }

    [Fact]
    public void Unknown_and_blocked_cards_are_denied_with_their_reason()
    {
        Assert.Equal(AccessReason.UnknownCard, AccessPolicy.Decide(null, "DEADBEEF", "s01", LabZones, false, ShanghaiTime(26, 9), Shanghai).Reason);
        Assert.Equal(AccessReason.UnknownCard, AccessPolicy.Decide(Teacher(), "DEADBEEF", "s01", LabZones, false, ShanghaiTime(26, 9), Shanghai).Reason);
        Assert.Equal(AccessReason.CardBlocked, AccessPolicy.Decide(Teacher(CardStatus.Lost), "04A1B2C3", "s01", LabZones, false, ShanghaiTime(26, 9), Shanghai).Reason);
    }

    [Fact]
    public void A_door_outside_the_person_zones_or_school_is_denied_with_no_zone()
    {
        Assert.Equal(AccessReason.NoZone, AccessPolicy.Decide(Teacher(), "04A1B2C3", "s01", ["office"], false, ShanghaiTime(26, 9), Shanghai).Reason);
        Assert.Equal(AccessReason.NoZone, AccessPolicy.Decide(Teacher(), "04A1B2C3", "s02", LabZones, false, ShanghaiTime(26, 9), Shanghai).Reason);
    }

    [Fact]
    public void A_lockdown_denies_everyone_except_security_staff()
    {
        Assert.Equal(AccessReason.Lockdown, AccessPolicy.Decide(Teacher(), "04A1B2C3", "s01", LabZones, true, ShanghaiTime(26, 9), Shanghai).Reason);
        Assert.True(AccessPolicy.Decide(Teacher(role: PersonRole.Security), "04A1B2C3", "s01", LabZones, true, ShanghaiTime(26, 9), Shanghai).Granted);
    }

    [Fact]
    public void An_overnight_window_belongs_to_the_day_it_starts_on()
    {
        var w = TimeWindow.Parse("5", "22:00", "06:00"); // Friday night
        Assert.True(w.Contains(new DateTime(2026, 11, 27, 23, 0, 0)));
        Assert.True(w.Contains(new DateTime(2026, 11, 28, 5, 59, 0)));
        Assert.False(w.Contains(new DateTime(2026, 11, 28, 23, 0, 0)));
        Assert.False(w.Contains(new DateTime(2026, 11, 27, 5, 0, 0)));
    }

    [Fact]
    public void Time_windows_reject_days_outside_one_to_seven()
    {
        var e = Assert.Throws<ArgumentException>(() => TimeWindow.Parse("08", "07:00", "08:00"));
        Assert.Contains("1 (Monday) to 7 (Sunday)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_allow_list_holds_active_cards_of_people_whose_zones_hold_the_door()
    {
        var blocked = Teacher(CardStatus.Blocked) with { Id = "p2", Cards = [new AccessCard("11111111", CardStatus.Blocked)] };
        var other = Teacher() with { Id = "p3", Cards = [new AccessCard("22222222", CardStatus.Active)], Zones = [new ZoneGrant("office", WeeklySchedule.Always)] };
        var twoCards = Teacher() with { Id = "p4", Cards = [new AccessCard("33333333", CardStatus.Active), new AccessCard("44444444", CardStatus.Lost)] };
        var list = AccessPolicy.BuildAllowList([Teacher(), blocked, other, twoCards], "s01", LabZones);
        Assert.Equal(["04A1B2C3", "33333333"], list.Select(e => e.Card));
        Assert.Equal("12345", list[0].Windows.Single().Days);
    }
}
