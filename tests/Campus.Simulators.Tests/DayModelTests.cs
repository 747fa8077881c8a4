using Campus.Simulators.Chips;
using Campus.Simulators.Day;
using Campus.Simulators.District;

namespace Campus.Simulators.Tests;

public sealed class DayModelTests
{
    [Fact]
    public void Room_energy_through_its_meter_model_matches_the_analytic_sum_of_its_load_within_one_percent()
    {
        var district = Districts.Small;
        var school = district.Schools[0];
        var room = school.Rooms.First(r => r.Id == "r101");
        var meter = school.Devices.First(d => d.Id == "s01-r101-energy");
        var day = new DayModel(district, seed: 11);
        var dayStart = DayModel.Utc(school, district.Date.ToDateTime(TimeOnly.MinValue));

        // The meter chip integrates whatever load the simulation sets, step by step, on the simulated clock.
        var clock = new SimulatedClock(dayStart);
        var pzem = new Pzem004tModel(clock);
        for (int s = 0; s < 24 * 3600; s += 10)
        {
            double w = day.RoomPowerW(room, dayStart.AddSeconds(s));
            pzem.SetLoad(230, w / 230, 1.0);
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        // Analytic: base load all day, lighting + people during lessons, HVAC during lessons and 20 min before each.
        int students = district.People.Count(p => p.Class == "7A");
        double lessonHours = 0, hvacHours = 0;
        foreach (var lesson in room.Timetable.Where(l => l.Day == 4))
        {
            var period = school.Periods.First(p => p.Number == lesson.Period);
            double h = (period.To - period.From).TotalHours;
            lessonHours += h;
            hvacHours += h;
        }

        // Pre-conditioning: the 20 minutes before each lesson that are not inside another lesson.
        var lessonTimes = room.Timetable.Where(l => l.Day == 4).Select(l => school.Periods.First(p => p.Number == l.Period)).OrderBy(p => p.From).ToList();
        for (int i = 0; i < lessonTimes.Count; i++)
        {
            var preStart = lessonTimes[i].From.AddMinutes(-20);
            var prevEnd = i > 0 ? lessonTimes[i - 1].To : TimeOnly.MinValue;
            hvacHours += (lessonTimes[i].From - (preStart > prevEnd ? preStart : prevEnd)).TotalHours;
        }

        double analyticWh = room.BaseLoadW * 24
            + lessonHours * (DayModel.LightingWPerM2 * room.AreaM2 + (students + 1) * DayModel.PlugWPerPerson)
            + hvacHours * DayModel.HvacWPerM2 * room.AreaM2;
        double meterWh = pzem.EnergyWh;
        Assert.InRange(meterWh, analyticWh * 0.99, analyticWh * 1.01);
        // The day model's own minute sum is the meter's total (same load, finer bookkeeping).
        double modelKwh = day.EnergyKwh(meter, dayStart, dayStart.AddDays(1));
        Assert.InRange(modelKwh * 1000, meterWh * 0.999, meterWh * 1.001);
        Assert.True(analyticWh > room.BaseLoadW * 24 * 1.5, "a school day uses clearly more than the base load");
    }

    [Fact]
    public void Same_seed_gives_the_same_taps_and_loads_and_another_seed_does_not()
    {
        var district = Districts.Default;
        var school = district.Schools[1];
        var from = DayModel.Utc(school, district.Date.ToDateTime(new TimeOnly(7, 0)));
        var to = from.AddHours(10);
        var a = new DayModel(district, 5).Taps(from, to).ToList();
        var b = new DayModel(district, 5).Taps(from, to).ToList();
        var c = new DayModel(district, 6).Taps(from, to).ToList();
        Assert.True(a.Count > 1000, $"a school day has many taps ({a.Count})");
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var room = school.Rooms.First();
        Assert.Equal(new DayModel(district, 5).RoomPowerW(room, from.AddHours(3)), new DayModel(district, 5).RoomPowerW(room, from.AddHours(3)));
    }

    [Fact]
    public void Classroom_is_occupied_in_lessons_and_empty_at_night()
    {
        var district = Districts.Small;
        var school = district.Schools[0];
        var day = new DayModel(district, 1);
        var room = school.Rooms.First(r => r.Id == "r101");
        DateTime At(int h, int m) => DayModel.Utc(school, district.Date.ToDateTime(new TimeOnly(h, m)));
        Assert.Equal(5, day.Occupancy(room, At(8, 10))); // four students of 7A and the teacher
        Assert.Equal(0, day.Occupancy(room, At(10, 10))); // period 3: the class is in the maker space
        Assert.Equal(0, day.Occupancy(room, At(2, 0)));
        Assert.True(day.KitsBusy(school.Rooms.First(r => r.Id == "mk1"), At(10, 10)));
        Assert.True(day.RoomPowerW(room, At(8, 10)) > day.RoomPowerW(room, At(2, 0)) * 5);
    }
}
