using System.Collections.Concurrent;
using Campus.Firmware.Ports;

namespace Campus.Simulators.Chips;

/// <summary>Flash key/value storage in memory; keep the instance across a simulated reboot to keep its contents.</summary>
public sealed class InMemoryNonVolatileStore : NonVolatileStore
{
    private readonly ConcurrentDictionary<string, byte[]> _entries = new(StringComparer.Ordinal);

    public int WriteCount { get; private set; }

    public IReadOnlyCollection<string> Keys => _entries.Keys.ToArray();

    public override bool TryRead(string key, out byte[] value)
    {
        CheckKey(key);
        if (_entries.TryGetValue(key, out var stored))
        {
            value = (byte[])stored.Clone();
            return true;
        }

        value = Array.Empty<byte>();
        return false;
    }

    public override void Write(string key, byte[] value)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(value);
        _entries[key] = (byte[])value.Clone();
        WriteCount++;
    }

    public override bool Delete(string key)
    {
        CheckKey(key);
        return _entries.TryRemove(key, out _);
    }
}

/// <summary>A watchdog that reports, against the simulated clock, whether the firmware fed it in time.</summary>
public sealed class SimulatedWatchdog(Clock clock) : Watchdog
{
    private readonly object _sync = new();
    private long _lastFeedMs;
    private int _timeoutMs;
    private bool _running;

    public int FeedCount { get; private set; }

    public override bool IsRunning
    {
        get
        {
            lock (_sync)
            {
                return _running;
            }
        }
    }

    /// <summary>True when the watchdog runs and was not fed within its timeout (the chip would have reset).</summary>
    public bool HasExpired
    {
        get
        {
            lock (_sync)
            {
                return _running && clock.TickCountMs - _lastFeedMs > _timeoutMs;
            }
        }
    }

    public override void Start(int timeoutMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMs, 1);
        lock (_sync)
        {
            _timeoutMs = timeoutMs;
            _lastFeedMs = clock.TickCountMs;
            _running = true;
        }
    }

    public override void Feed()
    {
        lock (_sync)
        {
            _lastFeedMs = clock.TickCountMs;
            FeedCount++;
        }
    }

    public override void Stop()
    {
        lock (_sync)
        {
            _running = false;
        }
    }
}

/// <summary>A Wi-Fi station whose access point the simulation switches on and off.</summary>
public sealed class SimulatedWifi : WifiNetwork
{
    private readonly object _sync = new();
    private bool _apAvailable = true;
    private bool _connected;

    public int ConnectAttempts { get; private set; }

    public string LastSsid { get; private set; } = string.Empty;

    public int SignalDbm { get; set; } = -61;

    public string Address { get; set; } = "10.0.0.2";

    public override bool IsConnected
    {
        get
        {
            lock (_sync)
            {
                return _connected;
            }
        }
    }

    public override int Rssi => IsConnected ? SignalDbm : 0;

    public override string IpAddress => IsConnected ? Address : string.Empty;

    /// <summary>Switches the access point; a connected station drops (and raises the event) when it goes away.</summary>
    public void SetAccessPointAvailable(bool available)
    {
        bool dropped;
        lock (_sync)
        {
            _apAvailable = available;
            dropped = !available && _connected;
            if (dropped)
            {
                _connected = false;
            }
        }

        if (dropped)
        {
            OnAvailabilityChanged(false);
        }
    }

    public override bool Connect(string ssid, string password, int timeoutMs)
    {
        bool up;
        lock (_sync)
        {
            ConnectAttempts++;
            LastSsid = ssid;
            up = _apAvailable && !_connected;
            if (_apAvailable)
            {
                _connected = true;
            }
        }

        if (up)
        {
            OnAvailabilityChanged(true);
        }

        return IsConnected;
    }

    public override void Disconnect()
    {
        bool was;
        lock (_sync)
        {
            was = _connected;
            _connected = false;
        }

        if (was)
        {
            OnAvailabilityChanged(false);
        }
    }
}

/// <summary>The ESP32's 12-bit ADC with channel values set by the simulation (e.g. a soil probe).</summary>
public sealed class AdcModel : AdcController
{
    private readonly ConcurrentDictionary<int, int> _values = new();

    public override int ChannelCount => 20;

    public override int MaxValue => 4095;

    public override int MinValue => 0;

    public override int ResolutionInBits => 12;

    public void SetValue(int channel, int raw) => _values[channel] = Math.Clamp(raw, MinValue, MaxValue);

    /// <summary>Sets a channel from a voltage with 0-3.3 V full scale (11 dB attenuation, linearised).</summary>
    public void SetVoltage(int channel, double volts) => SetValue(channel, (int)Math.Round(volts / 3.3 * MaxValue));

    public override AdcChannel OpenChannel(int channelNumber)
    {
        if (channelNumber < 0 || channelNumber >= ChannelCount || channelNumber is 8 or 9)
        {
            throw new ArgumentOutOfRangeException(nameof(channelNumber), $"ADC channel {channelNumber} is not an input channel (0-7, 10-19).");
        }

        return new ModelChannel(this, channelNumber);
    }

    private sealed class ModelChannel(AdcModel owner, int channel) : AdcChannel(owner, channel)
    {
        public override int ReadValue() => owner._values.TryGetValue(ChannelNumber, out var v) ? v : 0;
    }
}
