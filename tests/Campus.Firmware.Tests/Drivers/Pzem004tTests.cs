using Campus.Firmware.Drivers;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Drivers;

public sealed class Pzem004tTests
{
    private readonly SimulatedClock _clock = TestRig.Clock();
    private readonly Pzem004tModel _meter;
    private readonly Pzem004t _driver;

    public Pzem004tTests()
    {
        _meter = new Pzem004tModel(_clock);
        _meter.Open();
        _driver = new Pzem004t(_meter, Pzem004t.GeneralAddress, 500);
    }

    [Fact]
    public void Crc16_modbus_matches_the_known_read_request()
    {
        // "01 04 00 00 00 0A" is followed on the wire by 70 0D.
        var frame = new byte[] { 0x01, 0x04, 0x00, 0x00, 0x00, 0x0A };
        ushort crc = Checksums.Crc16Modbus(frame, 0, frame.Length);
        Assert.Equal(0x70, crc & 0xFF);
        Assert.Equal(0x0D, crc >> 8);
        Assert.Equal(crc, Pzem004tModel_Crc(frame));
    }

    [Fact]
    public void Reads_all_measurement_registers()
    {
        _meter.SetLoad(229.8, 3.54, 0.98);
        _meter.FrequencyHz = 49.9;
        _meter.SetEnergyWh(1234567);

        var r = _driver.Read();

        Assert.Equal(229.8, r.VoltageV, 1);
        Assert.Equal(3.54, r.CurrentA, 3);
        Assert.Equal(229.8 * 3.54 * 0.98, r.PowerW, 1);
        Assert.Equal(1234567u, r.EnergyWh);
        Assert.Equal(49.9, r.FrequencyHz, 1);
        Assert.Equal(0.98, r.PowerFactor, 2);
        Assert.False(r.PowerAlarm);
    }

    [Fact]
    public void Values_above_16_bits_use_the_high_register_word()
    {
        _meter.SetLoad(230.0, 90.0, 1.0);   // 20700 W = 207000 x 0.1 W: needs the high word
        var r = _driver.Read();
        Assert.Equal(20700.0, r.PowerW, 1);
        Assert.Equal(90.0, r.CurrentA, 3);
    }

    [Fact]
    public void Energy_accumulates_from_power_over_simulated_time()
    {
        _meter.SetLoad(230.0, 1000.0 / 230.0, 1.0);   // 1 kW
        _clock.Advance(TimeSpan.FromHours(1.5));

        Assert.Equal(1500u, _driver.Read().EnergyWh);
    }

    [Fact]
    public void Power_alarm_is_reported_above_the_threshold()
    {
        _driver.WriteHoldingRegister(Pzem004t.HoldingAlarmThreshold, 500);
        _meter.SetLoad(230.0, 3.0, 1.0);   // 690 W

        Assert.True(_driver.Read().PowerAlarm);
        Assert.Equal(500, _meter.PowerAlarmThresholdW);
    }

    [Fact]
    public void Reset_energy_clears_the_counter()
    {
        _meter.SetEnergyWh(5000);
        _driver.ResetEnergy();
        Assert.Equal(0u, _driver.Read().EnergyWh);
    }

    [Fact]
    public void Illegal_address_exception_response_is_surfaced_as_a_typed_error()
    {
        var error = Assert.Throws<ModbusException>(() => _driver.ReadRegisters(Pzem004t.FunctionReadInputRegisters, 0x0008, 4));
        Assert.Equal(ModbusException.IllegalDataAddress, error.ExceptionCode);
        Assert.Equal(Pzem004t.FunctionReadInputRegisters, error.FunctionCode);
        Assert.Equal(DriverError.DeviceError, error.Error);
    }

    [Fact]
    public void Unsupported_function_gets_an_illegal_function_exception()
    {
        var error = Assert.Throws<ModbusException>(() => _driver.ReadRegisters(0x02, 0, 1));
        Assert.Equal(ModbusException.IllegalFunction, error.ExceptionCode);
    }

    [Fact]
    public void Invalid_slave_address_value_gets_an_illegal_value_exception()
    {
        var error = Assert.Throws<ModbusException>(() => _driver.WriteHoldingRegister(Pzem004t.HoldingSlaveAddress, 0x0100));
        Assert.Equal(ModbusException.IllegalDataValue, error.ExceptionCode);
    }

    [Fact]
    public void Silent_meter_times_out_after_the_response_timeout()
    {
        _meter.Fault = PzemFault.NoAnswer;
        long before = _clock.TickCountMs;

        var error = Assert.Throws<DriverException>(() => _driver.Read());

        Assert.Equal(DriverError.Timeout, error.Error);
        Assert.Equal(500, _clock.TickCountMs - before);
        Assert.Contains("0 of 25 bytes", error.Message);
    }

    [Fact]
    public void Truncated_answer_times_out_with_the_byte_count()
    {
        _meter.Fault = PzemFault.Truncated;
        var error = Assert.Throws<DriverException>(() => _driver.Read());
        Assert.Equal(DriverError.Timeout, error.Error);
        Assert.Contains("12 of 25 bytes", error.Message);
    }

    [Fact]
    public void Corrupted_answer_crc_is_detected_and_the_next_read_succeeds()
    {
        _meter.Fault = PzemFault.BadCrc;
        _meter.FaultCount = 1;

        var error = Assert.Throws<DriverException>(() => _driver.Read());
        Assert.Equal(DriverError.CrcMismatch, error.Error);

        Assert.Equal(230.0, _driver.Read().VoltageV, 1);
    }

    [Fact]
    public void Meter_ignores_a_request_for_another_address()
    {
        var other = new Pzem004t(_meter, 0x07, 200);
        var error = Assert.Throws<DriverException>(() => other.Read());
        Assert.Equal(DriverError.Timeout, error.Error);
        Assert.Equal(1, _meter.IgnoredFrames);
    }

    [Fact]
    public void Changing_the_slave_address_makes_the_meter_answer_there()
    {
        _driver.WriteHoldingRegister(Pzem004t.HoldingSlaveAddress, 0x05);
        var addressed = new Pzem004t(_meter, 0x05, 200);
        Assert.Equal(230.0, addressed.Read().VoltageV, 1);
    }

    private static ushort Pzem004tModel_Crc(byte[] frame)
    {
        // The model computes its CRC independently of the driver; both must agree.
        var request = new byte[frame.Length + 2];
        frame.CopyTo(request, 0);
        ushort crc = Checksums.Crc16Modbus(frame, 0, frame.Length);
        request[^2] = (byte)crc;
        request[^1] = (byte)(crc >> 8);
        var clock = TestRig.Clock();
        var meter = new Pzem004tModel(clock);
        meter.Open();
        meter.Write(request, 0, request.Length);
        return meter.BytesToRead > 0 ? crc : (ushort)0;
    }
}
