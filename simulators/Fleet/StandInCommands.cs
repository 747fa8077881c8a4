using System.Text;
using System.Text.Json;
using Campus.Simulators.Day;
using Campus.Simulators.District;

namespace Campus.Simulators.Fleet;

/// <summary>
/// The retained commands a controller would send, built from the district file, for runs against a
/// bare broker: maker kit configuration, each class sign's timetable of the day, each door's
/// allow-list (holders of a zone with the door's room, within the zone's schedule).
/// </summary>
internal static class StandInCommands
{
    public static IEnumerable<(string Topic, byte[] Payload)> For(DistrictModel district, DayModel day, int seed)
    {
        foreach (var school in district.Schools)
        {
            var localDate = district.Date;
            var noon = DayModel.Utc(school, localDate.ToDateTime(new TimeOnly(12, 0)));
            long ts = new DateTimeOffset(noon).ToUnixTimeMilliseconds();
            int tzOffset = (int)school.TimeZone.GetUtcOffset(noon).TotalMinutes;
            int iso = localDate.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)localDate.DayOfWeek;
            int project = 0;
            foreach (var device in school.Devices)
            {
                string topic = $"campus/v1/{school.Id}/{device.Room}/{device.Kind}/{device.Id}/cmd/";
                var room = day.Room(school.Id, device.Room);
                switch (device.Kind)
                {
                    case "maker":
                        project++;
                        yield return (topic + "config", Json(w =>
                        {
                            Header(w, "sim-cfg-" + device.Id, ts);
                            w.WriteNumber("publishS", 60);
                            w.WriteString("project", $"p-{localDate.Year}-{school.Id}-{project:000}");
                            w.WriteStartArray("sensors");
                            Sensor(w, "soil", 34);
                            Sensor(w, "light", 35);
                            w.WriteEndArray();
                            w.WriteStartArray("rules");
                            w.WriteStartObject();
                            w.WriteString("sensor", "soil");
                            w.WriteNumber("above", 600);
                            w.WriteEndObject();
                            w.WriteEndArray();
                        }));
                        break;
                    case "sign":
                        yield return (topic + "timetable", Json(w =>
                        {
                            Header(w, $"sim-tt-{device.Id}-{localDate:yyyyMMdd}", ts);
                            w.WriteString("date", localDate.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
                            w.WriteString("room", room.Name);
                            w.WriteStartArray("lessons");
                            foreach (var lesson in room.Timetable.Where(l => l.Day == iso).OrderBy(l => l.Period))
                            {
                                var period = school.Periods.First(p => p.Number == lesson.Period);
                                w.WriteStartObject();
                                w.WriteString("id", $"{localDate:yyyy-MM-dd}/{lesson.Period}");
                                w.WriteNumber("period", lesson.Period);
                                w.WriteString("from", period.From.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture));
                                w.WriteString("to", period.To.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture));
                                w.WriteString("subject", lesson.Subject);
                                w.WriteString("teacher", lesson.Teacher);
                                w.WriteString("class", lesson.Class);
                                w.WriteEndObject();
                            }

                            w.WriteEndArray();
                        }));
                        break;
                    case "door":
                        var zones = school.Zones.Where(z => z.Rooms.Contains(device.Room)).ToDictionary(z => z.Id, StringComparer.Ordinal);
                        yield return (topic + "allowlist", Json(w =>
                        {
                            Header(w, "sim-al-" + device.Id, ts);
                            w.WriteNumber("version", 1);
                            w.WriteNumber("tzOffsetMin", tzOffset);
                            w.WriteStartArray("entries");
                            foreach (var person in district.People.Where(p => p.School == school.Id))
                            {
                                var windows = person.Zones.Where(zones.ContainsKey).SelectMany(z => zones[z].Schedule).Distinct().ToList();
                                if (windows.Count == 0) continue;
                                foreach (var card in person.Cards)
                                {
                                    w.WriteStartObject();
                                    w.WriteString("card", card);
                                    w.WriteStartArray("windows");
                                    foreach (var win in windows)
                                    {
                                        w.WriteStartObject();
                                        w.WriteString("days", win.Days);
                                        w.WriteString("from", win.From.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture));
                                        w.WriteString("to", win.To.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture));
                                        w.WriteEndObject();
                                    }

                                    w.WriteEndArray();
                                    w.WriteEndObject();
                                }
                            }

                            w.WriteEndArray();
                        }));
                        break;
                }
            }
        }
    }

    private static void Header(Utf8JsonWriter w, string id, long ts)
    {
        w.WriteNumber("v", 1);
        w.WriteString("id", id);
        w.WriteNumber("ts", ts);
    }

    private static void Sensor(Utf8JsonWriter w, string name, int pin)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("type", "adc");
        w.WriteNumber("pin", pin);
        w.WriteEndObject();
    }

    private static byte[] Json(Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
