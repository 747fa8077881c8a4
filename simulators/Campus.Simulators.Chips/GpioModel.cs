using Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>A level change of one pin, stamped with the clock's tick.</summary>
public readonly record struct PinTransition(int Pin, PinValue Value, long AtMs);

/// <summary>An output pulse: high from <see cref="StartMs"/> for <see cref="DurationMs"/> (or still high).</summary>
public readonly record struct PinPulse(int Pin, long StartMs, long? DurationMs);

/// <summary>
/// The GPIO backend for simulations: inputs are driven by the simulation (reed switch, PIR, REX,
/// tamper, BUSY lines) and raise the firmware's pin-change callbacks on the driving thread; outputs
/// are recorded with their time, so relay, buzzer and LED activity can be checked as pulses.
/// Input-only pins (34-39 on the ESP32) refuse output mode as the chip would.
/// </summary>
public sealed class GpioModel : GpioController
{
    private readonly object _sync = new();
    private readonly Clock? _clock;
    private readonly HashSet<int> _inputOnly;
    private readonly Dictionary<int, PinValue> _driven = new();
    private readonly Dictionary<int, Func<PinValue>> _providers = new();
    private readonly Dictionary<int, PinValue> _outputs = new();
    private readonly Dictionary<int, PinMode> _modes = new();
    private readonly List<PinTransition> _history = new();

    public GpioModel(Clock? clock = null, int pinCount = 49, IEnumerable<int>? inputOnlyPins = null)
    {
        _clock = clock;
        PinCount = pinCount;
        _inputOnly = inputOnlyPins is null ? new HashSet<int>() : new HashSet<int>(inputOnlyPins);
    }

    /// <summary>An ESP32-WROOM-32: 40 GPIO numbers, 34-39 input only.</summary>
    public static GpioModel Esp32(Clock? clock = null) => new(clock, 40, new[] { 34, 35, 36, 37, 38, 39 });

    /// <summary>An ESP32-S3: 49 GPIO numbers, all bidirectional.</summary>
    public static GpioModel Esp32S3(Clock? clock = null) => new(clock, 49);

    /// <summary>Raised after the firmware wrote an output pin (also when the level stayed the same).</summary>
    public event Action<int, PinValue>? OutputWritten;

    public override int PinCount { get; }

    public override bool IsPinModeSupported(int pinNumber, PinMode mode)
    {
        if (pinNumber < 0 || pinNumber >= PinCount)
        {
            return false;
        }

        bool inputOnly = _inputOnly.Contains(pinNumber);
        return mode switch
        {
            PinMode.Output => !inputOnly,
            PinMode.InputPullUp or PinMode.InputPullDown => !inputOnly,   // 34-39 have no internal pulls
            _ => true,
        };
    }

    /// <summary>Drives an input pin from outside (a switch, a sensor output); raises callbacks on an edge.</summary>
    public void SetInput(int pin, PinValue value)
    {
        PinValue before;
        bool raise;
        lock (_sync)
        {
            before = InputLevelLocked(pin);
            _driven[pin] = value;
            raise = before != value && _modes.TryGetValue(pin, out var mode) && mode != PinMode.Output;
            _history.Add(new PinTransition(pin, value, Now));
        }

        if (raise)
        {
            OnPinValueChanged(pin, value == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling);
        }
    }

    /// <summary>Lets a chip model compute an input level when it is read (e.g. BUSY that falls after a time).</summary>
    public void SetInputProvider(int pin, Func<PinValue> provider)
    {
        lock (_sync)
        {
            _providers[pin] = provider;
        }
    }

    /// <summary>The level the firmware last wrote to an output pin (Low if never written).</summary>
    public PinValue GetOutput(int pin)
    {
        lock (_sync)
        {
            return _outputs.TryGetValue(pin, out var v) ? v : PinValue.Low;
        }
    }

    public bool IsOutput(int pin)
    {
        lock (_sync)
        {
            return _modes.TryGetValue(pin, out var m) && m == PinMode.Output;
        }
    }

    /// <summary>Every level change (outputs written by the firmware, inputs driven by the simulation), oldest first.</summary>
    public IReadOnlyList<PinTransition> History(int pin)
    {
        lock (_sync)
        {
            return _history.Where(t => t.Pin == pin).ToList();
        }
    }

    /// <summary>The high periods of a pin, from its recorded history.</summary>
    public IReadOnlyList<PinPulse> Pulses(int pin)
    {
        var pulses = new List<PinPulse>();
        long? start = null;
        PinValue last = PinValue.Low;
        foreach (var t in History(pin))
        {
            if (t.Value == last)
            {
                continue;
            }

            if (t.Value == PinValue.High)
            {
                start = t.AtMs;
            }
            else if (start is long s)
            {
                pulses.Add(new PinPulse(pin, s, t.AtMs - s));
                start = null;
            }

            last = t.Value;
        }

        if (start is long open)
        {
            pulses.Add(new PinPulse(pin, open, null));
        }

        return pulses;
    }

    protected override void OpenPinCore(int pinNumber)
    {
        if (pinNumber < 0 || pinNumber >= PinCount)
        {
            throw new ArgumentOutOfRangeException(nameof(pinNumber), $"GPIO {pinNumber} does not exist on this chip (0..{PinCount - 1}).");
        }
    }

    protected override void ClosePinCore(int pinNumber)
    {
        lock (_sync)
        {
            _modes.Remove(pinNumber);
        }
    }

    protected override void SetPinModeCore(int pinNumber, PinMode mode)
    {
        lock (_sync)
        {
            _modes[pinNumber] = mode;
        }
    }

    protected override void WritePinCore(int pinNumber, PinValue value)
    {
        bool changed;
        lock (_sync)
        {
            changed = !_outputs.TryGetValue(pinNumber, out var old) || old != value;
            _outputs[pinNumber] = value;
            if (changed)
            {
                _history.Add(new PinTransition(pinNumber, value, Now));
            }
        }

        OutputWritten?.Invoke(pinNumber, value);
    }

    protected override PinValue ReadPinCore(int pinNumber)
    {
        Func<PinValue>? provider;
        lock (_sync)
        {
            if (_modes.TryGetValue(pinNumber, out var mode) && mode == PinMode.Output)
            {
                return _outputs.TryGetValue(pinNumber, out var v) ? v : PinValue.Low;
            }

            _providers.TryGetValue(pinNumber, out provider);
            if (provider is null)
            {
                return InputLevelLocked(pinNumber);
            }
        }

        return provider();
    }

    private long Now => _clock?.TickCountMs ?? 0;

    private PinValue InputLevelLocked(int pin)
    {
        if (_driven.TryGetValue(pin, out var v))
        {
            return v;
        }

        // Undriven: the pull decides; a floating input reads low.
        return _modes.TryGetValue(pin, out var mode) && mode == PinMode.InputPullUp ? PinValue.High : PinValue.Low;
    }
}
