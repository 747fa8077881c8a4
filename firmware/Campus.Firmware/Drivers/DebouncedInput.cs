using System;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Drivers
{
    public sealed class DebouncedInputEventArgs : EventArgs
    {
        public DebouncedInputEventArgs(bool isActive, long atTickMs)
        {
            IsActive = isActive;
            AtTickMs = atTickMs;
        }

        /// <summary>The new stable state (true = active: contact closed, button pressed, motion seen).</summary>
        public bool IsActive { get; }

        /// <summary>Clock tick (ms since boot) when the change was accepted.</summary>
        public long AtTickMs { get; }
    }

    public delegate void DebouncedInputEventHandler(object sender, DebouncedInputEventArgs e);

    /// <summary>
    /// A switch-like input (reed switch, request-to-exit button, tamper switch, PIR output) whose state
    /// changes only after the level stayed the same for the debounce time. Pin edges restart the window;
    /// the owner calls <see cref="Update"/> from its loop (every 5-20 ms) and gets <see cref="Changed"/>.
    /// </summary>
    public sealed class DebouncedInput
    {
        private readonly object _sync = new object();
        private readonly GpioController _gpio;
        private readonly Clock _clock;
        private readonly bool _activeLow;
        private PinValue _candidate;
        private long _candidateSinceMs;
        private bool _stableActive;

        /// <param name="activeLow">True when the input reads low while active (switch to ground with a pull-up).</param>
        public DebouncedInput(GpioController gpio, Clock clock, int pin, PinMode mode, bool activeLow, int debounceMs)
        {
            _gpio = gpio;
            _clock = clock;
            _activeLow = activeLow;
            Pin = pin;
            DebounceMs = debounceMs;
            if (!gpio.IsPinOpen(pin))
            {
                gpio.OpenPin(pin, mode);
            }

            _candidate = gpio.Read(pin);
            _candidateSinceMs = clock.TickCountMs;
            _stableActive = IsActiveLevel(_candidate);
            gpio.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Rising | PinEventTypes.Falling, OnEdge);
        }

        /// <summary>Raised from <see cref="Update"/> when the stable state changes.</summary>
        public event DebouncedInputEventHandler? Changed;

        public int Pin { get; }

        public int DebounceMs { get; }

        /// <summary>The debounced state.</summary>
        public bool IsActive
        {
            get
            {
                lock (_sync)
                {
                    return _stableActive;
                }
            }
        }

        /// <summary>Samples the pin; accepts a level that has been steady for the debounce time.</summary>
        public void Update()
        {
            long now = _clock.TickCountMs;
            PinValue level = _gpio.Read(Pin);
            bool raise = false;
            bool active;
            lock (_sync)
            {
                if (level != _candidate)
                {
                    _candidate = level;
                    _candidateSinceMs = now;
                }

                active = IsActiveLevel(_candidate);
                if (active != _stableActive && now - _candidateSinceMs >= DebounceMs)
                {
                    _stableActive = active;
                    raise = true;
                }
            }

            if (raise)
            {
                var handler = Changed;
                if (handler != null)
                {
                    handler(this, new DebouncedInputEventArgs(active, now));
                }
            }
        }

        private void OnEdge(object sender, PinValueChangedEventArgs e)
        {
            lock (_sync)
            {
                _candidate = e.ChangeType == PinEventTypes.Rising ? PinValue.High : PinValue.Low;
                _candidateSinceMs = _clock.TickCountMs;
            }
        }

        private bool IsActiveLevel(PinValue value)
        {
            return _activeLow ? value == PinValue.Low : value == PinValue.High;
        }
    }
}
