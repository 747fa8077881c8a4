using System.Text.Json;
using Campus.Simulators.District;

namespace Campus.Simulators.Scenarios;

/// <summary>A device message a scenario must cause: device, stream and what the payload shows.</summary>
public sealed record ExpectedMessage(string Device, string Stream, string Description, Func<JsonElement, bool> Match, int MinCount = 1, int MaxCount = 1);

/// <summary>A scripted action at a local time of the scenario's school.</summary>
public sealed record ScenarioStep(TimeOnly AtLocal, string Description, Action<IScenarioActions> Apply);

/// <summary>
/// What a scenario does and what it must cause, for one district. <c>Lingers</c>: how long the effects
/// of its last step last after it (lights left on for hours), beyond <c>Duration</c>; zero when they end within it.
/// </summary>
public sealed record ScenarioPlan(
    string Name,
    string School,
    DateTime StartUtc,
    TimeSpan Duration,
    IReadOnlyList<ScenarioStep> Steps,
    IReadOnlyList<ExpectedMessage> Expected,
    bool ExactEvents,
    IReadOnlyList<string> LinkedRooms,
    IReadOnlyList<string> LinkedDevices,
    TimeSpan Lingers = default);

/// <summary>The hooks a scenario step uses; implemented by the running simulation.</summary>
public interface IScenarioActions
{
    void ForceDoor(string door, TimeSpan openFor);
    void HoldDoorOpen(string door, TimeSpan openFor);
    void TapCard(string door, string card);
    void ReplayLastEvent(string door, string type);
    void SetMeterFault(string meter, string fault);
    void PowerOff(string device);
    void PowerOn(string device);
    void CutRoomNetwork(string room);
    void RestoreRoomNetwork(string room);
    void LightsLeftOn(string room, TimeSpan forHowLong);

    /// <summary>Nobody is in the room for this long, whatever its timetable says.</summary>
    void EmptyRoom(string room, TimeSpan forHowLong);
    void ExtraLoad(string room, double watts, TimeSpan forHowLong);
}

/// <summary>The scripted scenarios: each picks its devices from the district deterministically.</summary>
public static class ScenarioCatalog
{
    public static readonly IReadOnlyList<string> Names =
    [
        "night-break-in", "door-held-open", "cloned-card-replay", "meter-failure",
        "device-offline", "energy-waste", "power-spike", "room-network-outage",
    ];

    public static ScenarioPlan Plan(string name, DistrictModel district)
    {
        var school = district.Schools[0];
        var room = school.Rooms.FirstOrDefault(r => r.Kind == RoomKind.Classroom && Has(school, r.Id, "door") && Has(school, r.Id, "energy"))
            ?? throw new ArgumentException($"Scenario '{name}' needs a classroom with a door and an energy meter in school '{school.Id}'.");
        string Device(string kind) => school.Devices.First(d => d.Room == room.Id && d.Kind == kind && (kind != "energy" || d.Meter == "pzem")).Id;
        var date = district.Date.ToDateTime(TimeOnly.MinValue);
        DateTime At(int h, int m) => TimeZoneInfo.ConvertTimeToUtc(date.AddHours(h).AddMinutes(m), school.TimeZone);
        static bool Type(JsonElement e, string t) => e.TryGetProperty("type", out var p) && p.GetString() == t;
        static bool Str(JsonElement e, string field, string v) => e.TryGetProperty(field, out var p) && p.ValueKind == JsonValueKind.String && p.GetString() == v;
        static DateTime Ts(JsonElement e) => e.TryGetProperty("ts", out var p) && p.ValueKind == JsonValueKind.Number ? DateTime.UnixEpoch.AddMilliseconds(p.GetInt64()) : DateTime.MinValue;
        static double Num(JsonElement e, string field) => e.TryGetProperty(field, out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : double.NaN;

        switch (name)
        {
            case "night-break-in":
            {
                string door = Device("door");
                return new ScenarioPlan(name, school.Id, At(1, 55), TimeSpan.FromMinutes(8),
                    [new ScenarioStep(new TimeOnly(2, 0), $"door {door} forced open for 20 s", a => a.ForceDoor(door, TimeSpan.FromSeconds(20)))],
                    [
                        new ExpectedMessage(door, "event", "door opened", e => Type(e, "door") && Str(e, "state", "open")),
                        new ExpectedMessage(door, "event", "forced", e => Type(e, "forced")),
                        new ExpectedMessage(door, "event", "door closed", e => Type(e, "door") && Str(e, "state", "closed")),
                    ],
                    ExactEvents: true, [], []);
            }

            case "door-held-open":
            {
                string door = Device("door");
                return new ScenarioPlan(name, school.Id, At(21, 0), TimeSpan.FromMinutes(6),
                    [new ScenarioStep(new TimeOnly(21, 1), $"door {door} opened with the exit button and left open for 150 s", a => a.HoldDoorOpen(door, TimeSpan.FromSeconds(150)))],
                    [
                        new ExpectedMessage(door, "event", "request to exit", e => Type(e, "rex")),
                        new ExpectedMessage(door, "event", "door opened", e => Type(e, "door") && Str(e, "state", "open")),
                        new ExpectedMessage(door, "event", "held open (pre-alarm)", e => Type(e, "held-open") && Str(e, "stage", "pre-alarm")),
                        new ExpectedMessage(door, "event", "held open (alarm)", e => Type(e, "held-open") && Str(e, "stage", "alarm")),
                        new ExpectedMessage(door, "event", "door closed", e => Type(e, "door") && Str(e, "state", "closed")),
                    ],
                    ExactEvents: true, [], []);
            }

            case "cloned-card-replay":
            {
                string door = Device("door");
                var holder = district.People.First(p => p.School == school.Id && p.Role == PersonRole.Security && p.Cards.Count > 0);
                string card = holder.Cards[0];
                return new ScenarioPlan(name, school.Id, At(6, 55), TimeSpan.FromMinutes(12),
                    [
                        new ScenarioStep(new TimeOnly(7, 0), $"{holder.Name} taps card {card} at {door} (the access event is captured)", a => a.TapCard(door, card)),
                        new ScenarioStep(new TimeOnly(7, 5), $"the captured access event of {door} is published again", a => a.ReplayLastEvent(door, "access")),
                    ],
                    [
                        new ExpectedMessage(door, "event", "access request", e => Type(e, "access-request") && Str(e, "card", card)),
                        new ExpectedMessage(door, "event", "access decision and its replayed copy", e => Type(e, "access") && Str(e, "card", card), 2, 2),
                    ],
                    ExactEvents: true, [], []);
            }

            case "meter-failure":
            {
                string meter = Device("energy");
                return new ScenarioPlan(name, school.Id, At(10, 0), TimeSpan.FromMinutes(10),
                    [
                        new ScenarioStep(new TimeOnly(10, 2), $"meter of {meter} stops answering", a => a.SetMeterFault(meter, "no-answer")),
                        new ScenarioStep(new TimeOnly(10, 6), $"meter of {meter} answers with a bad CRC", a => a.SetMeterFault(meter, "bad-crc")),
                    ],
                    [new ExpectedMessage(meter, "telemetry", "readings without power (meter fault)", e => !e.TryGetProperty("powerW", out _) && !e.TryGetProperty("voltageV", out _), 1, int.MaxValue)],
                    ExactEvents: false, [], []);
            }

            case "device-offline":
            {
                string env = Device("env");
                return new ScenarioPlan(name, school.Id, At(10, 0), TimeSpan.FromMinutes(10),
                    [
                        new ScenarioStep(new TimeOnly(10, 2), $"{env} loses power", a => a.PowerOff(env)),
                        new ScenarioStep(new TimeOnly(10, 7), $"{env} gets power back", a => a.PowerOn(env)),
                    ],
                    [
                        new ExpectedMessage(env, "status", "offline (last will)", e => Str(e, "state", "offline")),
                        new ExpectedMessage(env, "status", "online after the restart (boot 2)", e => Str(e, "state", "online") && Num(e, "boot") == 2, 1, int.MaxValue),
                    ],
                    ExactEvents: false, [], [env]);
            }

            case "energy-waste":
            {
                string meter = Device("energy");
                double lightsW = room.BaseLoadW + 8 * room.AreaM2;
                var lightsOn = TimeSpan.FromHours(4);
                return new ScenarioPlan(name, school.Id, At(18, 30), TimeSpan.FromMinutes(10),
                    [
                        // Empty after hours anyway; said explicitly so that the step means the same at any time of day.
                        new ScenarioStep(new TimeOnly(18, 31), $"lights left on in empty room {room.Id} for {lightsOn.TotalHours:0} h", a =>
                        {
                            a.EmptyRoom(room.Id, lightsOn);
                            a.LightsLeftOn(room.Id, lightsOn);
                        }),
                    ],
                    [new ExpectedMessage(meter, "telemetry", $"power of lights and base load ({lightsW * 0.95:0} W or more) after hours, room empty", e => Num(e, "powerW") >= lightsW * 0.95 && e.TryGetProperty("occupied", out var o) && o.ValueKind == JsonValueKind.False, 1, int.MaxValue)],
                    ExactEvents: false, [], [], Lingers: lightsOn);
            }

            case "power-spike":
            {
                string meter = Device("energy");
                return new ScenarioPlan(name, school.Id, At(12, 0), TimeSpan.FromMinutes(8),
                    [new ScenarioStep(new TimeOnly(12, 2), $"a 9 kW load appears in {room.Id} for 3 minutes", a => a.ExtraLoad(room.Id, 9000, TimeSpan.FromMinutes(3)))],
                    [new ExpectedMessage(meter, "telemetry", "power above 9 kW", e => Num(e, "powerW") > 9000, 1, int.MaxValue)],
                    ExactEvents: false, [], []);
            }

            case "room-network-outage":
            {
                var devices = school.Devices.Where(d => d.Room == room.Id).Select(d => d.Id).ToList();
                return new ScenarioPlan(name, school.Id, At(10, 0), TimeSpan.FromMinutes(12),
                    [
                        new ScenarioStep(new TimeOnly(10, 2), $"network of room {room.Id} goes down", a => a.CutRoomNetwork(room.Id)),
                        new ScenarioStep(new TimeOnly(10, 7), $"network of room {room.Id} comes back", a => a.RestoreRoomNetwork(room.Id)),
                    ],
                    [
                        .. devices.Select(d => new ExpectedMessage(d, "status", "offline (last will) when the room's network fails (a reconnect racing the cut may drop once more)", e => Str(e, "state", "offline"), 1, 2)),
                        new ExpectedMessage(Device("energy"), "telemetry", "readings taken during the outage, delivered after it", e => Ts(e) >= At(10, 2) && Ts(e) < At(10, 7), 1, int.MaxValue),
                    ],
                    ExactEvents: false, [room.Id], []);
            }

            default:
                throw new ArgumentException($"Unknown scenario '{name}'; scenarios: {string.Join(", ", Names)}.", nameof(name));
        }
    }

    private static bool Has(SchoolModel school, string room, string kind) => school.Devices.Any(d => d.Room == room && d.Kind == kind && (kind != "energy" || d.Meter == "pzem"));
}
