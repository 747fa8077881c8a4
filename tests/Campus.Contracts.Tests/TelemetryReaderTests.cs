using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Campus.Contracts.Tests;

/// <summary>Telemetry is read straight into the record: it must read exactly what the serializer reads.</summary>
public sealed class TelemetryReaderTests
{
    private static readonly string[] Numbers = ["energyKwh", "powerW", "voltageV", "currentA", "powerFactor", "temperatureC", "humidityPct"];

    [Fact]
    public void Random_valid_documents_read_the_same_as_through_the_serializer()
    {
        var random = new Random(20261127);
        for (var n = 0; n < 3_000; n++)
        {
            var members = new List<string>
            {
                "\"v\":1",
                $"\"boot\":{random.Next(0, int.MaxValue) + (uint)random.Next(0, 2) * 2147483648u}",
                $"\"seq\":{(uint)random.Next()}",
                $"\"ts\":{random.NextInt64(0, 4_000_000_000_000)}",
            };
            foreach (var name in Numbers)
            {
                switch (random.Next(4))
                {
                    case 0: break;
                    case 1: members.Add($"\"{name}\":null"); break;
                    case 2: members.Add($"\"{name}\":{(random.NextDouble() * 0.9).ToString("R", CultureInfo.InvariantCulture)}"); break;
                    default: members.Add($"\"{name}\":{(name == "powerFactor" ? random.Next(-10, 11) : random.Next(0, 900))}e-1"); break;   // within every member's range
                }
            }
            switch (random.Next(4))
            {
                case 0: members.Add("\"occupied\":true"); break;
                case 1: members.Add("\"occupied\":false"); break;
                case 2: members.Add("\"occupied\":null"); break;
            }
            if (random.Next(3) == 0) members.Add("\"extra\":{\"nested\":[1,2,{\"powerW\":5}]}");   // unknown members are skipped
            if (random.Next(3) == 0) members.Add("\"\\u0070owerFactorX\":1");                      // an escaped unknown name
            var shuffled = members.OrderBy(_ => random.Next()).ToList();
            var payload = Encoding.UTF8.GetBytes("{" + string.Join(",", shuffled) + "}");

            var read = PayloadReader.ReadTelemetry(payload);
            var expected = JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.Telemetry);
            Assert.True(read.IsValid, $"{Encoding.UTF8.GetString(payload)}: {read.Message}");
            Assert.Equal(expected, read.Value);
        }
    }

    [Fact]
    public void Escaped_member_names_are_read_as_their_unescaped_names()
    {
        var payload = """{"v":1,"boot":2,"seq":3,"ts":4,"\u0070owerW":12.5,"occ\u0075pied":true}"""u8.ToArray();
        var read = PayloadReader.ReadTelemetry(payload);
        Assert.True(read.IsValid, read.Message);
        Assert.Equal((2u, 3u, 4L, 12.5, true), (read.Value.Boot, read.Value.Seq, read.Value.Ts, read.Value.PowerW, read.Value.Occupied));
    }

    [Fact]
    public void Reading_telemetry_allocates_little_more_than_the_record_itself()
    {
        var payload = Encoding.UTF8.GetBytes(DocExamples.Telemetry);
        for (var i = 0; i < 200; i++) PayloadReader.ReadTelemetry(payload);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 2_000; i++) PayloadReader.ReadTelemetry(payload);
        var perRead = (GC.GetAllocatedBytesForCurrentThread() - before) / 2_000.0;
        Assert.True(perRead <= 200, $"{perRead:F0} bytes per read");
    }
}
