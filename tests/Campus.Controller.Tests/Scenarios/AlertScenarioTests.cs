using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.History;
using Campus.Controller.Ingestion;

namespace Campus.Controller.Tests.Scenarios;

public sealed class AlertScenarioTests
{
    [Fact]
    public async Task A_forced_door_raises_a_critical_alert_on_its_room_and_school()
    {
        await using var s = await CampusScenario.StartAsync();
        await s.EventAsync("d1", "door", "\"state\":\"open\"");
        var alert = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.DoorForced, AlertSeverity.Critical, "d1", "r101"), (alert.Type, alert.Severity, alert.Source, alert.Room));
        var school = await s.Cluster.School("s01").GetSnapshot();
        Assert.Equal(1, school.OpenAlerts);
        Assert.Equal(1, school.OpenAlertsByRoom["r101"]);
    }

    [Fact]
    public async Task A_door_opened_after_a_granted_card_raises_nothing()
    {
        await using var s = await CampusScenario.StartAsync();
        var answer = await s.PresentCardAsync("d1", CampusScenario.TeacherCard);
        Assert.True(answer.Grant);
        await s.PassAsync(TimeSpan.FromSeconds(2));
        await s.EventAsync("d1", "door", "\"state\":\"open\"");
        await s.PassAsync(TimeSpan.FromSeconds(5));
        await s.EventAsync("d1", "door", "\"state\":\"closed\"");
        Assert.Empty(await s.AlertsAsync());
        Assert.Equal(1, (await s.Cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Entries);
    }

    [Fact]
    public async Task A_door_held_open_raises_a_pre_alarm_then_an_alarm_and_closing_resolves_it()
    {
        await using var s = await CampusScenario.StartAsync();
        await s.EventAsync("d1", "rex");
        await s.EventAsync("d1", "door", "\"state\":\"open\"");
        await s.PassAsync(TimeSpan.FromSeconds(29));
        Assert.Empty(await s.AlertsAsync());
        await s.PassAsync(TimeSpan.FromSeconds(2));
        var pre = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.DoorHeldOpen, AlertSeverity.Warning), (pre.Type, pre.Severity));
        await s.PassAsync(TimeSpan.FromSeconds(60));
        var alarm = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertSeverity.Major, 2), (alarm.Severity, alarm.Count));
        await s.EventAsync("d1", "door", "\"state\":\"closed\"");
        Assert.Equal(AlertStatus.Resolved, Assert.Single(await s.AlertsAsync()).Status);
    }

    [Fact]
    public async Task Five_denied_cards_within_two_minutes_raise_one_alert_but_four_do_not()
    {
        await using var s = await CampusScenario.StartAsync();
        for (var i = 0; i < 4; i++)
        {
            Assert.False((await s.PresentCardAsync("d1", $"DEADBE{i:X2}")).Grant);
            await s.PassAsync(TimeSpan.FromSeconds(20));
        }
        Assert.Empty(await s.AlertsAsync());
        await s.PresentCardAsync("d1", "DEADBEFF");
        await s.PresentCardAsync("d1", "DEADBEFE");
        var alert = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.RepeatedDeniedCards, 2), (alert.Type, alert.Count));
    }

    [Fact]
    public async Task A_granted_entry_after_hours_raises_an_after_hours_alert()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        await s.PresentCardAsync("d1", CampusScenario.TeacherCard); // 10:00: normal
        Assert.Empty(await s.AlertsAsync());
        s.AdvanceToLocal(0, 21);
        // The reader decided from its cached allow-list while offline (e.g. a security guard's card).
        await s.EventAsync("d1", "access", "\"req\":\"\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"cache\"");
        Assert.Equal([AlertType.AfterHoursEntry], await s.AlertTypesAsync());
    }

    [Fact]
    public async Task A_silent_device_goes_offline_after_its_kind_timeout_and_a_last_will_at_once()
    {
        await using var s = await CampusScenario.StartAsync();
        await s.OnlineAsync("m1");
        await s.OnlineAsync("e1");
        await s.PassAsync(TimeSpan.FromSeconds(170));
        await s.OnlineAsync("e1"); // e1 keeps its heartbeat
        Assert.Empty(await s.AlertsAsync());
        await s.PassAsync(TimeSpan.FromSeconds(20));
        var alert = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.DeviceOffline, "m1"), (alert.Type, alert.Source));
        Assert.False((await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Online);

        await s.LastWillAsync("e1");
        Assert.Equal(2, (await s.AlertsAsync()).Count(a => a.Type == AlertType.DeviceOffline && a.Status == AlertStatus.Open));
        await s.OnlineAsync("m1");
        Assert.Equal(AlertStatus.Resolved, (await s.AlertsAsync()).Single(a => a.Source == "m1").Status);
    }

    [Fact]
    public async Task Opening_an_enclosure_raises_tamper_and_closing_it_resolves_it()
    {
        await using var s = await CampusScenario.StartAsync();
        await s.EventAsync("g1", "tamper", "\"state\":\"open\"");
        var alert = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.Tamper, AlertSeverity.Critical, AlertStatus.Open), (alert.Type, alert.Severity, alert.Status));
        await s.EventAsync("g1", "tamper", "\"state\":\"closed\"");
        Assert.Equal(AlertStatus.Resolved, Assert.Single(await s.AlertsAsync()).Status);
    }

    [Fact]
    public async Task A_forged_access_event_raises_an_alert_and_is_not_counted_as_an_entry()
    {
        await using var s = await CampusScenario.StartAsync();
        var wrongKey = new byte[32];
        var d = await s.EventAsync("d1", "access", "\"req\":\"\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"cache\"", key: wrongKey);
        Assert.Equal(IngestDisposition.Rejected, d);
        Assert.Equal([AlertType.ForgedAccessEvent], await s.AlertTypesAsync());
        Assert.Equal(0, (await s.Cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Entries);
        Assert.Equal(1, s.Cluster.Metrics.RejectedFor("bad-signature"));
    }

    [Fact]
    public async Task A_replayed_access_event_raises_an_alert_but_an_identical_redelivery_is_a_silent_duplicate()
    {
        await using var s = await CampusScenario.StartAsync();
        var access = "\"req\":\"\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"cache\"";
        var first = s.EventBytes("d1", "access", access);
        var topic = DeviceTopic.Event("s01", "r101", DeviceKind.Door, "d1").ToString();
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, first, "d1"));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, first, "d1", dup: true)); // QoS 1 redelivery
        Assert.Empty(await s.AlertsAsync());

        await s.PassAsync(TimeSpan.FromMinutes(1));
        await s.EventAsync("d1", "rex"); // seq 2
        var replay = s.EventBytes("d1", "access", access, seq: 1); // validly signed, but an old seq with other bytes (new ts)
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync(topic, replay, "d1"));
        Assert.Equal([AlertType.ReplayedAccessEvent], await s.AlertTypesAsync());
        Assert.Equal(1, (await s.Cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Entries);
    }

    [Fact]
    public async Task A_byte_identical_access_event_sent_again_without_dup_is_a_replay_not_a_redelivery()
    {
        await using var s = await CampusScenario.StartAsync();
        var first = s.EventBytes("d1", "access", "\"req\":\"\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"cache\"");
        var topic = DeviceTopic.Event("s01", "r101", DeviceKind.Door, "d1").ToString();
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, first, "d1"));
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync(topic, first, "d1", dup: false));
        var alert = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.ReplayedAccessEvent, AlertSeverity.Critical), (alert.Type, alert.Severity));
        var door = await s.Cluster.Device(DeviceKind.Door, "d1").GetSnapshot();
        Assert.Equal((1L, 0L), (door.Entries, door.Duplicates));
        Assert.Equal(1, s.Cluster.Metrics.RejectedFor("replayed"));
    }

    [Fact]
    public async Task Power_drawn_in_an_empty_room_after_hours_for_half_an_hour_raises_an_energy_alert()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        s.AdvanceToLocal(0, 20);
        await s.TelemetryAsync("e1", "\"occupied\":false");
        for (var i = 0; i <= 7; i++)
        {
            await s.TelemetryAsync("m1", $"\"energyKwh\":{100 + (i * 0.4)},\"powerW\":800");
            await s.TelemetryAsync("e1", "\"occupied\":false");
            if (i < 6) Assert.Empty(await s.AlertsAsync());
            await s.PassAsync(TimeSpan.FromMinutes(5));
        }
        var alert = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.AfterHoursEnergy, "r101"), (alert.Type, alert.Source));
    }

    [Fact]
    public async Task A_consumption_spike_against_the_same_hour_of_past_weeks_raises_an_alert()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var counter = 1000.0;
        async Task HourAsync(int day, double kwh)
        {
            s.AdvanceToLocal(day, 3, 0);
            await s.TelemetryAsync("m1", $"\"energyKwh\":{counter},\"powerW\":50");
            s.AdvanceToLocal(day, 3, 59);
            counter += kwh;
            await s.TelemetryAsync("m1", $"\"energyKwh\":{counter},\"powerW\":50");
            s.AdvanceToLocal(day, 4, 1);
            await s.TelemetryAsync("m1", $"\"energyKwh\":{counter},\"powerW\":50");
        }
        // Mondays 30 Nov, 7, 14 and 21 Dec at 03:00: about 0.3 kWh (lights of the corridor).
        foreach (var (day, kwh) in new[] { (4, 0.3), (11, 0.35), (18, 0.28), (25, 0.32) }) await HourAsync(day, kwh);
        Assert.DoesNotContain(AlertType.ConsumptionSpike, await s.AlertTypesAsync());
        await HourAsync(32, 3.5); // Monday 28 Dec: a heater left on
        var spike = (await s.AlertsAsync()).Single(a => a.Type == AlertType.ConsumptionSpike);
        Assert.Equal("r101", spike.Source);
    }

    /// <summary>
    /// The room has never reported, but the history holds four past weeks of its meter (2 kW from
    /// 08:00 to 16:00, 100 W otherwise): at its first report the room learns its usual power from them,
    /// so normal use raises nothing and a 9 kW load held for a minute raises a consumption spike at once.
    /// </summary>
    [Fact]
    public async Task A_power_spike_is_measured_against_the_usual_power_learned_from_past_weeks_of_history()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var counter = 0.0;
        uint seq = 0;
        var end = s.Now.AddMinutes(-s.Now.Minute);
        for (var hour = end.AddDays(-28); hour < end; hour = hour.AddHours(1))
        {
            var local = TimeZoneInfo.ConvertTime(hour, s.Zone);
            var w = local.Hour is >= 8 and < 16 ? 2000 : 100;
            counter += w / 1000.0;
            await s.Cluster.History.AppendAsync(new TelemetryRecord
            {
                SchoolId = CampusScenario.School, RoomId = CampusScenario.Room, DeviceId = "m1", Kind = "energy",
                Boot = 99, Seq = ++seq, DeviceTime = hour.AddMinutes(59), ReceivedAt = hour.AddMinutes(59), EnergyKwh = counter, PowerW = w,
            });
        }

        // Thursday 10:00 to 10:20: a busy but normal morning.
        counter = 100;
        for (var i = 0; i < 20; i++)
        {
            counter += 0.05;
            await s.TelemetryAsync("m1", $"\"energyKwh\":{counter:0.000},\"powerW\":3000");
            await s.PassAsync(TimeSpan.FromMinutes(1));
        }
        Assert.DoesNotContain(AlertType.ConsumptionSpike, await s.AlertTypesAsync());

        // A 9 kW load on top for 3 minutes.
        for (var i = 0; i < 6; i++)
        {
            counter += 0.1;
            await s.TelemetryAsync("m1", $"\"energyKwh\":{counter:0.000},\"powerW\":12000");
            await s.PassAsync(TimeSpan.FromSeconds(30));
        }
        var spike = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.ConsumptionSpike, "r101"), (spike.Type, spike.Source));
        Assert.Contains("usual 2.00 kW", spike.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_normal_school_day_raises_no_alert()
    {
        await using var s = await CampusScenario.StartAsync(start: new DateTimeOffset(2026, 11, 26, 6, 30, 0, TimeSpan.FromHours(8)));
        var counter = 500.0;
        // 06:30 to 22:30: heartbeats every minute, telemetry every 5 minutes, lessons 08:00-17:00.
        for (var minute = 0; minute < 16 * 60; minute++)
        {
            var local = TimeZoneInfo.ConvertTime(s.Now, s.Zone);
            var lessons = local.Hour is >= 8 and < 17;
            foreach (var d in new[] { "d1", "m1", "e1", "g1" }) await s.OnlineAsync(d);
            if (minute % 5 == 0)
            {
                var power = lessons ? 1500 : 60;
                counter += power / 1000.0 / 12;
                await s.TelemetryAsync("m1", $"\"energyKwh\":{counter:0.000},\"powerW\":{power}");
                await s.TelemetryAsync("e1", $"\"occupied\":{(lessons ? "true" : "false")},\"temperatureC\":21.5");
            }
            if (lessons && minute % 45 == 0)
            {
                Assert.True((await s.PresentCardAsync("d1", CampusScenario.TeacherCard)).Grant);
                await s.EventAsync("d1", "door", "\"state\":\"open\"");
                await s.PassAsync(TimeSpan.FromSeconds(6));
                await s.EventAsync("d1", "door", "\"state\":\"closed\"");
                await s.EventAsync("g1", "checkin", $"\"card\":\"{CampusScenario.TeacherCard}\",\"lesson\":\"2026-11-26/{local.Hour - 7}\"");
                await s.PassAsync(TimeSpan.FromSeconds(54));
            }
            else
            {
                await s.PassAsync(TimeSpan.FromMinutes(1));
            }
        }
        Assert.Empty(await s.AlertsAsync());
        var room = await s.Cluster.Room("s01", "r101").GetSnapshot();
        Assert.InRange(room.EnergyTodayKwh, 10, 20);
    }
}
