using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Drivers;

/// <summary>A clock that moves forward whenever the firmware sleeps, for single-threaded driver tests.</summary>
internal static class TestRig
{
    public static SimulatedClock Clock() => new(new DateTime(2026, 11, 26, 8, 0, 0, DateTimeKind.Utc), autoAdvance: true);

    public static string Hex(byte[] bytes) => Convert.ToHexString(bytes);

    public static byte[] Bytes(string hex) => Convert.FromHexString(hex);

    public static SpiConnectionSettings Spi(int cs) => new(1, cs);
}
