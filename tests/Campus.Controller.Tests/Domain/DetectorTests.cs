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

    /// <summary>Four past weeks: 2.4-2.6 kW on Mondays 10:00 (usual 2.5 kW), 110-130 W on Fridays 06:00.</summary>
    private static ConsumptionProfile PowerProfile(SpikeRule rule)
    {
        var profile = new ConsumptionProfile();
        var monday10 = new DateTime(2026, 11, 2, 10, 0, 0);
        var friday6 = new DateTime(2026, 11, 6, 6, 0, 0);
        double[] day = [2500, 2400, 2600, 2500];
        double[] night = [120, 110, 130, 125];
        profile.SeedPower([.. Enumerable.Range(0, 4).SelectMany(w => new[] { (monday10.AddDays(7 * w), day[w]), (friday6.AddDays(7 * w), night[w]) })], rule);
        return profile;
    }

    /// <summary>Reports the room's power every 15 s for <paramref name="span"/> from <paramref name="local"/> (UTC+8); the signals raised.</summary>
    private static List<AlertSignal> Report(ConsumptionProfile profile, SpikeRule rule, DateTime local, TimeSpan span, double powerW)
    {
        var signals = new List<AlertSignal>();
        for (var t = TimeSpan.Zero; t <= span; t += TimeSpan.FromSeconds(15))
        {
            var now = new DateTimeOffset(local + t, TimeSpan.FromHours(8));
            if (profile.AddPower(now, local + t, powerW, rule) is { } signal) signals.Add(signal);
        }
        return signals;
    }

    [Fact]
    public void A_power_spike_held_for_a_minute_raises_one_consumption_spike_and_normal_use_raises_none()
    {
        var rule = new SpikeRule();
        var profile = PowerProfile(rule);
        var monday10 = new DateTime(2026, 11, 30, 10, 5, 0);
        // Busier than usual, but a normal Monday morning: no spike.
        Assert.Empty(Report(profile, rule, monday10, TimeSpan.FromMinutes(20), 3200));
        // A 9 kW load on top: 45 s is not held long enough...
        Assert.Empty(Report(profile, rule, monday10.AddMinutes(21), TimeSpan.FromSeconds(45), 11_500));
        Assert.Empty(Report(profile, rule, monday10.AddMinutes(22), TimeSpan.FromSeconds(15), 2500));
        // ...3 minutes of it raise one spike.
        var spike = Assert.Single(Report(profile, rule, monday10.AddMinutes(23), TimeSpan.FromMinutes(3), 11_500));
        Assert.Equal((AlertType.ConsumptionSpike, AlertSeverity.Warning), (spike.Type, spike.Severity));
        Assert.Contains("usual 2.50 kW at this time of the week (limit 7.50 kW)", spike.Message, StringComparison.Ordinal);
        // The load goes; the same 9 kW at 06:00 on a Friday, over a usual 120 W, is a spike again.
        Assert.Empty(Report(profile, rule, monday10.AddMinutes(30), TimeSpan.FromMinutes(5), 2500));
        Assert.Single(Report(profile, rule, new DateTime(2026, 12, 4, 6, 10, 0), TimeSpan.FromMinutes(2), 9_200));
    }

    [Fact]
    public void No_power_spike_verdict_is_given_for_an_hour_without_enough_weeks()
    {
        var rule = new SpikeRule();
        var profile = PowerProfile(rule);
        // Tuesdays at 10:00 have no past weeks.
        Assert.Empty(Report(profile, rule, new DateTime(2026, 12, 1, 10, 5, 0), TimeSpan.FromMinutes(5), 50_000));
        Assert.Null(new ConsumptionProfile().PowerLimit(0, rule));
    }

    [Fact]
    public void The_usual_power_is_the_peak_of_each_hour_so_a_load_that_runs_part_of_the_hour_every_week_is_no_spike()
    {
        var rule = new SpikeRule();
        var profile = new ConsumptionProfile();
        var monday10 = new DateTime(2026, 11, 2, 10, 0, 0);
        var how = ConsumptionProfile.HourOfWeek(monday10);
        for (var week = 0; week < 3; week++)
        {
            // A kiln at 9 kW for 20 minutes, then 300 W: a mean of 3.2 kW (a mean-based limit of 8.2 kW
            // would call the kiln a spike every week), a peak of 9 kW. The next hour's report closes the hour.
            Assert.Empty(Report(profile, rule, monday10.AddDays(7 * week), TimeSpan.FromMinutes(20), 9000));
            Assert.Empty(Report(profile, rule, monday10.AddDays(7 * week).AddMinutes(21), TimeSpan.FromMinutes(38), 300));
            Report(profile, rule, monday10.AddDays(7 * week).AddHours(1), TimeSpan.Zero, 300);
        }
        Assert.Equal(3, profile.PowerBuckets[how].Count);
        Assert.Equal(9000, profile.PowerBuckets[how][0], 6);
        Assert.Equal<(double, double)?>((9000.0, 22500.0), profile.PowerLimit(how, rule));
        // The fourth week's kiln is usual; 25 kW held for minutes is not.
        Assert.Empty(Report(profile, rule, monday10.AddDays(21), TimeSpan.FromMinutes(20), 9000));
        Assert.Single(Report(profile, rule, monday10.AddDays(21).AddMinutes(21), TimeSpan.FromMinutes(5), 25000));
    }

    [Fact]
    public void A_baseline_span_measures_power_against_the_busiest_usual_hour_around_it()
    {
        var hourly = new SpikeRule();
        var weekly = new SpikeRule { PowerBaselineSpan = TimeSpan.FromDays(7) };
        var friday6 = new DateTime(2026, 12, 4, 6, 10, 0);
        // 5.5 kW at 06:00 on a Friday is far above that hour's usual 120 W...
        Assert.Single(Report(PowerProfile(hourly), hourly, friday6, TimeSpan.FromMinutes(2), 5_500));
        // ...but not above the week's busiest usual hour (Monday 10:00, 2.5 kW: limit 7.5 kW).
        Assert.Empty(Report(PowerProfile(weekly), weekly, friday6, TimeSpan.FromMinutes(2), 5_500));
        Assert.Equal(7_500, PowerProfile(weekly).PowerLimit(ConsumptionProfile.HourOfWeek(friday6), weekly)!.Value.Limit, 6);
        Assert.Single(Report(PowerProfile(weekly), weekly, friday6, TimeSpan.FromMinutes(2), 9_200));
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
