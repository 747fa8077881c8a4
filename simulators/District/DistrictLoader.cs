using System.Globalization;
using System.Text.RegularExpressions;

namespace Campus.Simulators.District;

/// <summary>
/// Loads and validates a district file (YAML, or JSON for a <c>.json</c> file). Every problem is a
/// <see cref="DistrictFileException"/> naming the line, column and field: unknown fields, missing
/// fields, wrong types, bad identifiers, unknown time zones, duplicate ids, references to rooms,
/// zones, schools or periods that do not exist, and double-booked timetable slots.
/// </summary>
public static partial class DistrictLoader
{
    public static readonly IReadOnlyList<string> DeviceKinds = ["energy", "env", "door", "sign", "maker"];

    public static DistrictModel LoadFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"District file '{path}' does not exist.", path);
        return Parse(File.ReadAllText(path), Path.GetFileName(path), path.EndsWith(".json", StringComparison.OrdinalIgnoreCase));
    }

    public static DistrictModel Parse(string text, string fileName = "district.yaml", bool json = false)
    {
        var root = json ? DocumentReader.ReadJson(text, fileName) : DocumentReader.ReadYaml(text, fileName);
        return new Mapper(fileName).District(root);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,31}$")]
    internal static partial Regex IdentifierPattern();

    [GeneratedRegex("^([0-9A-F]{8}|[0-9A-F]{14})$")]
    internal static partial Regex CardPattern();

    [GeneratedRegex("^[1-7]{1,7}$")]
    private static partial Regex DaysPattern();

    private sealed class Mapper(string file)
    {
        public DistrictFileException Error(DocNode node, string field, string problem) => new(file, node.Line, node.Column, field, problem);

        public Fields Fields(DocNode node, string path) =>
            node is DocMap map ? new Fields(this, map, path) : throw Error(node, path, "expected a mapping (field: value)");

        public IReadOnlyList<DocNode> Items(DocNode node, string path) =>
            node is DocSequence seq ? seq.Items : throw Error(node, path, "expected a list");

        public string Text(DocNode node, string path) =>
            node is DocScalar s ? s.Value : throw Error(node, path, "expected a single value");

        public string Id(DocNode node, string path)
        {
            string value = Text(node, path);
            if (!IdentifierPattern().IsMatch(value))
                throw Error(node, path, $"'{value}' is not an id: use 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit");
            return value;
        }

        public double Number(DocNode node, string path, double min, double max)
        {
            string text = Text(node, path);
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                throw Error(node, path, $"'{text}' is not a number");
            if (value < min || value > max) throw Error(node, path, $"{text} is out of range ({min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)})");
            return value;
        }

        public int Int(DocNode node, string path, int min, int max)
        {
            string text = Text(node, path);
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
                throw Error(node, path, $"'{text}' is not a whole number");
            if (value < min || value > max) throw Error(node, path, $"{text} is out of range ({min} to {max})");
            return value;
        }

        public TimeOnly Time(DocNode node, string path)
        {
            string text = Text(node, path);
            if (!TimeOnly.TryParseExact(text, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
                throw Error(node, path, $"'{text}' is not a time of day as HH:mm (e.g. 08:00)");
            return time;
        }

        public WeeklyWindow Window(DocNode node, string path)
        {
            var f = Fields(node, path);
            string days = f.Text("days");
            if (!DaysPattern().IsMatch(days)) throw Error(f.Node("days"), path + ".days", $"'{days}' is not a set of ISO weekdays (1 = Monday ... 7 = Sunday, e.g. \"12345\")");
            var from = Time(f.Node("from"), path + ".from");
            var to = Time(f.Node("to"), path + ".to");
            if (to <= from) throw Error(f.Node("to"), path + ".to", $"{to:HH:mm} is not after from ({from:HH:mm})");
            f.Done();
            return new WeeklyWindow(days, from, to);
        }

        public DistrictModel District(DocNode root)
        {
            var f = Fields(root, "district");
            string name = f.Text("name");
            var dateNode = f.Node("date");
            if (!DateOnly.TryParseExact(Text(dateNode, "date"), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
                throw Error(dateNode, "date", $"'{Text(dateNode, "date")}' is not a date as yyyy-MM-dd");
            var schools = new List<SchoolModel>();
            var schoolIds = new Dictionary<string, SchoolModel>(StringComparer.Ordinal);
            var deviceIds = new HashSet<string>(StringComparer.Ordinal);
            var schoolNodes = Items(f.Node("schools"), "schools");
            if (schoolNodes.Count == 0) throw Error(f.Node("schools"), "schools", "a district needs at least one school");
            for (int i = 0; i < schoolNodes.Count; i++)
            {
                var school = School(schoolNodes[i], $"schools[{i}]", deviceIds);
                if (!schoolIds.TryAdd(school.Id, school)) throw Error(schoolNodes[i], $"schools[{i}].id", $"school '{school.Id}' appears twice");
                schools.Add(school);
            }

            var people = new List<PersonModel>();
            var personIds = new HashSet<string>(StringComparer.Ordinal);
            var cards = new HashSet<string>(StringComparer.Ordinal);
            if (f.Has("people"))
            {
                var personNodes = Items(f.Node("people"), "people");
                for (int i = 0; i < personNodes.Count; i++)
                {
                    string path = $"people[{i}]";
                    var person = Person(personNodes[i], path, schoolIds, cards);
                    if (!personIds.Add(person.Id)) throw Error(personNodes[i], path + ".id", $"person '{person.Id}' appears twice");
                    people.Add(person);
                }
            }

            f.Done();
            return new DistrictModel(name, date, schools, people);
        }

        private SchoolModel School(DocNode node, string path, HashSet<string> deviceIds)
        {
            var f = Fields(node, path);
            string id = Id(f.Node("id"), path + ".id");
            string name = f.Text("name");
            var tzNode = f.Node("timeZone");
            string tz = Text(tzNode, path + ".timeZone");
            if (!TimeZoneInfo.TryFindSystemTimeZoneById(tz, out _)) throw Error(tzNode, path + ".timeZone", $"'{tz}' is not a known IANA time zone (e.g. Asia/Shanghai)");
            var opening = f.List("openingHours", (n, p) => Window(n, p));
            var periods = f.List("periods", (n, p) =>
            {
                var pf = Fields(n, p);
                var period = new BellPeriod(Int(pf.Node("period"), p + ".period", 1, 20), Time(pf.Node("from"), p + ".from"), Time(pf.Node("to"), p + ".to"));
                if (period.To <= period.From) throw Error(pf.Node("to"), p + ".to", $"{period.To:HH:mm} is not after from ({period.From:HH:mm})");
                pf.Done();
                return period;
            });
            var periodNumbers = new HashSet<int>();
            for (int i = 0; i < periods.Count; i++)
            {
                if (!periodNumbers.Add(periods[i].Number)) throw Error(f.Items("periods")[i], $"{path}.periods[{i}].period", $"period {periods[i].Number} appears twice");
            }

            var rooms = new Dictionary<string, RoomModel>(StringComparer.Ordinal);
            var buildingIds = new HashSet<string>(StringComparer.Ordinal);
            var buildings = f.List("buildings", (n, p) =>
            {
                var bf = Fields(n, p);
                string bid = Id(bf.Node("id"), p + ".id");
                if (!buildingIds.Add(bid)) throw Error(bf.Node("id"), p + ".id", $"building '{bid}' appears twice");
                var list = bf.List("rooms", (rn, rp) =>
                {
                    var room = Room(rn, rp, id, periodNumbers);
                    if (!rooms.TryAdd(room.Id, room)) throw Error(rn, rp + ".id", $"room '{room.Id}' appears twice in school '{id}'");
                    return room;
                });
                var building = new BuildingModel(bid, bf.Text("name"), list);
                bf.Done();
                return building;
            });

            var zoneIds = new HashSet<string>(StringComparer.Ordinal);
            var zones = f.Has("zones") ? f.List("zones", (n, p) =>
            {
                var zf = Fields(n, p);
                string zid = Id(zf.Node("id"), p + ".id");
                if (!zoneIds.Add(zid)) throw Error(zf.Node("id"), p + ".id", $"zone '{zid}' appears twice");
                var zoneRooms = new List<string>();
                var roomNodes = zf.Items("rooms");
                for (int i = 0; i < roomNodes.Count; i++)
                {
                    string rid = Text(roomNodes[i], $"{p}.rooms[{i}]");
                    if (rid == "*") zoneRooms.AddRange(rooms.Keys);
                    else if (!rooms.ContainsKey(rid)) throw Error(roomNodes[i], $"{p}.rooms[{i}]", $"room '{rid}' is not a room of school '{id}'");
                    else zoneRooms.Add(rid);
                }

                var schedule = zf.List("schedule", (wn, wp) => Window(wn, wp));
                zf.Done();
                return new ZoneModel(zid, zoneRooms, schedule);
            }) : [];

            var devices = f.Has("devices") ? f.List("devices", (n, p) =>
            {
                var df = Fields(n, p);
                string did = Id(df.Node("id"), p + ".id");
                if (!deviceIds.Add(did)) throw Error(df.Node("id"), p + ".id", $"device '{did}' appears twice (device ids are unique in the district)");
                string kind = df.Text("kind");
                if (!DeviceKinds.Contains(kind)) throw Error(df.Node("kind"), p + ".kind", $"'{kind}' is not a device kind; use energy, env, door, sign or maker");
                string room = df.Text("room");
                if (!rooms.ContainsKey(room)) throw Error(df.Node("room"), p + ".room", $"room '{room}' is not a room of school '{id}'");
                var options = new Dictionary<string, string>(StringComparer.Ordinal);
                if (df.Has("meter"))
                {
                    string meter = df.Text("meter");
                    if (kind != "energy") throw Error(df.Node("meter"), p + ".meter", "only energy devices have a meter");
                    if (meter is not ("pzem" or "ina219")) throw Error(df.Node("meter"), p + ".meter", $"'{meter}' is not a meter type; use pzem or ina219");
                    options["meter"] = meter;
                }

                if (df.Has("chip"))
                {
                    string chip = df.Text("chip");
                    if (chip is not ("esp32-wroom-32" or "esp32-s3")) throw Error(df.Node("chip"), p + ".chip", $"'{chip}' is not a board chip; use esp32-wroom-32 or esp32-s3");
                    options["chip"] = chip;
                }

                df.Done();
                return new DeviceModel(did, kind, id, room, options);
            }) : [];

            f.Done();
            return new SchoolModel(id, name, tz, opening, periods, zones, buildings, devices);
        }

        private RoomModel Room(DocNode node, string path, string school, HashSet<int> periods)
        {
            var f = Fields(node, path);
            string id = Id(f.Node("id"), path + ".id");
            string name = f.Text("name");
            string kindText = f.Text("kind");
            RoomKind kind = kindText switch
            {
                "classroom" => RoomKind.Classroom,
                "lab" => RoomKind.Lab,
                "maker-space" => RoomKind.MakerSpace,
                "office" => RoomKind.Office,
                "hall" => RoomKind.Hall,
                _ => throw Error(f.Node("kind"), path + ".kind", $"'{kindText}' is not a room kind; use classroom, lab, maker-space, office or hall"),
            };
            double area = Number(f.Node("areaM2"), path + ".areaM2", 1, 5000);
            double baseLoad = Number(f.Node("baseLoadW"), path + ".baseLoadW", 0, 100000);
            int capacity = f.Has("capacity") ? Int(f.Node("capacity"), path + ".capacity", 0, 2000) : 0;
            var slots = new HashSet<(int, int)>();
            var lessons = f.Has("timetable") ? f.List("timetable", (n, p) =>
            {
                var lf = Fields(n, p);
                int day = Int(lf.Node("day"), p + ".day", 1, 7);
                int period = Int(lf.Node("period"), p + ".period", 1, 20);
                if (!periods.Contains(period)) throw Error(lf.Node("period"), p + ".period", $"period {period} is not in the bell schedule of school '{school}'");
                if (!slots.Add((day, period))) throw Error(lf.Node("period"), p + ".period", $"day {day} period {period} is already taken in room '{id}'");
                var lesson = new LessonModel(day, period, lf.Text("subject"), lf.Text("teacher"), lf.Text("class"));
                lf.Done();
                return lesson;
            }) : [];
            f.Done();
            return new RoomModel(school, id, name, kind, area, baseLoad, capacity, lessons);
        }

        private PersonModel Person(DocNode node, string path, Dictionary<string, SchoolModel> schools, HashSet<string> cards)
        {
            var f = Fields(node, path);
            string id = Id(f.Node("id"), path + ".id");
            string name = f.Text("name");
            string roleText = f.Text("role");
            PersonRole role = roleText switch
            {
                "student" => PersonRole.Student,
                "teacher" => PersonRole.Teacher,
                "staff" => PersonRole.Staff,
                "security" => PersonRole.Security,
                "admin" => PersonRole.Admin,
                _ => throw Error(f.Node("role"), path + ".role", $"'{roleText}' is not a role; use student, teacher, staff, security or admin"),
            };
            string schoolId = f.Text("school");
            if (!schools.TryGetValue(schoolId, out var school)) throw Error(f.Node("school"), path + ".school", $"school '{schoolId}' is not in the district");
            var cardList = f.List("cards", (n, p) =>
            {
                string uid = Text(n, p);
                if (!CardPattern().IsMatch(uid)) throw Error(n, p, $"'{uid}' is not a card UID (8 or 14 upper-case hex digits)");
                if (!cards.Add(uid)) throw Error(n, p, $"card '{uid}' belongs to another person already");
                return uid;
            });
            var zones = f.Has("zones") ? f.List("zones", (n, p) =>
            {
                string zone = Text(n, p);
                if (!school.Zones.Any(z => z.Id == zone)) throw Error(n, p, $"zone '{zone}' is not a zone of school '{schoolId}'");
                return zone;
            }) : [];
            string? cls = f.Has("class") ? f.Text("class") : null;
            f.Done();
            return new PersonModel(id, name, role, schoolId, cardList, zones, cls);
        }
    }

    /// <summary>The fields of one mapping: required/optional access and a check for unknown fields.</summary>
    private sealed class Fields(Mapper mapper, DocMap map, string path)
    {
        private readonly HashSet<string> _used = new(StringComparer.Ordinal);

        public bool Has(string key) => map.Entries.Any(e => e.Key.Value == key);

        public DocNode Node(string key)
        {
            _used.Add(key);
            DocNode? found = null;
            foreach (var (k, v) in map.Entries)
            {
                if (k.Value != key) continue;
                if (found is not null) throw mapper.Error(k, $"{path}.{key}", "the field appears twice");
                found = v;
            }

            return found ?? throw mapper.Error(map, $"{path}.{key}", "required field is missing");
        }

        public string Text(string key)
        {
            string value = mapper.Text(Node(key), $"{path}.{key}");
            if (value.Length == 0) throw mapper.Error(Node(key), $"{path}.{key}", "must not be empty");
            return value;
        }

        public IReadOnlyList<DocNode> Items(string key) => mapper.Items(Node(key), $"{path}.{key}");

        public List<T> List<T>(string key, Func<DocNode, string, T> read)
        {
            var items = Items(key);
            var result = new List<T>(items.Count);
            for (int i = 0; i < items.Count; i++) result.Add(read(items[i], $"{path}.{key}[{i}]"));
            return result;
        }

        public void Done()
        {
            foreach (var (k, _) in map.Entries)
            {
                if (!_used.Contains(k.Value)) throw mapper.Error(k, $"{path}.{k.Value}", "unknown field (check the spelling)");
            }
        }
    }
}
