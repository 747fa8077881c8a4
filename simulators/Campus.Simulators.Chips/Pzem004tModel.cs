using Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>What the meter does wrong to its next answers.</summary>
public enum PzemFault
{
    None,

    /// <summary>Silence: the driver times out.</summary>
    NoAnswer,

    /// <summary>The answer's CRC is corrupted.</summary>
    BadCrc,

    /// <summary>Only the first half of the answer arrives.</summary>
    Truncated,
}

/// <summary>
/// A PZEM-004T v3 behind a UART: Modbus RTU slave (each Write is one frame; silence separates frames),
/// input registers 0x0000-0x0009, holding registers 0x0001 (power alarm threshold, W) and 0x0002
/// (slave address), reset energy (0x42), exception responses for a bad function (0x01), address (0x02)
/// or value (0x03). Requests with a bad CRC or for another address are ignored, as on the line.
/// Energy accumulates from the power over the simulated clock.
/// </summary>
public sealed class Pzem004tModel : SerialPort
{
    private readonly object _sync = new();
    private readonly Clock _clock;
    private readonly Queue<byte> _toHost = new();
    private double _energyWh;
    private long _lastIntegrationMs;
    private double _voltageV = 230.0;
    private double _currentA;
    private double _powerFactor = 1.0;
    private bool _open;

    public Pzem004tModel(Clock clock, string portName = "COM2")
        : base(portName, 9600, Parity.None, 8, StopBits.One)
    {
        _clock = clock;
        _lastIntegrationMs = clock.TickCountMs;
    }

    public byte Address { get; private set; } = 0x01;

    public ushort PowerAlarmThresholdW { get; private set; } = 23000;

    public double FrequencyHz { get; set; } = 50.0;

    public PzemFault Fault { get; set; }

    /// <summary>How many answers the fault applies to; -1 = until cleared.</summary>
    public int FaultCount { get; set; } = -1;

    public int RequestCount { get; private set; }

    public int IgnoredFrames { get; private set; }

    public double VoltageV => _voltageV;

    public double CurrentA => _currentA;

    public double PowerFactor => _powerFactor;

    public double PowerW => _voltageV * _currentA * _powerFactor;

    public double EnergyWh
    {
        get
        {
            lock (_sync)
            {
                Integrate();
                return _energyWh;
            }
        }
    }

    /// <summary>Sets the load; energy up to now is booked at the previous power first.</summary>
    public void SetLoad(double voltageV, double currentA, double powerFactor)
    {
        lock (_sync)
        {
            Integrate();
            _voltageV = voltageV;
            _currentA = currentA;
            _powerFactor = powerFactor;
        }
    }

    public void SetEnergyWh(double wh)
    {
        lock (_sync)
        {
            Integrate();
            _energyWh = wh;
        }
    }

    public override bool IsOpen => _open;

    public override int BytesToRead
    {
        get
        {
            lock (_sync)
            {
                return _toHost.Count;
            }
        }
    }

    public override void Open() => _open = true;

    public override void Close() => _open = false;

    public override void DiscardInBuffer()
    {
        lock (_sync)
        {
            _toHost.Clear();
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        EnsureOpen();
        var frame = buffer.AsSpan(offset, count).ToArray();
        lock (_sync)
        {
            RequestCount++;
            var answer = Handle(frame);
            if (answer is null)
            {
                IgnoredFrames++;
                return;
            }

            answer = ApplyFault(answer);
            foreach (var b in answer)
            {
                _toHost.Enqueue(b);
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        EnsureOpen();
        lock (_sync)
        {
            if (_toHost.Count > 0)
            {
                return Drain(buffer, offset, count);
            }
        }

        // Nothing to read: the wait passes on the simulated clock, then the read times out.
        _clock.Sleep(ReadTimeout < 0 ? 1000 : ReadTimeout);
        lock (_sync)
        {
            if (_toHost.Count > 0)
            {
                return Drain(buffer, offset, count);
            }
        }

        throw new TimeoutException($"No data on {PortName} within {ReadTimeout} ms.");
    }

    private int Drain(byte[] buffer, int offset, int count)
    {
        int n = 0;
        while (n < count && _toHost.Count > 0)
        {
            buffer[offset + n++] = _toHost.Dequeue();
        }

        return n;
    }

    private void EnsureOpen()
    {
        if (!_open)
        {
            throw new InvalidOperationException($"{PortName} is closed; call Open first.");
        }
    }

    private byte[] ApplyFault(byte[] answer)
    {
        if (Fault == PzemFault.None || FaultCount == 0)
        {
            return answer;
        }

        if (FaultCount > 0)
        {
            FaultCount--;
        }

        return Fault switch
        {
            PzemFault.NoAnswer => Array.Empty<byte>(),
            PzemFault.BadCrc => Corrupt(answer),
            PzemFault.Truncated => answer[..(answer.Length / 2)],
            _ => answer,
        };

        static byte[] Corrupt(byte[] a)
        {
            a[^1] ^= 0xFF;
            return a;
        }
    }

    private byte[]? Handle(byte[] frame)
    {
        if (frame.Length < 4 || !CrcOk(frame))
        {
            return null;
        }

        byte address = frame[0];
        if (address != Address && address != 0xF8)
        {
            return null;
        }

        byte function = frame[1];
        switch (function)
        {
            case 0x04:
            case 0x03:
                if (frame.Length != 8)
                {
                    return null;
                }

                return ReadRegisters(function, Word(frame, 2), Word(frame, 4));
            case 0x06:
                if (frame.Length != 8)
                {
                    return null;
                }

                return WriteRegister(frame);
            case 0x42:
                if (frame.Length != 4)
                {
                    return null;
                }

                Integrate();
                _energyWh = 0;
                return WithCrc(new byte[] { Address, 0x42 });
            default:
                return Exception(function, 0x01);
        }
    }

    private byte[] ReadRegisters(byte function, int start, int count)
    {
        ushort[] registers = function == 0x04 ? InputRegisters() : new ushort[] { 0, PowerAlarmThresholdW, Address };
        int first = function == 0x04 ? 0 : 1;
        int last = registers.Length - 1;
        if (count < 1 || start < first || start + count - 1 > last)
        {
            return Exception(function, 0x02);
        }

        var answer = new byte[3 + (2 * count)];
        answer[0] = Address;
        answer[1] = function;
        answer[2] = (byte)(2 * count);
        for (int i = 0; i < count; i++)
        {
            answer[3 + (2 * i)] = (byte)(registers[start + i] >> 8);
            answer[4 + (2 * i)] = (byte)registers[start + i];
        }

        return WithCrc(answer);
    }

    private byte[] WriteRegister(byte[] frame)
    {
        int register = Word(frame, 2);
        int value = Word(frame, 4);
        var echo = WithCrc(new[] { Address, frame[1], frame[2], frame[3], frame[4], frame[5] });
        switch (register)
        {
            case 0x0001:
                PowerAlarmThresholdW = (ushort)value;
                return echo;
            case 0x0002:
                if (value is < 0x0001 or > 0x00F7)
                {
                    return Exception(0x06, 0x03);
                }

                Address = (byte)value;
                return WithCrc(new[] { Address, frame[1], frame[2], frame[3], frame[4], frame[5] });
            default:
                return Exception(0x06, 0x02);
        }
    }

    private ushort[] InputRegisters()
    {
        Integrate();
        uint current = (uint)Math.Round(_currentA * 1000);
        uint power = (uint)Math.Round(PowerW * 10);
        uint energy = (uint)Math.Floor(_energyWh);
        return new ushort[]
        {
            (ushort)Math.Round(_voltageV * 10),
            (ushort)current, (ushort)(current >> 16),
            (ushort)power, (ushort)(power >> 16),
            (ushort)energy, (ushort)(energy >> 16),
            (ushort)Math.Round(FrequencyHz * 10),
            (ushort)Math.Round(_powerFactor * 100),
            PowerW >= PowerAlarmThresholdW ? (ushort)0xFFFF : (ushort)0x0000,
        };
    }

    private void Integrate()
    {
        long now = _clock.TickCountMs;
        _energyWh += PowerW * (now - _lastIntegrationMs) / 3_600_000.0;
        _lastIntegrationMs = now;
    }

    private byte[] Exception(byte function, byte code) => WithCrc(new[] { Address, (byte)(function | 0x80), code });

    private static int Word(byte[] frame, int at) => (frame[at] << 8) | frame[at + 1];

    private static byte[] WithCrc(byte[] body)
    {
        var frame = new byte[body.Length + 2];
        body.CopyTo(frame, 0);
        ushort crc = Crc16(body);
        frame[^2] = (byte)crc;
        frame[^1] = (byte)(crc >> 8);
        return frame;
    }

    private static bool CrcOk(byte[] frame)
    {
        ushort crc = Crc16(frame.AsSpan(0, frame.Length - 2));
        return frame[^2] == (byte)crc && frame[^1] == (byte)(crc >> 8);
    }

    /// <summary>CRC-16/MODBUS computed with a lookup-free shift register (poly 0x8005 reflected).</summary>
    internal static ushort Crc16(ReadOnlySpan<byte> data)
    {
        ushort crc = 0xFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
            {
                bool lsb = (crc & 1) != 0;
                crc >>= 1;
                if (lsb)
                {
                    crc ^= 0xA001;
                }
            }
        }

        return crc;
    }
}
