using Campus.Firmware.Ports;

namespace Campus.Firmware.Drivers
{
    /// <summary>
    /// A digital output: door strike or relay, buzzer, LED. <see cref="On"/>/<see cref="Off"/> switch it;
    /// <see cref="Pulse"/> and <see cref="Beep"/> switch it for a while without blocking: the owner calls
    /// <see cref="Update"/> from its loop and the output follows the clock.
    /// </summary>
    public sealed class PulseOutput
    {
        private readonly object _sync = new object();
        private readonly GpioController _gpio;
        private readonly Clock _clock;
        private readonly bool _activeLow;
        private bool _on;
        private long _phaseEndMs;
        private int _phasesLeft;   // remaining on/off phases of a beep pattern, including the current one
        private int _onMs;
        private int _offMs;

        public PulseOutput(GpioController gpio, Clock clock, int pin, bool activeLow)
        {
            _gpio = gpio;
            _clock = clock;
            _activeLow = activeLow;
            Pin = pin;
            if (!gpio.IsPinOpen(pin))
            {
                gpio.OpenPin(pin, PinMode.Output);
            }

            Apply(false);
        }

        public int Pin { get; }

        public bool IsOn
        {
            get
            {
                lock (_sync)
                {
                    return _on;
                }
            }
        }

        /// <summary>True while a pulse or beep pattern is running.</summary>
        public bool IsTimed
        {
            get
            {
                lock (_sync)
                {
                    return _phasesLeft > 0;
                }
            }
        }

        public void On()
        {
            lock (_sync)
            {
                _phasesLeft = 0;
                Apply(true);
            }
        }

        public void Off()
        {
            lock (_sync)
            {
                _phasesLeft = 0;
                Apply(false);
            }
        }

        /// <summary>On now, off after <paramref name="milliseconds"/>; a new pulse replaces a running one.</summary>
        public void Pulse(int milliseconds)
        {
            Beep(1, milliseconds, 0);
        }

        /// <summary><paramref name="count"/> on-periods of <paramref name="onMs"/> separated by <paramref name="offMs"/>.</summary>
        public void Beep(int count, int onMs, int offMs)
        {
            if (count <= 0 || onMs <= 0)
            {
                return;
            }

            lock (_sync)
            {
                _onMs = onMs;
                _offMs = offMs;
                _phasesLeft = (2 * count) - 1;
                _phaseEndMs = _clock.TickCountMs + onMs;
                Apply(true);
            }
        }

        /// <summary>Advances a running pulse or pattern to the current time.</summary>
        public void Update()
        {
            lock (_sync)
            {
                long now = _clock.TickCountMs;
                while (_phasesLeft > 0 && now >= _phaseEndMs)
                {
                    _phasesLeft--;
                    if (_phasesLeft == 0)
                    {
                        Apply(false);
                        break;
                    }

                    bool nextOn = !_on;
                    _phaseEndMs += nextOn ? _onMs : _offMs;
                    Apply(nextOn);
                }
            }
        }

        private void Apply(bool on)
        {
            _on = on;
            bool high = _activeLow ? !on : on;
            _gpio.Write(Pin, high ? PinValue.High : PinValue.Low);
        }
    }
}
