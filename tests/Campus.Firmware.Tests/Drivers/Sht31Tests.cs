using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Drivers;

public sealed class Sht31Tests
{
    private readonly SimulatedClock _clock = TestRig.Clock();
    private readonly Sht31Model _chip;
    private readonly Sht31 _sensor;

    public Sht31Tests()
    {
        _chip = new Sht31Model(new I2cConnectionSettings(1, 0x44), _clock);
        _sensor = new Sht31(_chip, _clock);
    }

    [Fact]
    public void Crc8_matches_the_datasheet_example()
    {
        // Sensirion's example: CRC(0xBEEF) = 0x92.
        Assert.Equal(0x92, Checksums.Crc8Sensirion(new byte[] { 0xBE, 0xEF }, 0, 2));
        Assert.Equal(0x92, Sht31Model.Crc(0xBE, 0xEF));
    }

    [Theory]
    [InlineData((ushort)0, -45.0, 0.0)]
    [InlineData((ushort)65535, 130.0, 100.0)]
    [InlineData((ushort)0x6666, 25.0, 40.0)]
    public void Raw_values_convert_with_the_datasheet_formulas(ushort raw, double celsius, double percent)
    {
        Assert.Equal(celsius, Sht31.ToCelsius(raw), 2);
        Assert.Equal(percent, Sht31.ToRelativeHumidity(raw), 2);
    }

    [Theory]
    [InlineData(22.4, 41.2)]
    [InlineData(-10.0, 95.5)]
    [InlineData(35.25, 5.0)]
    public void Measurement_returns_the_simulated_climate(double celsius, double percent)
    {
        _chip.TemperatureC = celsius;
        _chip.HumidityPct = percent;

        var m = _sensor.Measure();

        // One raw tick is 0.0027 degC and 0.0015 %RH.
        Assert.Equal(celsius, m.TemperatureC, 2);
        Assert.Equal(percent, m.HumidityPct, 2);
        Assert.Equal(Sht31Model.RawTemperature(celsius), m.RawTemperature);
        Assert.Equal(1, _chip.MeasurementCount);
    }

    [Fact]
    public void Measurement_waits_for_the_conversion_on_the_clock()
    {
        long before = _clock.TickCountMs;
        _sensor.Measure();
        Assert.True(_clock.TickCountMs - before >= 15, "the driver must wait the 15.5 ms conversion before reading");
    }

    [Fact]
    public void Reading_before_the_conversion_is_done_is_not_acknowledged_by_the_model()
    {
        _chip.Write(new byte[] { 0x24, 0x00 });
        var early = _chip.Read(new byte[6]);
        Assert.Equal(I2cTransferStatus.SlaveAddressNotAcknowledged, early.Status);

        _clock.Advance(TimeSpan.FromMilliseconds(16));
        Assert.Equal(I2cTransferStatus.FullTransfer, _chip.Read(new byte[6]).Status);
    }

    [Fact]
    public void Corrupted_temperature_crc_is_detected()
    {
        _chip.CorruptNextCrcs = 1;

        var error = Assert.Throws<DriverException>(() => _sensor.Measure());
        Assert.Equal(DriverError.CrcMismatch, error.Error);
        Assert.Contains("temperature", error.Message);

        // The next measurement is clean again.
        Assert.Equal(21.0, _sensor.Measure().TemperatureC, 2);
    }

    [Fact]
    public void A_missing_sensor_is_reported_as_no_device()
    {
        _chip.Present = false;
        var error = Assert.Throws<DriverException>(() => _sensor.Measure());
        Assert.Equal(DriverError.NoDevice, error.Error);
    }

    [Fact]
    public void Status_register_reads_with_a_valid_crc_and_shows_reset_detected()
    {
        _sensor.SoftReset();
        ushort status = _sensor.ReadStatus();
        Assert.NotEqual(0, status & 0x0010);
    }
}
