using Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>
/// An SSD1680 e-paper controller with a 2.9-inch 128x296 panel, on SPI with D/C, RESET and BUSY on
/// a <see cref="GpioModel"/>. It decodes commands and data (D/C low = command), keeps the
/// black/white and red RAM (176 sources x 296 gates) with the address window, counters and data
/// entry mode, drives BUSY high during reset and refresh (on the simulated clock), and on Master
/// Activation copies the black/white RAM to the visible image. The image is read landscape,
/// 296 x 128: pixel (x, y) is RAM source y, gate 295 - x (the panel turned a quarter clockwise).
/// </summary>
public sealed class EpaperModel : SpiDevice
{
    public const int Width = 296;
    public const int Height = 128;
    private const int RamSourceBytes = 22;   // 176 sources
    private const int RamGates = 296;

    private readonly object _sync = new();
    private readonly GpioModel _gpio;
    private readonly Clock _clock;
    private readonly int _dcPin;
    private readonly SpiConnectionSettings _settings;
    private readonly byte[] _bwRam = new byte[RamSourceBytes * RamGates];
    private readonly byte[] _redRam = new byte[RamSourceBytes * RamGates];
    private readonly byte[] _visible = new byte[RamSourceBytes * RamGates];
    private readonly List<byte> _parameters = new();
    private readonly List<byte> _commandLog = new();
    private int _command = -1;
    private int _xStart, _xEnd = RamSourceBytes - 1, _yStart, _yEnd = RamGates - 1, _x, _y;
    private int _entryMode = 0x03;
    private int _updateControl2 = 0xFF;
    private long _busyUntilMs;
    private bool _deepSleep;

    public EpaperModel(SpiConnectionSettings settings, GpioModel gpio, Clock clock, int dcPin, int resetPin, int busyPin)
    {
        _settings = settings;
        _gpio = gpio;
        _clock = clock;
        _dcPin = dcPin;
        Array.Fill(_visible, (byte)0xFF);
        Array.Fill(_bwRam, (byte)0xFF);
        gpio.SetInputProvider(busyPin, () => _clock.TickCountMs < Volatile.Read(ref _busyUntilMs) ? PinValue.High : PinValue.Low);
        gpio.OutputWritten += (pin, value) =>
        {
            if (pin == resetPin && value == PinValue.Low)
            {
                HardwareReset();
            }
        };
    }

    /// <summary>How long a full refresh keeps BUSY high, ms.</summary>
    public int RefreshMs { get; set; } = 2600;

    public override SpiConnectionSettings ConnectionSettings => _settings;

    public int RefreshCount { get; private set; }

    public bool IsInDeepSleep => _deepSleep;

    /// <summary>Command bytes in the order received.</summary>
    public IReadOnlyList<byte> Commands
    {
        get
        {
            lock (_sync)
            {
                return _commandLog.ToArray();
            }
        }
    }

    /// <summary>True when the visible pixel (landscape x 0-295, y 0-127) is black.</summary>
    public bool GetPixel(int x, int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(x);
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(x, Width);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, Height);
        lock (_sync)
        {
            int gate = RamGates - 1 - x;
            return (_visible[(gate * RamSourceBytes) + (y >> 3)] & (0x80 >> (y & 7))) == 0;
        }
    }

    /// <summary>Number of black pixels in the visible image.</summary>
    public int CountBlackPixels()
    {
        int count = 0;
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                if (GetPixel(x, y))
                {
                    count++;
                }
            }
        }

        return count;
    }

    public byte[] EncodePng() => PngWriter.EncodeBlackWhite(Width, Height, (x, y) => !GetPixel(x, y));

    public void SaveAsPng(string path) => File.WriteAllBytes(path, EncodePng());

    public override void Write(byte[] buffer)
    {
        bool data = _gpio.GetOutput(_dcPin) == PinValue.High;
        lock (_sync)
        {
            foreach (var b in buffer)
            {
                if (data)
                {
                    Data(b);
                }
                else
                {
                    Command(b);
                }
            }
        }
    }

    public override void Read(byte[] buffer) => Array.Clear(buffer);   // the panel's MISO is not wired

    public override void TransferFullDuplex(byte[] writeBuffer, byte[] readBuffer)
    {
        Write(writeBuffer);
        Array.Clear(readBuffer);
    }

    private void Command(byte command)
    {
        _commandLog.Add(command);
        if (_deepSleep)
        {
            return;   // only a hardware reset wakes the controller
        }

        _command = command;
        _parameters.Clear();
        switch (command)
        {
            case 0x12:   // software reset: registers to defaults, RAM kept
                _xStart = 0;
                _xEnd = RamSourceBytes - 1;
                _yStart = 0;
                _yEnd = RamGates - 1;
                _x = 0;
                _y = 0;
                _entryMode = 0x03;
                Busy(5);
                break;
            case 0x20:   // master activation
                if ((_updateControl2 & 0x04) != 0)
                {
                    Array.Copy(_bwRam, _visible, _bwRam.Length);
                    RefreshCount++;
                }

                Busy(RefreshMs);
                break;
            default:
                break;
        }
    }

    private void Data(byte value)
    {
        if (_deepSleep || _command < 0)
        {
            return;
        }

        _parameters.Add(value);
        var p = _parameters;
        switch (_command)
        {
            case 0x24:
            case 0x26:
                var ram = _command == 0x24 ? _bwRam : _redRam;
                if (_x >= 0 && _x < RamSourceBytes && _y >= 0 && _y < RamGates)
                {
                    ram[(_y * RamSourceBytes) + _x] = value;
                }

                AdvanceCounter();
                break;
            case 0x11:
                _entryMode = value & 0x07;
                break;
            case 0x44:
                if (p.Count == 2)
                {
                    _xStart = p[0] & 0x3F;
                    _xEnd = p[1] & 0x3F;
                }

                break;
            case 0x45:
                if (p.Count == 4)
                {
                    _yStart = p[0] | ((p[1] & 0x01) << 8);
                    _yEnd = p[2] | ((p[3] & 0x01) << 8);
                }

                break;
            case 0x4E:
                _x = value & 0x3F;
                break;
            case 0x4F:
                if (p.Count == 2)
                {
                    _y = p[0] | ((p[1] & 0x01) << 8);
                }

                break;
            case 0x22:
                _updateControl2 = value;
                break;
            case 0x10:
                if ((value & 0x03) != 0)
                {
                    _deepSleep = true;
                }

                break;
            default:
                break;   // driver output, border, temperature, update control 1: accepted, no effect on the image
        }
    }

    /// <summary>Moves the address counter per the data entry mode (ID bits and AM), wrapping in the window.</summary>
    private void AdvanceCounter()
    {
        bool xInc = (_entryMode & 0x01) != 0;
        bool yInc = (_entryMode & 0x02) != 0;
        bool yFirst = (_entryMode & 0x04) != 0;
        if (!yFirst)
        {
            if (StepX(xInc))
            {
                StepY(yInc);
            }
        }
        else if (StepY(yInc))
        {
            StepX(xInc);
        }
    }

    private bool StepX(bool inc)
    {
        if (inc ? _x >= _xEnd : _x <= _xStart)
        {
            _x = inc ? _xStart : _xEnd;
            return true;
        }

        _x += inc ? 1 : -1;
        return false;
    }

    private bool StepY(bool inc)
    {
        if (inc ? _y >= _yEnd : _y <= _yStart)
        {
            _y = inc ? _yStart : _yEnd;
            return true;
        }

        _y += inc ? 1 : -1;
        return false;
    }

    private void Busy(int milliseconds) => Volatile.Write(ref _busyUntilMs, _clock.TickCountMs + milliseconds);

    private void HardwareReset()
    {
        lock (_sync)
        {
            _deepSleep = false;
            _command = -1;
            _parameters.Clear();
            Busy(1);
        }
    }
}
