using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;

namespace Campus.Controller.Tests.Scenarios;

/// <summary>Device reports reach their room one way, so the room counts them at the time they were made.</summary>
public sealed class RoomReportTests
{
    [Fact]
    public async Task A_room_counts_a_report_at_the_time_its_device_made_it_and_its_clock_never_goes_back()
    {
        // Thursday 23:58; the room is active from then on (a report made before its activation counts at the activation).
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts, new DateTimeOffset(2026, 11, 26, 23, 58, 0, TimeSpan.FromHours(8)));
        var room = s.Cluster.Room(CampusScenario.School, CampusScenario.Room);
        await room.GetSnapshot();
        s.AdvanceToLocal(1, 0, 1); // Friday 00:01
        DeviceLive Report(double kwh, TimeSpan before) => new("m1", DeviceKind.Energy, true, 100, kwh, null, null, null, s.Now - before);

        await room.Report(Report(1.0, TimeSpan.FromMinutes(2)));   // made on Thursday at 23:59, taken on Friday
        Assert.Equal(0, (await room.GetSnapshot()).EnergyTodayKwh, 6);

        await room.Report(Report(0.5, TimeSpan.Zero));
        Assert.Equal(0.5, (await room.GetSnapshot()).EnergyTodayKwh, 6);

        // Made before the room's last report (reports of several devices may cross): counted at the room's clock.
        await room.Report(Report(0.25, TimeSpan.FromMinutes(3)));
        Assert.Equal(0.75, (await room.GetSnapshot()).EnergyTodayKwh, 6);
    }

    [Fact]
    public async Task A_meter_that_went_offline_stops_counting_toward_its_rooms_power_after_hours()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        s.AdvanceToLocal(0, 20);
        await s.TelemetryAsync("e1", "\"occupied\":false,\"temperatureC\":20");
        await s.TelemetryAsync("m1", "\"energyKwh\":100,\"powerW\":800");
        Assert.Equal(800, (await s.Cluster.Room(CampusScenario.School, CampusScenario.Room).GetSnapshot()).PowerW);
        await s.LastWillAsync("m1");
        for (var i = 0; i < 8; i++)
        {
            await s.PassAsync(TimeSpan.FromMinutes(5));
            await s.TelemetryAsync("e1", "\"occupied\":false,\"temperatureC\":20");
        }
        Assert.DoesNotContain(AlertType.AfterHoursEnergy, await s.AlertTypesAsync());
        Assert.Equal(0, (await s.Cluster.Room(CampusScenario.School, CampusScenario.Room).GetSnapshot()).PowerW);
    }

    [Fact]
    public async Task Between_reports_to_its_school_a_room_keeps_its_totals_up_to_date_report_by_report()
    {
        await using var s = await CampusScenario.StartAsync(o =>
        {
            CampusScenario.WithoutHeartbeatTimeouts(o);
            o.Settings["Campus:Controller:RoomReportInterval"] = "01:00:00";
        });
        var room = s.Cluster.Room(CampusScenario.School, CampusScenario.Room);
        DeviceLive Meter(double watts) => new("m1", DeviceKind.Energy, true, watts, 0, null, null, null, s.Now);
        DeviceLive Node(double celsius) => new("e1", DeviceKind.Env, true, null, 0, false, celsius, null, s.Now);

        await room.Report(Meter(800));   // each device's first report is news: the school is told (the totals summed again)
        await room.Report(Node(20));
        await room.Report(Meter(100));   // no news within the hour: the totals follow report by report
        await room.Report(Node(22));
        await room.Report(Meter(150));

        var snapshot = await room.GetSnapshot();
        Assert.Equal((150.0, 22.0), (snapshot.PowerW, snapshot.TemperatureC));
    }
}
