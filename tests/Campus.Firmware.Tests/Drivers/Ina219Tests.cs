using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Drivers;

public sealed class Ina219Tests
{
    [Theory]
    // shunt ohms, max current A, expected Cal, expected PG code
    [InlineData(0.1, 3.2, 4194, 3)]        // 97.66 uA LSB: trunc(4194.30), 320 mV range
    [InlineData(0.05, 3.2768, 8192, 3)]    // 0.1 mA LSB: exactly 0.04096 / (0.0001 * 0.05)
    [InlineData(0.1, 0.4, 33554, 0)]       // 12.2 uA LSB: trunc(33554.43), 40 mV range
    [InlineData(0.01, 16.384, 8192, 3)]    // 0.5 mA LSB: exactly 8192; 164 mV needs the 320 mV range
    [InlineData(0.5, 0.1, 26842, 1)]       // 3.05 uA LSB: trunc(26843.55) = 26843, bit 0 cleared, 80 mV range
    public void Calibration_follows_the_datasheet_formula(double shunt, double maxA, int expectedCal, int expectedGain)
    {
        var ina = new Ina219(new Ina219Model(new I2cConnectionSettings(1, 0x40)), shunt, maxA);

        Assert.Equal(maxA / 32768.0, ina.CurrentLsbA, 12);
        Assert.Equal(20 * ina.CurrentLsbA, ina.PowerLsbW, 12);
        Assert.Equal(expectedCal, ina.Calibration);
        Assert.Equal(expectedGain, ina.GainCode);
    }

    [Fact]
    public void Calibration_that_does_not_fit_16_bits_is_refused()
    {
        var error = Assert.Throws<DriverException>(() => Ina219.ComputeCalibration(0.000001, 0.001));
        Assert.Contains("65534", error.Message);
    }

    [Theory]
    [InlineData(0.1, 3.2, 1.5, 12.0)]
    [InlineData(0.1, 0.4, 0.25, 5.0)]
    [InlineData(0.01, 16.384, 10.0, 24.0)]
    [InlineData(0.5, 0.1, 0.05, 3.3)]
    public void Readings_match_the_simulated_circuit(double shunt, double maxA, double currentA, double busV)
    {
        var chip = new Ina219Model(new I2cConnectionSettings(1, 0x40)) { ShuntOhms = shunt, CurrentA = currentA, BusVoltageV = busV };
        var ina = new Ina219(chip, shunt, maxA);
        ina.Initialize();

        var reading = ina.Read();

        Assert.False(reading.Overflow);
        Assert.Equal(currentA * shunt, reading.ShuntVoltageV, 5);
        Assert.Equal(busV, reading.BusVoltageV, 2);
        // Current and power carry the calibration truncation: within 0.1 % plus one LSB.
        Assert.InRange(reading.CurrentA, (currentA * 0.999) - ina.CurrentLsbA, (currentA * 1.001) + ina.CurrentLsbA);
        Assert.InRange(reading.PowerW, (currentA * busV * 0.995) - ina.PowerLsbW, (currentA * busV * 1.005) + ina.PowerLsbW);
        Assert.Equal(ina.Calibration, chip.CalibrationRegister);
        Assert.Equal(ina.Configuration, chip.ConfigurationRegister);
    }

    [Fact]
    public void Current_register_is_the_chip_arithmetic_of_shunt_and_calibration()
    {
        var chip = new Ina219Model(new I2cConnectionSettings(1, 0x40)) { ShuntOhms = 0.1, CurrentA = 1.234, BusVoltageV = 12 };
        var ina = new Ina219(chip, 0.1, 3.2);
        ina.Initialize();

        int shuntRaw = (short)ina.ReadRegister(Ina219.RegisterShuntVoltage);
        int currentRaw = (short)ina.ReadRegister(Ina219.RegisterCurrent);
        int busRaw = ina.ReadRegister(Ina219.RegisterBusVoltage) >> 3;
        int powerRaw = ina.ReadRegister(Ina219.RegisterPower);

        Assert.Equal(12340, shuntRaw);
        Assert.Equal(shuntRaw * ina.Calibration / 4096, currentRaw);
        Assert.Equal(3000, busRaw);
        Assert.Equal(currentRaw * busRaw / 5000, powerRaw);
    }

    [Fact]
    public void Negative_current_reads_negative()
    {
        var chip = new Ina219Model(new I2cConnectionSettings(1, 0x40)) { ShuntOhms = 0.1, CurrentA = -0.5, BusVoltageV = 5 };
        var ina = new Ina219(chip, 0.1, 3.2);
        ina.Initialize();

        Assert.Equal(-0.5, ina.ReadCurrentA(), 3);
    }

    [Fact]
    public void Overflow_flag_is_raised_when_the_current_exceeds_the_calibrated_range()
    {
        // Calibrated for 0.45 A (80 mV range): 0.6 A still fits the shunt range but not the current register.
        var chip = new Ina219Model(new I2cConnectionSettings(1, 0x40)) { ShuntOhms = 0.1, CurrentA = 0.6, BusVoltageV = 12 };
        var ina = new Ina219(chip, 0.1, 0.45);
        ina.Initialize();
        Assert.Equal(1, ina.GainCode);

        Assert.True(ina.Read().Overflow);

        chip.CurrentA = 0.2;
        Assert.False(ina.Read().Overflow);
    }

    [Fact]
    public void A_missing_chip_is_reported_as_no_device()
    {
        var chip = new Ina219Model(new I2cConnectionSettings(1, 0x41)) { Present = false };
        var ina = new Ina219(chip, 0.1, 3.2);

        var error = Assert.Throws<DriverException>(ina.Initialize);
        Assert.Equal(DriverError.NoDevice, error.Error);
        Assert.Contains("0x41", error.Message);
    }

    [Fact]
    public void Reset_restores_the_power_on_configuration_and_clears_calibration()
    {
        var chip = new Ina219Model(new I2cConnectionSettings(1, 0x40));
        var ina = new Ina219(chip, 0.1, 3.2);
        ina.Initialize();
        Assert.NotEqual(0, chip.CalibrationRegister);

        ina.WriteRegister(Ina219.RegisterConfiguration, Ina219.ConfigurationResetBit);

        Assert.Equal(Ina219.PowerOnConfiguration, chip.ConfigurationRegister);
        Assert.Equal(0, chip.CalibrationRegister);
    }
}
