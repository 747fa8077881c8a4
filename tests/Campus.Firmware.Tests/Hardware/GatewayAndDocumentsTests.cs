using System.Text.Json;

namespace Campus.Firmware.Tests.Hardware;

public sealed class GatewayAndDocumentsTests
{
    /// <summary>The Raspberry Pi 40-pin header (BCM numbers; -1 = 3V3, -2 = 5V, -3 = GND).</summary>
    private static readonly int[] StandardHeader =
    {
        -1, -2, 2, -2, 3, -3, 4, 14, -3, 15, 17, 18, 27, -3, 22, 23, -1, 24, 10, -3,
        9, 25, 11, 8, -3, 7, 0, 1, 5, -3, 6, 12, 13, -3, 19, 16, 26, 20, -3, 21,
    };

    [Fact]
    public void Gateway_header_map_matches_the_raspberry_pi_header_and_uses_each_gpio_once()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(RepositoryPaths.Combine("hardware", "gateway-rpi.json")));
        var header = doc.RootElement.GetProperty("header").EnumerateArray().ToList();

        Assert.Equal(40, header.Count);
        var uses = new Dictionary<string, int>();
        for (int i = 0; i < 40; i++)
        {
            var pin = header[i];
            Assert.Equal(i + 1, pin.GetProperty("physical").GetInt32());
            int expected = StandardHeader[i];
            string name = pin.GetProperty("name").GetString()!;
            var bcm = pin.GetProperty("bcm");
            if (expected < 0)
            {
                Assert.Equal(expected switch { -1 => "3V3", -2 => "5V", _ => "GND" }, name);
                Assert.Equal(JsonValueKind.Null, bcm.ValueKind);
                Assert.Equal(JsonValueKind.Null, pin.GetProperty("use").ValueKind);
                continue;
            }

            Assert.Equal(expected, bcm.GetInt32());
            Assert.Equal($"GPIO{expected}", name);
            if (pin.GetProperty("use").ValueKind == JsonValueKind.String)
            {
                string use = pin.GetProperty("use").GetString()!;
                Assert.False(uses.ContainsKey(use), $"'{use}' is on two pins");
                uses[use] = expected;
                Assert.True(expected is not (0 or 1), "GPIO0/GPIO1 belong to the HAT ID EEPROM");
            }
        }

        Assert.Equal(2, uses["i2c1-sda"]);
        Assert.Equal(3, uses["i2c1-scl"]);
        Assert.Equal(14, uses["uart0-tx"]);
        Assert.Equal(15, uses["uart0-rx"]);
        Assert.Contains("door1-strike", uses.Keys);
        Assert.Contains("door2-reed", uses.Keys);
    }

    [Fact]
    public void Bill_of_materials_lists_the_chips_each_device_kind_needs()
    {
        var lines = File.ReadAllLines(RepositoryPaths.Combine("hardware", "bom.csv"));
        Assert.Equal("device_kind,ref,part,manufacturer_part,quantity,notes", lines[0]);
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList();
        Assert.All(rows, r => Assert.True(r.Length == 6 && int.TryParse(r[4], out var q) && q > 0, "bad row: " + string.Join(",", r)));

        string Parts(string kind) => string.Join(" | ", rows.Where(r => r[0] == kind).Select(r => r[3]));
        Assert.Contains("MFRC522", Parts("door"));
        Assert.Contains("SSD1680", Parts("sign"));
        Assert.Contains("MFRC522", Parts("sign"));
        Assert.Contains("PZEM-004T", Parts("energy"));
        Assert.Contains("INA219", Parts("energy"));
        Assert.Contains("SHT31", Parts("env"));
        Assert.Contains("INA219", Parts("maker"));
        Assert.Contains("Raspberry Pi", Parts("gateway"));
        foreach (var kind in PinMapTests.Kinds)
        {
            Assert.Contains("ESP32", Parts(kind));
        }
    }

    [Theory]
    [MemberData(nameof(PinMapTests.AllMaps), MemberType = typeof(PinMapTests))]
    public void Wiring_document_shows_every_pin_of_every_map(string kind, string chip)
    {
        string wiring = File.ReadAllText(RepositoryPaths.Combine("hardware", "wiring.md"));
        var map = PinMap.Parse(File.ReadAllText(RepositoryPaths.Combine("hardware", "pinmaps", $"{kind}.{chip}.json")));
        string section = wiring[wiring.IndexOf($"## {kind}\n", StringComparison.Ordinal)..];
        int next = section.IndexOf("\n## ", 3, StringComparison.Ordinal);
        section = next > 0 ? section[..next] : section;

        foreach (var pin in map.Pins)
        {
            var row = section.Split('\n').FirstOrDefault(l => l.StartsWith($"| `{pin.Name}` |", StringComparison.Ordinal));
            Assert.True(row is not null, $"{kind}: no wiring row for {pin.Name}");
            var cells = row.Split('|', StringSplitOptions.TrimEntries);
            string cell = chip == "esp32-wroom-32" ? cells[2] : cells[3];
            Assert.True(cell == $"GPIO{pin.Gpio}" || cell.StartsWith($"GPIO{pin.Gpio} ", StringComparison.Ordinal), $"{kind}.{chip} {pin.Name}: wiring says '{cell}', the pin map GPIO{pin.Gpio}");
        }
    }
}
