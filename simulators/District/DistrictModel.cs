namespace Campus.Simulators.District;

/// <summary>A whole simulated district, as read from one YAML or JSON file.</summary>
public sealed record DistrictModel(
    string Name,
    DateOnly Date,
    IReadOnlyList<SchoolModel> Schools,
    IReadOnlyList<PersonModel> People)
{
    public IEnumerable<RoomModel> Rooms => Schools.SelectMany(s => s.Rooms);

    public IEnumerable<DeviceModel> Devices => Schools.SelectMany(s => s.Devices);

    public SchoolModel School(string id) => Schools.First(s => s.Id == id);
}

/// <summary>Room kinds of the district file.</summary>
public enum RoomKind
{
    Classroom,
    Lab,
    MakerSpace,
    Office,
    Hall,
}

/// <summary>A weekly window: ISO days ("12345" = Monday to Friday) and a local time range.</summary>
public sealed record WeeklyWindow(string Days, TimeOnly From, TimeOnly To)
{
    public bool Contains(DayOfWeek day, TimeOnly time)
    {
        int iso = day == DayOfWeek.Sunday ? 7 : (int)day;
        return Days.Contains((char)('0' + iso)) && time >= From && time < To;
    }
}

/// <summary>One period of a school's bell schedule.</summary>
public sealed record BellPeriod(int Number, TimeOnly From, TimeOnly To);

/// <summary>An access zone: rooms of one school and when its holders may enter.</summary>
public sealed record ZoneModel(string Id, IReadOnlyList<string> Rooms, IReadOnlyList<WeeklyWindow> Schedule);

public sealed record SchoolModel(
    string Id,
    string Name,
    string TimeZoneId,
    IReadOnlyList<WeeklyWindow> OpeningHours,
    IReadOnlyList<BellPeriod> Periods,
    IReadOnlyList<ZoneModel> Zones,
    IReadOnlyList<BuildingModel> Buildings,
    IReadOnlyList<DeviceModel> Devices)
{
    public TimeZoneInfo TimeZone { get; } = TimeZoneInfo.FindSystemTimeZoneById(TimeZoneId);

    public IEnumerable<RoomModel> Rooms => Buildings.SelectMany(b => b.Rooms);

    public bool IsOpen(DateTime local) => OpeningHours.Any(w => w.Contains(local.DayOfWeek, TimeOnly.FromDateTime(local)));
}

public sealed record BuildingModel(string Id, string Name, IReadOnlyList<RoomModel> Rooms);

/// <summary>A room: <see cref="BaseLoadW"/> is drawn day and night (fridges, network, standby).</summary>
public sealed record RoomModel(
    string School,
    string Id,
    string Name,
    RoomKind Kind,
    double AreaM2,
    double BaseLoadW,
    int Capacity,
    IReadOnlyList<LessonModel> Timetable);

/// <summary>A timetabled lesson: ISO weekday (1 = Monday) and period of the school's bell schedule.</summary>
public sealed record LessonModel(int Day, int Period, string Subject, string Teacher, string Class);

public sealed record DeviceModel(string Id, string Kind, string School, string Room, IReadOnlyDictionary<string, string> Options)
{
    /// <summary>Energy meters: "pzem" (the room's mains) or "ina219" (a low-voltage bench circuit).</summary>
    public string Meter => Options.TryGetValue("meter", out var m) ? m : "pzem";
}

public enum PersonRole
{
    Student,
    Teacher,
    Staff,
    Security,
    Admin,
}

public sealed record PersonModel(
    string Id,
    string Name,
    PersonRole Role,
    string School,
    IReadOnlyList<string> Cards,
    IReadOnlyList<string> Zones,
    string? Class);
