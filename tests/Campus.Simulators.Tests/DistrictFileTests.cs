using Campus.Simulators.District;

namespace Campus.Simulators.Tests;

public sealed class DistrictFileTests
{
    [Fact]
    public void Default_district_loads_with_the_documented_sizes()
    {
        var district = Districts.Default;
        Assert.Equal(3, district.Schools.Count);
        Assert.Equal(120, district.Rooms.Count());
        Assert.Equal(606, district.Devices.Count());
        Assert.Equal(2000, district.People.Count);
        Assert.Equal(["door", "energy", "env", "maker", "sign"], district.Devices.Select(d => d.Kind).Distinct().Order());
        Assert.Contains(district.Devices, d => d.Meter == "ina219");
        Assert.All(district.Rooms, r => Assert.True(r.Kind == RoomKind.Office || r.Timetable.Count > 0, $"room {r.School}/{r.Id} has no timetable"));
    }

    [Fact]
    public void Generator_writes_the_shipped_default_district_from_its_seed()
    {
        string shipped = File.ReadAllText(Path.Combine(Districts.Folder, "default.yaml"));
        Assert.Equal(shipped, DistrictGenerator.Generate(new DistrictGeneratorOptions()));
        Assert.NotEqual(shipped, DistrictGenerator.Generate(new DistrictGeneratorOptions { Seed = 7 }));
    }

    public static TheoryData<string, string, string, string> BadYaml => new()
    {
        // replace, with, expected field, words of the problem
        { "kind: classroom", "kind: clasroom", "schools[0].buildings[0].rooms[0].kind", "not a room kind" },
        { "timeZone: Asia/Shanghai", "timeZone: Asia/Shanghia", "schools[0].timeZone", "IANA time zone" },
        { "{ id: s01-r101-env, kind: env, room: r101 }", "{ id: s01-r101-env, kind: env, room: r999 }", "schools[0].devices[1].room", "room 'r999'" },
        { "{ id: s01-r101-env, kind: env, room: r101 }", "{ id: s01-r101-energy, kind: env, room: r101 }", "schools[0].devices[1].id", "appears twice" },
        { "cards: [1A2B3C4E]", "cards: [1a2b3c4e]", "people[5].cards[0]", "not a card UID" },
        { "areaM2: 64", "areaM2: lots", "schools[0].buildings[0].rooms[0].areaM2", "not a number" },
        { "baseLoadW: 120", "baseLoadW: 120\n            colour: blue", "schools[0].buildings[0].rooms[0].colour", "unknown field" },
        { "{ day: 4, period: 4, subject: Physics", "{ day: 4, period: 9, subject: Physics", "schools[0].buildings[0].rooms[0].timetable[2].period", "not in the bell schedule" },
        { "{ day: 4, period: 4, subject: Physics", "{ day: 4, period: 2, subject: Physics", "schools[0].buildings[0].rooms[0].timetable[2].period", "already taken" },
        { "zones: [students], class: \"7A\" }\n  - { id: p008", "zones: [teachers], class: \"7A\" }\n  - { id: p008", "people[6].zones[0]", "zone 'teachers'" },
    };

    [Theory]
    [MemberData(nameof(BadYaml))]
    public void Bad_district_file_gets_an_error_naming_the_line_and_field(string replace, string with, string field, string problem)
    {
        string text = Districts.SmallText;
        int at = text.IndexOf(replace, StringComparison.Ordinal);
        Assert.True(at >= 0, $"the small district has '{replace}'");
        string bad = text[..at] + with + text[(at + replace.Length)..];
        int expectedLine = LineOf(bad, at, with, field);
        var e = Assert.Throws<DistrictFileException>(() => DistrictLoader.Parse(bad, "bad.yaml"));
        Assert.Equal(field, e.Field);
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        Assert.Equal(expectedLine, e.Line);
        Assert.StartsWith($"bad.yaml:{expectedLine}:", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The line of the replaced text that holds the faulty field (its last line for a multi-line edit).</summary>
    private static int LineOf(string text, int at, string with, string field)
    {
        int line = text[..at].Count(c => c == '\n') + 1;
        return field.EndsWith("colour", StringComparison.Ordinal) ? line + 1 : line;
    }

    [Fact]
    public void Missing_field_is_reported_at_its_mapping()
    {
        string text = Districts.SmallText.Replace("            baseLoadW: 120\n", "", StringComparison.Ordinal);
        var e = Assert.Throws<DistrictFileException>(() => DistrictLoader.Parse(text, "small.yaml"));
        Assert.Equal("schools[0].buildings[0].rooms[0].baseLoadW", e.Field);
        Assert.Contains("required field is missing", e.Problem, StringComparison.Ordinal);
        int roomLine = Districts.SmallText.Split('\n').ToList().FindIndex(l => l.Contains("- id: r101", StringComparison.Ordinal)) + 1;
        Assert.Equal(roomLine, e.Line);
    }

    [Fact]
    public void Broken_yaml_syntax_names_the_line()
    {
        string text = Districts.SmallText.Replace("name: Maker space", "name: \"Maker space", StringComparison.Ordinal);
        var e = Assert.Throws<DistrictFileException>(() => DistrictLoader.Parse(text, "small.yaml"));
        Assert.Contains("not valid YAML", e.Problem, StringComparison.Ordinal);
        int line = text.Split('\n').ToList().FindIndex(l => l.Contains("name: \"Maker space", StringComparison.Ordinal)) + 1;
        Assert.InRange(e.Line, line, line + 2);
    }

    [Fact]
    public void Json_district_file_errors_name_the_line_and_field()
    {
        string json = "{\n  \"name\": \"j\",\n  \"date\": \"2026-11-26\",\n  \"schools\": [\n    {\n      \"id\": \"S01\",\n      \"name\": \"x\"\n    }\n  ]\n}\n";
        var e = Assert.Throws<DistrictFileException>(() => DistrictLoader.Parse(json, "d.json", json: true));
        Assert.Equal("schools[0].id", e.Field);
        Assert.Equal(6, e.Line);
        Assert.Contains("not an id", e.Problem, StringComparison.Ordinal);

        string broken = "{\n  \"name\": \"j\",\n  \"date\": 2026-11-26\n}\n";
        var syntax = Assert.Throws<DistrictFileException>(() => DistrictLoader.Parse(broken, "d.json", json: true));
        Assert.Equal(3, syntax.Line);
        Assert.Contains("not valid JSON", syntax.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_and_yaml_forms_of_a_district_load_the_same()
    {
        string json = "{\"name\":\"j\",\"date\":\"2026-11-26\",\"schools\":[{\"id\":\"s01\",\"name\":\"x\",\"timeZone\":\"Asia/Shanghai\",\"openingHours\":[{\"days\":\"12345\",\"from\":\"07:00\",\"to\":\"18:00\"}],"
            + "\"periods\":[{\"period\":1,\"from\":\"08:00\",\"to\":\"08:45\"}],\"buildings\":[{\"id\":\"b1\",\"name\":\"B\",\"rooms\":[{\"id\":\"r1\",\"name\":\"R\",\"kind\":\"lab\",\"areaM2\":50,\"baseLoadW\":100}]}],"
            + "\"devices\":[{\"id\":\"s01-r1-energy\",\"kind\":\"energy\",\"room\":\"r1\",\"meter\":\"ina219\"}]}]}";
        var district = DistrictLoader.Parse(json, "d.json", json: true);
        Assert.Equal("ina219", Assert.Single(district.Devices).Meter);
        Assert.Equal(RoomKind.Lab, Assert.Single(district.Rooms).Kind);
    }
}
