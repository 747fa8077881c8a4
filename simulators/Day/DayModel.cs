using Campus.Simulators.District;

namespace Campus.Simulators.Day;

/// <summary>A card tapped at a door by a person at a simulated instant.</summary>
public readonly record struct DoorTap(DateTime AtUtc, string DoorDevice, string Card, string PersonId, bool WalkIn = true);

/// <summary>
/// The day model: timetable -> occupancy per room -> lighting, HVAC and plug load -> power per
/// meter. Everything is a pure function of (district, seed, instant), constant within each
/// simulated minute, so energy over a day is the exact sum of its minutes and the same seed gives
/// the same day. Scenarios add overrides (lights left on, spikes) through <see cref="Overrides"/>.
/// </summary>
internal sealed class DayModel
{
    public const double LightingWPerM2 = 8;
    public const double HvacWPerM2 = 30;
    public const double PlugWPerPerson = 5;
    public const double KitBusyW = 2.5;
    public const double BenchIdleW = 3;
    public const double BenchBusV = 12;
    public const int PreconditionMinutes = 20;

    private readonly DistrictModel _district;
    private readonly int _seed;
    private readonly Dictionary<string, RoomModel> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SchoolModel> _schools = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _classSizes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PersonModel> _teachers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<PersonModel>> _students = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _kits = new(StringComparer.Ordinal);

    public DayModel(DistrictModel district, int seed)
    {
        _district = district;
        _seed = seed;
        foreach (var school in district.Schools)
        {
            _schools[school.Id] = school;
            foreach (var room in school.Rooms) _rooms[Key(school.Id, room.Id)] = room;
            foreach (var d in school.Devices.Where(d => d.Kind == "maker"))
            {
                _kits[Key(school.Id, d.Room)] = _kits.GetValueOrDefault(Key(school.Id, d.Room)) + 1;
            }
        }

        foreach (var p in district.People)
        {
            if (p.Role == PersonRole.Student && p.Class is not null)
            {
                string key = Key(p.School, p.Class);
                _classSizes[key] = _classSizes.GetValueOrDefault(key) + 1;
                if (!_students.TryGetValue(key, out var list)) _students[key] = list = [];
                list.Add(p);
            }
            else if (p.Role == PersonRole.Teacher)
            {
                _teachers.TryAdd(Key(p.School, p.Name), p);
            }
        }
    }

    public DistrictModel District => _district;

    public int Seed => _seed;

    /// <summary>Scenario overrides; read by every load computation.</summary>
    public LoadOverrides Overrides { get; } = new();

    private static string Key(string school, string item) => school + "/" + item;

    public RoomModel Room(string school, string room) => _rooms[Key(school, room)];

    public static DateTime Local(SchoolModel school, DateTime utc) => TimeZoneInfo.ConvertTimeFromUtc(utc, school.TimeZone);

    public static DateTime Utc(SchoolModel school, DateTime local) => TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), school.TimeZone);

    private static int IsoDay(DateTime local) => local.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)local.DayOfWeek;

    /// <summary>The lesson in the room at this local time, if any (breaks and free periods: none).</summary>
    public (LessonModel Lesson, BellPeriod Period)? LessonAt(RoomModel room, DateTime local)
    {
        var school = _schools[room.School];
        int day = IsoDay(local);
        var time = TimeOnly.FromDateTime(local);
        foreach (var period in school.Periods)
        {
            if (time < period.From || time >= period.To) continue;
            foreach (var lesson in room.Timetable)
            {
                if (lesson.Day == day && lesson.Period == period.Number) return (lesson, period);
            }
        }

        return null;
    }

    /// <summary>People in the room during the minute that holds <paramref name="utc"/>.</summary>
    public int Occupancy(RoomModel room, DateTime utc)
    {
        if (Overrides.Empty(room.School, room.Id, utc)) return 0;
        var school = _schools[room.School];
        var local = Minute(Local(school, utc));
        if (room.Kind == RoomKind.Office)
        {
            if (!school.IsOpen(local)) return 0;
            var t = TimeOnly.FromDateTime(local);
            if (t < new TimeOnly(7, 30) || t >= new TimeOnly(17, 30)) return 0;
            return t >= new TimeOnly(12, 0) && t < new TimeOnly(13, 0) ? 1 : 3;
        }

        var now = LessonAt(room, local);
        if (now is null) return 0;
        var (lesson, _) = now.Value;
        int students = lesson.Class == "all" ? Math.Min(room.Capacity, _classSizes.Where(c => c.Key.StartsWith(room.School + "/", StringComparison.Ordinal)).Sum(c => c.Value))
            : _classSizes.GetValueOrDefault(Key(room.School, lesson.Class), room.Capacity / 2);
        return Math.Min(room.Capacity > 0 ? room.Capacity : int.MaxValue, students + 1);
    }

    /// <summary>True while the HVAC runs: occupied, or pre-conditioning before a lesson in opening hours.</summary>
    public bool HvacOn(RoomModel room, DateTime utc)
    {
        if (Occupancy(room, utc) > 0) return true;
        var school = _schools[room.School];
        var local = Minute(Local(school, utc));
        if (!school.IsOpen(local)) return false;
        return LessonAt(room, local.AddMinutes(PreconditionMinutes)) is not null;
    }

    public bool LightsOn(RoomModel room, DateTime utc) => Occupancy(room, utc) > 0 || Overrides.LightsLeftOn(room.School, room.Id, utc);

    /// <summary>Maker kits in use: during a lesson in a maker space.</summary>
    public bool KitsBusy(RoomModel room, DateTime utc) =>
        room.Kind == RoomKind.MakerSpace && LessonAt(room, Minute(Local(_schools[room.School], utc))) is not null;

    /// <summary>The room's mains power (what its PZEM meter measures), constant within a minute.</summary>
    public double RoomPowerW(RoomModel room, DateTime utc)
    {
        var minute = Minute(utc);
        int people = Occupancy(room, minute);
        double w = room.BaseLoadW + people * PlugWPerPerson;
        if (LightsOn(room, minute)) w += LightingWPerM2 * room.AreaM2;
        if (HvacOn(room, minute)) w += HvacWPerM2 * room.AreaM2;
        if (KitsBusy(room, minute)) w += _kits.GetValueOrDefault(Key(room.School, room.Id)) * KitBusyW;
        w *= 1 + 0.04 * (Noise(room.School + room.Id, minute) - 0.5);
        return w + Overrides.ExtraW(room.School, room.Id, minute);
    }

    /// <summary>The maker bench circuit (INA219 meter, 12 V): idle supply plus the kits in use.</summary>
    public double BenchPowerW(RoomModel room, DateTime utc)
    {
        var minute = Minute(utc);
        double w = BenchIdleW + (KitsBusy(room, minute) ? _kits.GetValueOrDefault(Key(room.School, room.Id)) * KitBusyW : 0);
        return w * (1 + 0.04 * (Noise("bench" + room.School + room.Id, minute) - 0.5));
    }

    /// <summary>What a meter device measures.</summary>
    public double MeterPowerW(DeviceModel meter, DateTime utc)
    {
        var room = Room(meter.School, meter.Room);
        return meter.Meter == "ina219" ? BenchPowerW(room, utc) : RoomPowerW(room, utc);
    }

    /// <summary>Exact energy of a meter over [from, to): the sum of its per-minute power (kWh).</summary>
    public double EnergyKwh(DeviceModel meter, DateTime fromUtc, DateTime toUtc)
    {
        double wh = 0;
        var t = fromUtc;
        while (t < toUtc)
        {
            var next = Minute(t).AddMinutes(1);
            if (next > toUtc) next = toUtc;
            wh += MeterPowerW(meter, t) * (next - t).TotalHours;
            t = next;
        }

        return wh / 1000;
    }

    public double TemperatureC(RoomModel room, DateTime utc)
    {
        var minute = Minute(utc);
        double t = 17.5 + (HvacOn(room, minute) ? 3.5 : 0) + Math.Min(Occupancy(room, minute), 60) * 0.03;
        return t + 0.4 * (Noise("t" + room.School + room.Id, minute) - 0.5);
    }

    public double HumidityPct(RoomModel room, DateTime utc)
    {
        var minute = Minute(utc);
        return 38 + Math.Min(Occupancy(room, minute), 60) * 0.2 + 2 * (Noise("h" + room.School + room.Id, minute) - 0.5);
    }

    /// <summary>Soil and light readings of a maker kit (ADC counts).</summary>
    public (int Soil, int Light) KitReadings(DeviceModel kit, DateTime utc)
    {
        var room = Room(kit.School, kit.Room);
        var minute = Minute(utc);
        bool busy = KitsBusy(room, minute);
        int soil = 450 + (int)(200 * Noise("soil" + kit.Id, minute));
        int light = (LightsOn(room, minute) ? 700 : 150) + (busy ? (int)(150 * Noise("light" + kit.Id, minute)) : 0);
        return (soil, light);
    }

    /// <summary>
    /// Card taps at doors in [from, to): before each lesson the teacher and a few students of the
    /// class tap at the room's door; office staff tap in the morning and after lunch. Taps at one
    /// door are 20 s apart.
    /// </summary>
    public IEnumerable<DoorTap> Taps(DateTime fromUtc, DateTime toUtc)
    {
        var taps = new List<DoorTap>();
        foreach (var school in _district.Schools)
        {
            var firstDay = DateOnly.FromDateTime(Local(school, fromUtc));
            var lastDay = DateOnly.FromDateTime(Local(school, toUtc));
            var doors = school.Devices.Where(d => d.Kind == "door").GroupBy(d => d.Room).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            var staff = _district.People.Where(p => p.School == school.Id && p.Role is PersonRole.Staff or PersonRole.Admin && p.Cards.Count > 0).ToList();
            for (var day = firstDay; day <= lastDay; day = day.AddDays(1))
            {
                var dayStart = day.ToDateTime(TimeOnly.MinValue);
                int iso = IsoDay(dayStart);
                foreach (var room in school.Rooms)
                {
                    if (!doors.TryGetValue(room.Id, out var door)) continue;
                    if (room.Kind == RoomKind.Office)
                    {
                        foreach (var at in new[] { new TimeOnly(7, 40), new TimeOnly(13, 5) })
                        {
                            if (!school.IsOpen(dayStart.Add(at.ToTimeSpan())) || staff.Count == 0) continue;
                            var person = staff[(int)(Noise("office" + room.Id, dayStart.Add(at.ToTimeSpan())) * staff.Count) % staff.Count];
                            taps.Add(new DoorTap(Utc(school, dayStart.Add(at.ToTimeSpan())), door.Id, person.Cards[0], person.Id));
                        }

                        continue;
                    }

                    foreach (var lesson in room.Timetable)
                    {
                        if (lesson.Day != iso) continue;
                        var period = school.Periods.First(p => p.Number == lesson.Period);
                        var start = dayStart.Add(period.From.ToTimeSpan()).AddMinutes(-4);
                        var tappers = new List<PersonModel>();
                        if (_teachers.TryGetValue(Key(school.Id, lesson.Teacher), out var teacher)) tappers.Add(teacher);
                        if (_students.TryGetValue(Key(school.Id, lesson.Class), out var students) && students.Count > 0)
                        {
                            int n = (int)(Noise("n" + room.Id + lesson.Period, start) * 3);
                            for (int i = 0; i < n; i++)
                            {
                                tappers.Add(students[(int)(Noise("s" + i + room.Id, start) * students.Count) % students.Count]);
                            }
                        }

                        for (int i = 0; i < tappers.Count; i++)
                        {
                            if (tappers[i].Cards.Count == 0) continue;
                            taps.Add(new DoorTap(Utc(school, start.AddSeconds(20 * i)), door.Id, tappers[i].Cards[0], tappers[i].Id));
                        }
                    }
                }
            }
        }

        return taps.Where(t => t.AtUtc >= fromUtc && t.AtUtc < toUtc).OrderBy(t => t.AtUtc).ThenBy(t => t.DoorDevice, StringComparer.Ordinal);
    }

    private static DateTime Minute(DateTime t) => new(t.Ticks - t.Ticks % TimeSpan.TicksPerMinute, t.Kind);

    /// <summary>A deterministic value in [0, 1) from the seed, a name and a minute.</summary>
    private double Noise(string name, DateTime minute)
    {
        ulong h = 1469598103934665603UL ^ (ulong)(uint)_seed;
        foreach (char c in name) h = (h ^ c) * 1099511628211UL;
        h = (h ^ (ulong)(minute.Ticks / TimeSpan.TicksPerMinute)) * 1099511628211UL;
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9UL;
        h ^= h >> 32;
        return (h >> 11) * (1.0 / (1UL << 53));
    }
}

/// <summary>Load changes a scenario makes: lights left on, extra power (spikes), rooms emptied, by room and time.</summary>
internal sealed class LoadOverrides
{
    private readonly List<(string School, string Room, DateTime From, DateTime To, double ExtraW, bool Lights)> _items = [];
    private readonly List<(string School, string Room, DateTime From, DateTime To)> _empty = [];
    private readonly object _sync = new();

    public void AddLightsLeftOn(string school, string room, DateTime fromUtc, DateTime toUtc)
    {
        lock (_sync) _items.Add((school, room, fromUtc, toUtc, 0, true));
    }

    /// <summary>Nobody is in the room in [from, to) whatever its timetable says (a lesson moved elsewhere).</summary>
    public void AddEmptyRoom(string school, string room, DateTime fromUtc, DateTime toUtc)
    {
        lock (_sync) _empty.Add((school, room, fromUtc, toUtc));
    }

    public bool Empty(string school, string room, DateTime utc)
    {
        lock (_sync)
        {
            if (_empty.Count == 0) return false;
            return _empty.Exists(i => i.School == school && i.Room == room && utc >= i.From && utc < i.To);
        }
    }

    public void AddExtraLoad(string school, string room, DateTime fromUtc, DateTime toUtc, double watts)
    {
        lock (_sync) _items.Add((school, room, fromUtc, toUtc, watts, false));
    }

    public bool LightsLeftOn(string school, string room, DateTime utc)
    {
        lock (_sync) return _items.Any(i => i.Lights && i.School == school && i.Room == room && utc >= i.From && utc < i.To);
    }

    public double ExtraW(string school, string room, DateTime utc)
    {
        lock (_sync) return _items.Where(i => !i.Lights && i.School == school && i.Room == room && utc >= i.From && utc < i.To).Sum(i => i.ExtraW);
    }
}
