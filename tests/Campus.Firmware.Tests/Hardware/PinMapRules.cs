using System.Text.Json;
using System.Text.Json.Serialization;

namespace Campus.Firmware.Tests.Hardware;

public sealed record StrappingNote(bool Safe, string? Reason);

public sealed record PinEntry(string Name, int Gpio, string Direction, string Function, string? Bus = null, string? Pull = null, StrappingNote? Strapping = null, string? Note = null);

public sealed record BusEntry(string Id, string Type, int? BusId = null, int? Baud = null);

public sealed record PinMap(string Device, string Chip, string Module, string Psram, string? Description, List<BusEntry> Buses, List<PinEntry> Pins)
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static PinMap Parse(string json) => JsonSerializer.Deserialize<PinMap>(json, Options) ?? throw new InvalidDataException("empty pin map");

    public PinMap WithPin(string name, Func<PinEntry, PinEntry> change) =>
        this with { Pins = Pins.Select(p => p.Name == name ? change(p) : p).ToList() };

    public PinMap AddPin(PinEntry pin) => this with { Pins = Pins.Append(pin).ToList() };
}

/// <summary>What a chip allows: which GPIOs exist, which are taken by flash/PSRAM, input-only, strapping, ADC1.</summary>
public sealed record ChipRules(
    string Name,
    IReadOnlySet<int> Gpios,
    IReadOnlySet<int> FlashPins,
    IReadOnlySet<int> OctalPsramPins,
    IReadOnlySet<int> InputOnlyPins,
    IReadOnlySet<int> StrappingPins,
    IReadOnlySet<int> ConsolePins,
    IReadOnlySet<int> Adc1Pins)
{
    private static HashSet<int> Range(int from, int to) => Enumerable.Range(from, to - from + 1).ToHashSet();

    private static HashSet<int> Set(params int[] pins) => pins.ToHashSet();

    /// <summary>ESP32 (WROOM-32 module): GPIO 6-11 wired to the flash, 34-39 input only without pulls.</summary>
    public static readonly ChipRules Esp32Wroom32 = new(
        "esp32-wroom-32",
        Range(0, 19).Concat(Set(21, 22, 23, 25, 26, 27)).Concat(Range(32, 39)).ToHashSet(),
        Range(6, 11),
        Set(),
        Range(34, 39),
        Set(0, 2, 5, 12, 15),
        Set(1, 3),
        Range(32, 39));

    /// <summary>ESP32-S3: GPIO 26-32 for flash/PSRAM, 33-37 also with octal PSRAM; no input-only pins.</summary>
    public static readonly ChipRules Esp32S3 = new(
        "esp32-s3",
        Range(0, 21).Concat(Range(26, 48)).ToHashSet(),
        Range(26, 32),
        Range(33, 37),
        Set(),
        Set(0, 3, 45, 46),
        Set(43, 44),
        Range(1, 10));

    public static ChipRules? For(string chip) => chip switch
    {
        "esp32-wroom-32" => Esp32Wroom32,
        "esp32-s3" => Esp32S3,
        _ => null,
    };
}

public sealed record PinMapViolation(string Rule, string Pin, string Detail)
{
    public override string ToString() => $"{Rule}: {Pin}: {Detail}";
}

/// <summary>The chip rules every pin map must follow.</summary>
public static class PinMapRules
{
    private static readonly string[] OutputFunctions = { "spi-sck", "spi-mosi", "spi-cs", "i2c-sda", "i2c-scl", "uart-tx" };
    private static readonly string[] KnownFunctions = { "gpio", "adc", "spi-sck", "spi-mosi", "spi-miso", "spi-cs", "i2c-sda", "i2c-scl", "uart-tx", "uart-rx" };

    public static IReadOnlyList<PinMapViolation> Validate(PinMap map)
    {
        var v = new List<PinMapViolation>();
        var chip = ChipRules.For(map.Chip);
        if (chip is null)
        {
            v.Add(new("unknown-chip", "-", $"chip '{map.Chip}' is not esp32-wroom-32 or esp32-s3"));
            return v;
        }

        foreach (var group in map.Pins.GroupBy(p => p.Gpio).Where(g => g.Count() > 1))
        {
            v.Add(new("duplicate-pin", $"GPIO{group.Key}", "used by " + string.Join(", ", group.Select(p => p.Name))));
        }

        foreach (var group in map.Pins.GroupBy(p => p.Name).Where(g => g.Count() > 1))
        {
            v.Add(new("duplicate-name", group.Key, $"{group.Count()} pins share the name"));
        }

        foreach (var pin in map.Pins)
        {
            string id = $"{pin.Name} (GPIO{pin.Gpio})";
            if (!KnownFunctions.Contains(pin.Function))
            {
                v.Add(new("unknown-function", id, $"function '{pin.Function}'"));
            }

            if (pin.Direction is not ("in" or "out" or "io"))
            {
                v.Add(new("unknown-direction", id, $"direction '{pin.Direction}'"));
            }

            if (chip.FlashPins.Contains(pin.Gpio))
            {
                v.Add(new("flash-pin", id, $"GPIO{pin.Gpio} belongs to the SPI flash of {chip.Name}"));
            }
            else if (map.Psram == "octal" && chip.OctalPsramPins.Contains(pin.Gpio))
            {
                v.Add(new("psram-pin", id, $"GPIO{pin.Gpio} belongs to the octal PSRAM"));
            }
            else if (!chip.Gpios.Contains(pin.Gpio))
            {
                v.Add(new("no-such-gpio", id, $"{chip.Name} has no GPIO{pin.Gpio}"));
            }

            if (chip.InputOnlyPins.Contains(pin.Gpio))
            {
                if (pin.Direction != "in" || OutputFunctions.Contains(pin.Function))
                {
                    v.Add(new("input-only-output", id, $"GPIO{pin.Gpio} is input only; it cannot drive '{pin.Function}' ({pin.Direction})"));
                }

                if (pin.Pull is "internal-up" or "internal-down")
                {
                    v.Add(new("input-only-pull", id, $"GPIO{pin.Gpio} has no internal pull resistors; use an external one"));
                }
            }

            if (chip.StrappingPins.Contains(pin.Gpio) && (pin.Strapping is not { Safe: true } || string.IsNullOrWhiteSpace(pin.Strapping.Reason)))
            {
                v.Add(new("strapping-unmarked", id, $"GPIO{pin.Gpio} is a strapping pin; mark it safe with a reason or move it"));
            }

            if (chip.ConsolePins.Contains(pin.Gpio))
            {
                v.Add(new("console-pin", id, $"GPIO{pin.Gpio} carries the boot console UART"));
            }

            if (pin.Function == "adc" && !chip.Adc1Pins.Contains(pin.Gpio))
            {
                v.Add(new("adc-pin", id, $"GPIO{pin.Gpio} is not an ADC1 channel (ADC2 is unusable with Wi-Fi on)"));
            }

            bool busFunction = pin.Function.StartsWith("spi-", StringComparison.Ordinal) || pin.Function.StartsWith("i2c-", StringComparison.Ordinal) || pin.Function.StartsWith("uart-", StringComparison.Ordinal);
            if (busFunction)
            {
                var bus = map.Buses.FirstOrDefault(b => b.Id == pin.Bus);
                string expectedType = pin.Function[..pin.Function.IndexOf('-')];
                if (bus is null)
                {
                    v.Add(new("unknown-bus", id, $"bus '{pin.Bus}' is not declared"));
                }
                else if (bus.Type != expectedType)
                {
                    v.Add(new("bus-pin-invalid", id, $"function {pin.Function} on a {bus.Type} bus"));
                }

                bool needsOut = OutputFunctions.Contains(pin.Function);
                if (needsOut && pin.Direction == "in")
                {
                    v.Add(new("bus-pin-invalid", id, $"{pin.Function} must be an output"));
                }

                if (!needsOut && pin.Direction == "out")
                {
                    v.Add(new("bus-pin-invalid", id, $"{pin.Function} must be an input"));
                }
            }
        }

        foreach (var bus in map.Buses)
        {
            string[] required = bus.Type switch
            {
                "spi" => new[] { "spi-sck", "spi-mosi" },
                "i2c" => new[] { "i2c-sda", "i2c-scl" },
                "uart" => new[] { "uart-tx", "uart-rx" },
                _ => Array.Empty<string>(),
            };
            if (required.Length == 0)
            {
                v.Add(new("unknown-bus", bus.Id, $"bus type '{bus.Type}'"));
            }

            foreach (var function in required)
            {
                int count = map.Pins.Count(p => p.Bus == bus.Id && p.Function == function);
                if (count != 1)
                {
                    v.Add(new("bus-incomplete", bus.Id, $"needs exactly one {function} pin, has {count}"));
                }
            }

            if (bus.Type == "i2c" && map.Pins.Any(p => p.Bus == bus.Id && p.Pull is null or "none"))
            {
                v.Add(new("bus-pin-invalid", bus.Id, "I2C lines need pull-ups"));
            }
        }

        return v;
    }
}
