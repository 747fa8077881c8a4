using Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>
/// An INA219 on I2C: register pointer, configuration (with reset), calibration (bit 0 always 0), and
/// the conversions the chip performs: shunt voltage in 10 uV steps clipped to the PGA range, bus voltage
/// in 4 mV steps, Current = trunc(Shunt x Cal / 4096), Power = trunc(Current x Bus / 5000), with the
/// MATH OVF flag when a result does not fit its register. The simulation sets the physical current,
/// shunt resistor and bus voltage.
/// </summary>
public sealed class Ina219Model(I2cConnectionSettings settings) : I2cDevice
{
    private const ushort PowerOnConfiguration = 0x399F;
    private readonly object _sync = new();
    private ushort _configuration = PowerOnConfiguration;
    private ushort _calibration;
    private byte _pointer;
    private bool _conversionReady = true;

    public override I2cConnectionSettings ConnectionSettings => settings;

    /// <summary>False makes the chip vanish from the bus (address not acknowledged).</summary>
    public bool Present { get; set; } = true;

    /// <summary>The physical shunt resistor, ohms.</summary>
    public double ShuntOhms { get; set; } = 0.1;

    /// <summary>Current through the shunt, amperes (negative = reverse).</summary>
    public double CurrentA { get; set; }

    /// <summary>Voltage at IN- against ground, volts.</summary>
    public double BusVoltageV { get; set; }

    public ushort ConfigurationRegister
    {
        get
        {
            lock (_sync)
            {
                return _configuration;
            }
        }
    }

    public ushort CalibrationRegister
    {
        get
        {
            lock (_sync)
            {
                return _calibration;
            }
        }
    }

    public override I2cTransferResult Write(byte[] buffer)
    {
        if (!Present)
        {
            return new I2cTransferResult(I2cTransferStatus.SlaveAddressNotAcknowledged, 0);
        }

        lock (_sync)
        {
            if (buffer.Length >= 1)
            {
                _pointer = buffer[0];
            }

            if (buffer.Length >= 3)
            {
                WriteRegister(_pointer, (ushort)((buffer[1] << 8) | buffer[2]));
            }
        }

        return new I2cTransferResult(I2cTransferStatus.FullTransfer, buffer.Length);
    }

    public override I2cTransferResult Read(byte[] buffer)
    {
        if (!Present)
        {
            return new I2cTransferResult(I2cTransferStatus.SlaveAddressNotAcknowledged, 0);
        }

        lock (_sync)
        {
            ushort value = ReadRegister(_pointer);
            for (int i = 0; i < buffer.Length; i++)
            {
                buffer[i] = (i % 2) == 0 ? (byte)(value >> 8) : (byte)value;
            }
        }

        return new I2cTransferResult(I2cTransferStatus.FullTransfer, buffer.Length);
    }

    public override I2cTransferResult WriteRead(byte[] writeBuffer, byte[] readBuffer)
    {
        var written = Write(writeBuffer);
        if (written.Status != I2cTransferStatus.FullTransfer)
        {
            return written;
        }

        var read = Read(readBuffer);
        return new I2cTransferResult(read.Status, written.BytesTransferred + read.BytesTransferred);
    }

    private void WriteRegister(byte register, ushort value)
    {
        switch (register)
        {
            case 0x00:
                if ((value & 0x8000) != 0)
                {
                    _configuration = PowerOnConfiguration;
                    _calibration = 0;
                }
                else
                {
                    _configuration = (ushort)(value & 0x3FFF);
                }

                break;
            case 0x05:
                _calibration = (ushort)(value & 0xFFFE);
                break;
            default:
                break;   // 0x01-0x04 are read-only
        }
    }

    private ushort ReadRegister(byte register)
    {
        var (shunt, bus, current, power, overflow) = Convert();
        switch (register)
        {
            case 0x00:
                return _configuration;
            case 0x01:
                _conversionReady = true;
                return (ushort)shunt;
            case 0x02:
                return (ushort)((bus << 3) | (_conversionReady ? 0x2 : 0) | (overflow ? 0x1 : 0));
            case 0x03:
                _conversionReady = false;   // reading power clears CNVR
                return (ushort)power;
            case 0x04:
                _conversionReady = true;
                return (ushort)current;
            case 0x05:
                return _calibration;
            default:
                return 0;
        }
    }

    private (short Shunt, int Bus, short Current, int Power, bool Overflow) Convert()
    {
        int gain = (_configuration >> 11) & 0x3;
        int shuntLimit = 4000 << gain;   // 40 mV / 10 uV, doubled per PGA step
        int shunt = (int)Math.Round(CurrentA * ShuntOhms / 0.00001);
        shunt = Math.Clamp(shunt, -shuntLimit, shuntLimit);

        bool range32 = (_configuration & 0x2000) != 0;
        int bus = (int)Math.Round(Math.Max(0, BusVoltageV) / 0.004);
        bus = Math.Min(bus, range32 ? 8000 : 4000);

        bool overflow = false;
        long current = (long)shunt * _calibration / 4096;   // C# integer division truncates toward zero
        if (current > short.MaxValue || current < short.MinValue)
        {
            overflow = true;
            current = Math.Clamp(current, short.MinValue, short.MaxValue);
        }

        long power = Math.Abs(current) * bus / 5000;
        if (power > ushort.MaxValue)
        {
            overflow = true;
            power = ushort.MaxValue;
        }

        return ((short)shunt, bus, (short)current, (int)power, overflow);
    }
}
