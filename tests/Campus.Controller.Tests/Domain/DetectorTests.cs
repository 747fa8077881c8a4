using Campus.Controller.Domain;

namespace Campus.Controller.Tests.Domain;

public sealed class DetectorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);
    private static readonly DoorTimings Timings = new() { HeldOpenPreAlarm = TimeSpan.FromSeconds(30), HeldOpenAlarm = TimeSpan.FromSeconds(90) };
    private static readonly TimeZoneInfo Shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");

    [Fact]
    public void A_door_opened_shortly_after_a_grant_is_not_forced()
    {
        var door = new DoorMonitor();
        door.Granted(T0);
        Assert.Null(door.Opened(T0.AddSeconds(3), Timings));
        Assert.Null(door.Closed(T0.AddSeconds(8)));
    }

    [Fact]
    public void A_door_opened_after_a_request_to_exit_is_not_forced()
    {
        var door = new DoorMonitor();
        door.RequestToExit(T0);
        Assert.Null(door.Opened(T0.AddSeconds(1), Timings));
    }

    [Fact]
    public void A_door_opened_with_no_grant_or_an_expired_one_is_forced()
    {
        var door = new DoorMonitor();
        Assert.Equal(AlertType.DoorForced, door.Opened(T0, Timings)?.Type);
        door.Closed(T0.AddSeconds(2));
        door.Granted(T0.AddSeconds(10));
        var late = door.Opened(T0.AddSeconds(30), Timings);
        Assert.Equal(AlertSeverity.Critical, late?.Severity);
    }

    [Fact]
    public void One_grant_authorizes_one_opening()
    {
        var door = new DoorMonitor();
        door.Granted(T0);
        Assert.Null(door.Opened(T0.AddSeconds(1), Timings));
        door.Closed(T0.AddSeconds(2));
        Assert.Equal(AlertType.DoorForced, door.Opened(T0.AddSeconds(3), Timings)?.Type);
    }

    [Fact]
    public void A_door_held_open_raises_a_pre_alarm_then_an_alarm_and_closing_clears_it()
    {
        var door = new DoorMonitor();
        door.Granted(T0);
        door.Opened(T0, Timings);
        Assert.Equal(T0.AddSeconds(30), door.NextDeadline(Timings));
        Assert.Null(door.Tick(T0.AddSeconds(29), Timings));
        var pre = door.Tick(T0.AddSeconds(30), Timings);
        Assert.Equal((AlertType.DoorHeldOpen, AlertSeverity.Warning), (pre?.Type, pre?.Severity));
        Assert.Null(door.Tick(T0.AddSeconds(60), Timings));
        var alarm = door.Tick(T0.AddSeconds(90), Timings);
        Assert.Equal(AlertSeverity.Major, alarm?.Severity);
        Assert.Null(door.NextDeadline(Timings));
        var cleared = door.Closed(T0.AddSeconds(100));
        Assert.True(cleared?.Clears);
    }

    [Fact]
    public void Denied_cards_raise_an_alert_only_when_n_fall_within_m_minutes()
    {
        var w = new DeniedCardWindow();
        var window = TimeSpan.FromMinutes(2);
        Assert.Null(w.Denied(T0, "A", 3, window));
        Assert.Null(w.Denied(T0.AddMinutes(1.5), "B", 3, window));
        Assert.Null(w.Denied(T0.AddMinutes(3), "C", 3, window)); // the first one has aged out
        Assert.Equal(AlertType.RepeatedDeniedCards, w.Denied(T0.AddMinutes(3.2), "D", 3, window)?.Type);
    }

    [Fact]
    public void A_device_goes_offline_after_its_timeout_or_at_once_on_its_last_will_and_comes_back()
    {
        var p = new PresenceMonitor();
        p.Seen(T0);
        Assert.Null(p.Check(T0.AddSeconds(180), TimeSpan.FromSeconds(180)));
        Assert.Equal(AlertType.DeviceOffline, p.Check(T0.AddSeconds(181), TimeSpan.FromSeconds(180))?.Type);
        Assert.Null(p.Check(T0.AddSeconds(400), TimeSpan.FromSeconds(180)));
        Assert.True(p.Seen(T0.AddSeconds(500))?.Clears);
        Assert.NotNull(p.WentOffline(T0.AddSeconds(501), "last will"));
        Assert.Null(p.WentOffline(T0.AddSeconds(502), "last will again"));
    }

    [Fact]
    public void A_meter_counter_that_goes_down_is_a_reset_not_negative_energy()
    {
        var c = new EnergyCounter();
        Assert.Equal(0, c.Observe(100));
        Assert.Equal(1.5, c.Observe(101.5), 6);
        Assert.Equal(0, c.Observe(0.2));
        Assert.Equal(0.3, c.Observe(0.5), 6);
        Assert.Equal(1, c.Resets);
    }

    [Fact]
    public void Energy_today_starts_again_at_the_school_local_midnight()
    {
        var day = new EnergyDay();
        day.Add(2, new DateTimeOffset(2026, 11, 26, 15, 0, 0, TimeSpan.Zero), Shanghai); // 23:00 local
        day.Add(1, new DateTimeOffset(2026, 11, 26, 15, 59, 0, TimeSpan.Zero), Shanghai);
        Assert.Equal(3, day.Kwh);
        day.Add(0.5, new DateTimeOffset(2026, 11, 26, 16, 1, 0, TimeSpan.Zero), Shanghai); // 00:01 next day
        Assert.Equal(0.5, day.Kwh);
        Assert.Equal(new DateOnly(2026, 11, 27), day.Day);
    }

    [Fact]
    public void Energy_in_an_empty_room_after_hours_alerts_only_after_the_minimum_time()
    {
        var w = new AfterHoursEnergyWatch();
        var min = TimeSpan.FromMinutes(30);
        Assert.Null(w.Update(T0, 800, occupied: false, schoolOpen: true, 200, min));
        Assert.Null(w.Update(T0, 800, occupied: true, schoolOpen: false, 200, min));
        Assert.Null(w.Update(T0, 150, occupied: false, schoolOpen: false, 200, min));
        Assert.Null(w.Update(T0, 800, occupied: false, schoolOpen: false, 200, min));
        Assert.Null(w.Update(T0.AddMinutes(29), 800, occupied: false, schoolOpen: false, 200, min));
        Assert.Equal(AlertType.AfterHoursEnergy, w.Update(T0.AddMinutes(30), 800, occupied: false, schoolOpen: false, 200, min)?.Type);
        Assert.Null(w.Update(T0.AddMinutes(31), 800, occupied: false, schoolOpen: false, 200, min));
        Assert.True(w.Update(T0.AddMinutes(32), 10, occupied: false, schoolOpen: false, 200, min)?.Clears);
    }

    [Fact]
    public void A_consumption_spike_is_measured_against_the_same_hour_of_past_weeks()
    {
        var profile = new ConsumptionProfile();
        var rule = new SpikeRule();
        var monday9 = new DateTime(2026, 11, 2, 9, 0, 0);
        var monday3 = new DateTime(2026, 11, 2, 3, 0, 0);
        double[] usual = [4.0, 4.4, 3.8, 4.1];
        for (var week = 0; week < usual.Length; week++)
        {
            Assert.Null(profile.AddHour(monday9.AddDays(7 * week), usual[week], rule));
            Assert.Null(profile.AddHour(monday3.AddDays(7 * week), 0.3, rule));
        }
        // 4.6 kWh is normal at 9:00 on a Monday, but a spike at 3:00.
        Assert.Null(profile.AddHour(monday9.AddDays(28), 4.6, rule));
        Assert.Equal(AlertType.ConsumptionSpike, profile.AddHour(monday3.AddDays(28), 4.6, rule)?.Type);
        Assert.Equal(4.1, profile.Baseline(ConsumptionProfile.HourOfWeek(monday9), rule));
    }

    [Fact]
    public void No_spike_verdict_is_given_before_enough_weeks_of_history()
    {
        var profile = new ConsumptionProfile();
        var h = new DateTime(2026, 11, 2, 3, 0, 0);
        Assert.Null(profile.AddHour(h, 0.1, new SpikeRule()));
        Assert.Null(profile.AddHour(h.AddDays(7), 0.1, new SpikeRule()));
        Assert.Null(profile.AddHour(h.AddDays(14), 50, new SpikeRule()));
    }

    [Fact]
    public void Hours_are_closed_when_a_reading_falls_in_a_later_local_hour()
    {
        var acc = new HourAccumulator();
        Assert.Null(acc.Add(new DateTimeOffset(2026, 11, 26, 1, 10, 0, TimeSpan.Zero), Shanghai, 1));
        Assert.Null(acc.Add(new DateTimeOffset(2026, 11, 26, 1, 50, 0, TimeSpan.Zero), Shanghai, 2));
        var done = acc.Add(new DateTimeOffset(2026, 11, 26, 2, 5, 0, TimeSpan.Zero), Shanghai, 4);
        Assert.Equal((new DateTime(2026, 11, 26, 9, 0, 0), 3.0), done);
        Assert.Equal(4, acc.Kwh);
    }

    [Fact]
    public void Lockdown_lists_the_devices_that_did_not_acknowledge()
    {
        var l = new LockdownState();
        l.Begin("c1", true, "Stay inside", "principal", ["door1", "door2", "sign1"], T0);
        Assert.True(l.Acknowledge("door1", "c1", true, null, T0.AddSeconds(1)));
        Assert.True(l.Acknowledge("sign1", "c1", false, "display broken", T0.AddSeconds(1)));
        Assert.False(l.Acknowledge("door2", "c0", true, null, T0.AddSeconds(1)));
        Assert.False(l.Acknowledge("door9", "c1", true, null, T0.AddSeconds(1)));
        Assert.Equal(["door2", "sign1"], l.NotAcknowledged());
        l.Begin("c2", false, null, "principal", ["door1", "door2", "sign1"], T0.AddMinutes(10));
        Assert.False(l.Active);
        Assert.Equal(3, l.NotAcknowledged().Count);
    }
}
