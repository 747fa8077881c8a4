using Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>
/// An SHT31 on I2C: single-shot measurements (high/medium/low repeatability, with or without clock
/// stretching), soft reset, status register, heater; every 16-bit word followed by its CRC-8
/// (polynomial 0x31, init 0xFF). Without clock stretching a read before the measurement time has
/// passed on the simulated clock is not acknowledged, as on the chip.
/// </summary>
public sealed class Sht31Model(I2cConnectionSettings settings, Clock clock) : I2cDevice
{
    private readonly object _sync = new();
    private byte[]? _output;
    private long _readyAtMs;
    private ushort _status = 0x8010;   // alert pending + reset detected after power-up
    private bool _heater;

    public override I2cConnectionSettings ConnectionSettings => settings;

    public bool Present { get; set; } = true;

    public double TemperatureC { get; set; } = 21.0;

    public double HumidityPct { get; set; } = 45.0;

    /// <summary>Corrupts the CRC byte of this many following measurement words (0 = none).</summary>
    public int CorruptNextCrcs { get; set; }

    public int MeasurementCount { get; private set; }

    public bool HeaterOn
    {
        get
        {
            lock (_sync)
            {
                return _heater;
            }
        }
    }

    /// <summary>The raw ticks the chip reports for a temperature: (T + 45) x 65535 / 175, rounded.</summary>
    public static ushort RawTemperature(double celsius) => (ushort)Math.Clamp(Math.Round((celsius + 45.0) * 65535.0 / 175.0), 0, 65535);

    public static ushort RawHumidity(double percent) => (ushort)Math.Clamp(Math.Round(percent * 65535.0 / 100.0), 0, 65535);

    /// <summary>CRC-8 of a two-byte word, as the sensor appends it.</summary>
    public static byte Crc(byte msb, byte lsb)
    {
        int crc = 0xFF;
        foreach (var b in new[] { msb, lsb })
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 0x80) != 0 ? ((crc << 1) ^ 0x31) & 0xFF : (crc << 1) & 0xFF;
            }
        }

        return (byte)crc;
    }

    public override I2cTransferResult Write(byte[] buffer)
    {
        if (!Present)
        {
            return new I2cTransferResult(I2cTransferStatus.SlaveAddressNotAcknowledged, 0);
        }

        if (buffer.Length != 2)
        {
            return new I2cTransferResult(I2cTransferStatus.PartialTransfer, Math.Min(buffer.Length, 2));
        }

        lock (_sync)
        {
            Command((ushort)((buffer[0] << 8) | buffer[1]));
        }

        return new I2cTransferResult(I2cTransferStatus.FullTransfer, 2);
    }

    public override I2cTransferResult Read(byte[] buffer)
    {
        if (!Present)
        {
            return new I2cTransferResult(I2cTransferStatus.SlaveAddressNotAcknowledged, 0);
        }

        lock (_sync)
        {
            if (_output is null || clock.TickCountMs < _readyAtMs)
            {
                return new I2cTransferResult(I2cTransferStatus.SlaveAddressNotAcknowledged, 0);
            }

            int n = Math.Min(buffer.Length, _output.Length);
            Array.Copy(_output, buffer, n);
            for (int i = n; i < buffer.Length; i++)
            {
                buffer[i] = 0xFF;   // the master clocks on past the data: the bus floats high
            }

            _output = null;   // single shot: the data is gone once read
            return new I2cTransferResult(I2cTransferStatus.FullTransfer, buffer.Length);
        }
    }

    public override I2cTransferResult WriteRead(byte[] writeBuffer, byte[] readBuffer)
    {
        var w = Write(writeBuffer);
        if (w.Status != I2cTransferStatus.FullTransfer)
        {
            return w;
        }

        var r = Read(readBuffer);
        return new I2cTransferResult(r.Status, w.BytesTransferred + r.BytesTransferred);
    }

    private void Command(ushort command)
    {
        switch (command)
        {
            case 0x2400: Measure(16, stretch: false); break;
            case 0x240B: Measure(7, stretch: false); break;
            case 0x2416: Measure(5, stretch: false); break;
            case 0x2C06: Measure(16, stretch: true); break;
            case 0x2C0D: Measure(7, stretch: true); break;
            case 0x2C10: Measure(5, stretch: true); break;
            case 0x30A2:
                _output = null;
                _heater = false;
                _status = 0x0010;
                break;
            case 0xF32D:
                _output = Words(_status);
                _readyAtMs = clock.TickCountMs;
                break;
            case 0x3041:
                _status &= unchecked((ushort)~0x8C10);   // alert, tracking alerts and reset-detected flags
                break;
            case 0x306D:
                _heater = true;
                _status |= 0x2000;
                break;
            case 0x3066:
                _heater = false;
                _status &= 0xDFFF;
                break;
            default:
                _status |= 0x0002;   // command not processed
                break;
        }
    }

    private void Measure(int durationMs, bool stretch)
    {
        MeasurementCount++;
        _output = Words(RawTemperature(TemperatureC), RawHumidity(HumidityPct));
        for (int word = 0; word < 2 && CorruptNextCrcs > 0; word++)
        {
            _output[(word * 3) + 2] ^= 0x5A;
            CorruptNextCrcs--;
        }

        // With clock stretching the sensor holds SCL until done, so the read always succeeds.
        _readyAtMs = stretch ? clock.TickCountMs : clock.TickCountMs + durationMs;
    }

    private static byte[] Words(params ushort[] words)
    {
        var bytes = new byte[words.Length * 3];
        for (int i = 0; i < words.Length; i++)
        {
            bytes[i * 3] = (byte)(words[i] >> 8);
            bytes[(i * 3) + 1] = (byte)words[i];
            bytes[(i * 3) + 2] = Crc(bytes[i * 3], bytes[(i * 3) + 1]);
        }

        return bytes;
    }
}
