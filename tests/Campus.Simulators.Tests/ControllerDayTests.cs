using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Testing;
using Campus.Simulators.Day;
using Campus.Simulators.District;
using Campus.Simulators.Fleet;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;
using ControllerRole = Campus.Controller.Domain.PersonRole;

namespace Campus.Simulators.Tests;

/// <summary>
/// One simulated school for one simulated day, firmware in the loop, through the whole controller
/// in-process (embedded broker, in-memory storage): the controller's clock is a fake one that the
/// simulation moves in lock-step with the fleet, so the day runs far faster than real time.
/// </summary>
[Collection("fleet")]
public sealed class ControllerDayTests(ITestOutputHelper output)
{
    private const int Seed = 5;

    [Fact]
    public async Task One_school_day_through_the_controller_gives_the_day_models_energy_and_exactly_the_scripted_alerts()
    {
        var district = Districts.Small;
        var school = Assert.Single(district.Schools);
        var dayStart = DayModel.Utc(school, district.Date.ToDateTime(TimeOnly.MinValue));
        var dayEnd = DayModel.Utc(school, district.Date.AddDays(1).ToDateTime(TimeOnly.MinValue));
        var time = new FakeTimeProvider(dayStart - DistrictSimulation.BootMargin - TimeSpan.FromMinutes(1));
        await using var cluster = await CampusTestCluster.StartAsync(time);
        var credentials = await ProvisionAsync(cluster, district);

        string[] scenarios = ["night-break-in", "device-offline", "energy-waste"];
        DayModel day;
        IReadOnlyList<string> log;
        await using (var simulation = await DistrictSimulation.StartAsync(district, new SimulationOptions
        {
            BrokerPort = cluster.MqttPort,
            Speed = 0,
            Seed = Seed,
            Credentials = credentials,
            Scenarios = scenarios,
            Step = TimeSpan.FromSeconds(1),
            IdleStep = TimeSpan.FromSeconds(10),
            StartUtc = dayStart,
            Duration = dayEnd - dayStart,
            TimeAdvancing = utc => time.SetUtcNow(new DateTimeOffset(utc)),
        }))
        {
            await simulation.Completion.WaitAsync(TimeSpan.FromMinutes(4));
            var stats = simulation.Stats;
            output.WriteLine($"{stats.SimulatedElapsed} simulated in {stats.RealElapsed} (x{stats.AchievedSpeed:0}), {stats.Published} messages, {stats.TapsDone} taps, {stats.LateSteps} late steps");
            Assert.Equal(0, stats.TapsMissed);
            Assert.True(stats.TapsDone > 5, $"people tapped their cards at the doors ({stats.TapsDone})");
            day = simulation.Day;
            log = stats.ScenarioLog;
        }

        foreach (var line in log) output.WriteLine(line);

        // Energy: the controller's daily rollups per room and for the school against the day model's
        // exact per-minute sum of what each meter of the room measures (lights left on included).
        double schoolExpected = 0;
        foreach (var room in school.Rooms)
        {
            double expected = school.Devices.Where(d => d.Room == room.Id && d.Kind == "energy").Sum(m => day.EnergyKwh(m, dayStart, dayEnd));
            double actual = await DayEnergyAsync(cluster, EnergyTarget.Room(school.Id, room.Id), district.Date);
            output.WriteLine($"{room.Id}: controller {actual:0.000} kWh, day model {expected:0.000} kWh");
            Assert.True(expected > 1, $"room {room.Id} used energy ({expected:0.000} kWh)");
            Assert.InRange(actual, expected * 0.99, expected * 1.01);
            schoolExpected += expected;
        }

        double schoolActual = await DayEnergyAsync(cluster, EnergyTarget.School(school.Id), district.Date);
        output.WriteLine($"{school.Id}: controller {schoolActual:0.000} kWh, day model {schoolExpected:0.000} kWh");
        Assert.InRange(schoolActual, schoolExpected * 0.99, schoolExpected * 1.01);

        // Alerts: exactly the scripted ones (type and source), no more, no less.
        var alerts = await cluster.School(school.Id).GetAlerts(includeClosed: true);
        foreach (var a in alerts) output.WriteLine($"alert {a.Type} {a.Source} {a.Status} x{a.Count}: {a.Message}");
        var plans = scenarios.Select(n => Scenarios.ScenarioCatalog.Plan(n, district)).ToList();
        string door = plans[0].Expected[0].Device;
        string env = plans[1].Expected[0].Device;
        string wasteRoom = school.Devices.Single(d => d.Id == plans[2].Expected[0].Device).Room;
        var expectedAlerts = new[] { (AlertType.DoorForced, door), (AlertType.DeviceOffline, env), (AlertType.AfterHoursEnergy, wasteRoom) }
            .Select(a => $"{a.Item1} {a.Item2}").Order().ToList();
        Assert.Equal(expectedAlerts, alerts.Select(a => $"{a.Type} {a.Source}").Order().ToList());

        // The conditions that clear did clear: the device came back and the lights went off at 22:31.
        Assert.Equal(AlertStatus.Resolved, alerts.Single(a => a.Type == AlertType.DeviceOffline).Status);
        Assert.Equal(AlertStatus.Resolved, alerts.Single(a => a.Type == AlertType.AfterHoursEnergy).Status);
    }

    private static async Task<double> DayEnergyAsync(CampusTestCluster cluster, EnergyTarget target, DateOnly date)
    {
        var series = await cluster.History.GetEnergySeriesAsync(new EnergySeriesQuery(target, EnergyGranularity.Day, date, date));
        return series.Points.Sum(p => p.EnergyKwh);
    }

    /// <summary>Registers the district's school, rooms, devices (issuing their secrets) and people with the controller.</summary>
    private static async Task<Dictionary<string, DeviceSecret>> ProvisionAsync(CampusTestCluster cluster, DistrictModel district)
    {
        const string By = "test";
        var registry = cluster.Registry;
        var secrets = new Dictionary<string, DeviceSecret>(StringComparer.Ordinal);
        foreach (var school in district.Schools)
        {
            var hours = new WeeklySchedule([.. school.OpeningHours.Select(w => new TimeWindow(w.Days, w.From, w.To))]);
            var zones = school.Zones.Select(z => new AccessZoneSpec(z.Id, z.Rooms.Contains("*") ? [.. school.Rooms.Select(r => r.Id)] : z.Rooms)).ToList();
            await registry.UpsertSchool(new SchoolSpec(school.Id, school.Name, school.TimeZoneId, hours, zones), By);
            foreach (var room in school.Rooms)
            {
                // A room is wasting energy after hours above twice its base load.
                await registry.UpsertRoom(new RoomSpec(school.Id, room.Id, room.Name, Math.Max(200, room.BaseLoadW * 2)), By);
            }

            foreach (var device in school.Devices)
            {
                Assert.True(WireNames.TryParse<DeviceKind>(device.Kind.AsSpan(), out var kind), device.Kind);
                var issued = await registry.CreateDevice(new DeviceSpec(school.Id, device.Room, kind, device.Id), By);
                secrets[device.Id] = new DeviceSecret(issued.DeviceId, issued.MqttPassword, Convert.FromBase64String(issued.HmacKeyBase64));
            }

            var schedules = school.Zones.ToDictionary(z => z.Id, z => new WeeklySchedule([.. z.Schedule.Select(w => new TimeWindow(w.Days, w.From, w.To))]));
            foreach (var person in district.People.Where(p => p.School == school.Id))
            {
                await registry.UpsertPerson(new PersonProfile(person.Id, person.Name, Enum.Parse<ControllerRole>(person.Role.ToString()), school.Id,
                    [.. person.Cards.Select(c => new AccessCard(c, CardStatus.Active))],
                    [.. person.Zones.Select(z => new ZoneGrant(z, schedules[z]))]), By);
            }
        }

        return secrets;
    }
}
