namespace Campus.Contracts.Tests;

/// <summary>The JSON examples of docs/contracts.md, verbatim (a test checks that the document still holds each of them).</summary>
internal static class DocExamples
{
    public const string Telemetry = """
        {"v":1,"boot":3,"seq":1042,"ts":1764144000000,
         "energyKwh":1234.567,"powerW":812.5,"voltageV":229.8,"currentA":3.54,"powerFactor":0.98,
         "temperatureC":22.4,"humidityPct":41.2,"occupied":true}
        """;

    public const string Maker = """
        {"v":1,"boot":1,"seq":88,"ts":1764144000000,"project":"p-2026-0042",
         "readings":{"soil":512,"temperatureC":22.1,"light":730}}
        """;

    public const string Status = """{"v":1,"boot":3,"seq":1,"ts":1764144000000,"state":"online","fw":"1.4.0","uptimeS":12,"rssi":-61,"dropped":0}""";

    public const string LastWill = """{"v":1,"state":"offline"}""";

    public const string SignedAccess = """{"v":1,"boot":3,"seq":57,"ts":1764144000000,"type":"access","req":"a9","card":"04A1B2C3","result":"granted","reason":"ok","source":"controller","sig":"q0...="}""";

    public const string Ack = """{"v":1,"boot":3,"seq":58,"ts":1764144000100,"id":"c-7f3a","ok":true,"error":null}""";

    public const string CommandEnvelope = """{"v":1,"id":"c-7f3a","ts":1764144000000,""";

    public const string AllowlistEntries = """[{"card":"04A1B2C3","windows":[{"days":"12345","from":"07:00","to":"18:00"}]}]""";

    public const string AllowlistNextOffset = "\"tzOffsetMin\":60,\"nextOffsetAt\":1774746000000,\"nextOffsetMin\":120";

    public const string AllowlistOffsetChanges = "\"offsetChanges\":[{\"at\":1774746000000,\"min\":120},{\"at\":1792890000000,\"min\":60},{\"at\":1806195600000,\"min\":120},{\"at\":1824944400000,\"min\":60}]";

    public const string Lessons = """[{"id":"2026-11-26/3","period":3,"from":"10:00","to":"10:45","subject":"Physics","teacher":"Li Wei","class":"8B"}]""";

    public const string NoticeItems = """[{"text":"...","until":1764150000000}]""";

    public const string Sensors = """[{"name":"soil","type":"adc","pin":34}]""";

    public const string SensorRules = """[{"sensor":"soil","above":600}]""";

    public static IEnumerable<string> All =>
        [Telemetry, Maker, Status, LastWill, SignedAccess, Ack, CommandEnvelope, AllowlistEntries, AllowlistNextOffset, AllowlistOffsetChanges, Lessons, NoticeItems, Sensors, SensorRules];

    public static string Command(string members) => CommandEnvelope + members + "}";

    public static string ReadContractsDocument()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "docs", "contracts.md");
            if (File.Exists(path))
            {
                return File.ReadAllText(path);
            }
        }
        throw new FileNotFoundException("docs/contracts.md was not found above " + AppContext.BaseDirectory);
    }
}
