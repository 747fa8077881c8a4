using System.Reflection;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Tests.Hardware;

public sealed class PinMapTests
{
    public static readonly string[] Kinds = { "door", "sign", "energy", "env", "maker" };
    public static readonly string[] Chips = { "esp32-wroom-32", "esp32-s3" };

    public static TheoryData<string, string> AllMaps()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in Kinds)
        {
            foreach (var chip in Chips)
            {
                data.Add(kind, chip);
            }
        }

        return data;
    }

    [Fact]
    public void There_is_a_pin_map_for_every_device_kind_on_both_chips_and_nothing_else()
    {
        var expected = Kinds.SelectMany(k => Chips.Select(c => $"{k}.{c}.json")).Order().ToArray();
        var actual = Directory.GetFiles(RepositoryPaths.Combine("hardware", "pinmaps"), "*.json").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(AllMaps))]
    public void Pin_map_follows_the_chip_rules(string kind, string chip)
    {
        var map = Load(kind, chip);

        Assert.Equal(kind, map.Device);
        Assert.Equal(chip, map.Chip);
        var violations = PinMapRules.Validate(map);
        Assert.True(violations.Count == 0, $"{kind}.{chip}: " + string.Join("\n", violations));
    }

    [Theory]
    [MemberData(nameof(AllMaps))]
    public void Firmware_board_constants_equal_the_pin_map(string kind, string chip)
    {
        var map = Load(kind, chip);
        var type = typeof(DoorBoard).Assembly.GetType($"Campus.Firmware.Ports.{char.ToUpperInvariant(kind[0])}{kind[1..]}Board", throwOnError: true)!;
        var board = type.GetMethod("ForChip", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, new object[] { chip })!;

        var pinProperties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType == typeof(int) && p.Name is not ("SpiBusId" or "I2cBusId"))
            .ToDictionary(p => p.Name, p => (int)p.GetValue(board)!, StringComparer.OrdinalIgnoreCase);

        Assert.Equal(map.Pins.Select(p => p.Name.ToLowerInvariant()).Order(), pinProperties.Keys.Select(k => k.ToLowerInvariant()).Order());
        foreach (var pin in map.Pins)
        {
            Assert.True(pinProperties[pin.Name] == pin.Gpio, $"{type.Name}.{pin.Name}: firmware says GPIO{pinProperties[pin.Name]}, the pin map GPIO{pin.Gpio}");
        }

        Assert.Equal(chip, (string)type.GetProperty("Chip")!.GetValue(board)!);
        Assert.Equal(map.Buses.FirstOrDefault(b => b.Type == "spi")?.BusId ?? 0, (int)type.GetProperty("SpiBusId")!.GetValue(board)!);
        Assert.Equal(map.Buses.FirstOrDefault(b => b.Type == "i2c")?.BusId ?? 0, (int)type.GetProperty("I2cBusId")!.GetValue(board)!);
        Assert.Equal(map.Buses.FirstOrDefault(b => b.Type == "uart")?.Id ?? string.Empty, (string)type.GetProperty("SerialPortName")!.GetValue(board)!);
    }

    [Fact]
    public void Board_for_an_unknown_chip_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => DoorBoard.ForChip("esp8266"));
        Assert.Contains("esp8266", error.Message);
    }

    public static TheoryData<string, string, string, Func<PinMap, PinMap>> BadMaps() => new()
    {
        { "flash-pin", "door", "esp32-wroom-32", m => m.WithPin("ledRed", p => p with { Gpio = 7 }) },
        { "flash-pin", "door", "esp32-s3", m => m.WithPin("ledRed", p => p with { Gpio = 30 }) },
        { "psram-pin", "door", "esp32-s3", m => m.WithPin("ledRed", p => p with { Gpio = 35 }) },
        { "no-such-gpio", "door", "esp32-wroom-32", m => m.WithPin("ledRed", p => p with { Gpio = 20 }) },
        { "no-such-gpio", "door", "esp32-s3", m => m.WithPin("ledRed", p => p with { Gpio = 23 }) },
        { "input-only-output", "door", "esp32-wroom-32", m => m.WithPin("strikeRelay", p => p with { Gpio = 36 }) },
        { "input-only-output", "sign", "esp32-wroom-32", m => m.WithPin("epdCs", p => p with { Gpio = 38, Strapping = null }) },
        { "input-only-pull", "door", "esp32-wroom-32", m => m.WithPin("doorReed", p => p with { Pull = "internal-up" }) },
        { "strapping-unmarked", "door", "esp32-wroom-32", m => m.WithPin("ledRed", p => p with { Gpio = 12 }) },
        { "strapping-unmarked", "door", "esp32-wroom-32", m => m.WithPin("rfidCs", p => p with { Strapping = null }) },
        { "strapping-unmarked", "door", "esp32-wroom-32", m => m.WithPin("rfidCs", p => p with { Strapping = new StrappingNote(true, " ") }) },
        { "strapping-unmarked", "door", "esp32-s3", m => m.WithPin("ledRed", p => p with { Gpio = 46 }) },
        { "duplicate-pin", "door", "esp32-wroom-32", m => m.WithPin("ledRed", p => p with { Gpio = 26 }) },
        { "duplicate-name", "door", "esp32-wroom-32", m => m.AddPin(new PinEntry("buzzer", 27, "out", "gpio")) },
        { "console-pin", "door", "esp32-wroom-32", m => m.WithPin("ledRed", p => p with { Gpio = 1 }) },
        { "console-pin", "door", "esp32-s3", m => m.WithPin("ledRed", p => p with { Gpio = 43 }) },
        { "adc-pin", "maker", "esp32-wroom-32", m => m.WithPin("soilAdc", p => p with { Gpio = 25 }) },
        { "adc-pin", "maker", "esp32-s3", m => m.WithPin("soilAdc", p => p with { Gpio = 14 }) },
        { "unknown-bus", "door", "esp32-wroom-32", m => m.WithPin("rfidCs", p => p with { Bus = "spi9" }) },
        { "bus-incomplete", "door", "esp32-wroom-32", m => m with { Pins = m.Pins.Where(p => p.Name != "spiMosi").ToList() } },
        { "bus-incomplete", "energy", "esp32-s3", m => m with { Pins = m.Pins.Where(p => p.Name != "uartRx").ToList() } },
        { "bus-pin-invalid", "door", "esp32-wroom-32", m => m.WithPin("spiSck", p => p with { Direction = "in" }) },
        { "bus-pin-invalid", "env", "esp32-wroom-32", m => m.WithPin("i2cSda", p => p with { Pull = null }) },
        { "bus-pin-invalid", "energy", "esp32-wroom-32", m => m.WithPin("uartTx", p => p with { Bus = "i2c1" }) },
        { "unknown-chip", "door", "esp32-wroom-32", m => m with { Chip = "esp32-c3" } },
    };

    [Theory]
    [MemberData(nameof(BadMaps))]
    public void A_pin_map_breaking_a_rule_is_rejected_by_that_rule(string rule, string kind, string chip, Func<PinMap, PinMap> breakIt)
    {
        var good = Load(kind, chip);
        Assert.Empty(PinMapRules.Validate(good));

        var violations = PinMapRules.Validate(breakIt(good));

        Assert.True(violations.Any(v => v.Rule == rule), $"expected '{rule}', got: [{string.Join("; ", violations)}]");
    }

    private static PinMap Load(string kind, string chip) =>
        PinMap.Parse(File.ReadAllText(RepositoryPaths.Combine("hardware", "pinmaps", $"{kind}.{chip}.json")));
}
