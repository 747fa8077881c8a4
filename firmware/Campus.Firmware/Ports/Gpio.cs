using System;
using System.Collections;

namespace Campus.Firmware.Ports
{
    /// <summary>Logic level of a pin (nanoFramework's <c>PinValue</c>).</summary>
    public enum PinValue
    {
        Low = 0,
        High = 1,
    }

    /// <summary>Electrical mode of a pin (<c>System.Device.Gpio.PinMode</c>).</summary>
    public enum PinMode
    {
        Input = 0,
        Output = 1,
        InputPullDown = 2,
        InputPullUp = 3,
    }

    /// <summary>Edges a pin-change callback listens to (<c>System.Device.Gpio.PinEventTypes</c>).</summary>
    [Flags]
    public enum PinEventTypes
    {
        None = 0,
        Rising = 1,
        Falling = 2,
    }

    /// <summary>Which pin changed and in which direction.</summary>
    public sealed class PinValueChangedEventArgs : EventArgs
    {
        public PinValueChangedEventArgs(PinEventTypes changeType, int pinNumber)
        {
            ChangeType = changeType;
            PinNumber = pinNumber;
        }

        public PinEventTypes ChangeType { get; }

        public int PinNumber { get; }
    }

    /// <summary>Callback for a pin level change (<c>PinChangeEventHandler</c>).</summary>
    public delegate void PinChangeEventHandler(object sender, PinValueChangedEventArgs e);

    /// <summary>
    /// The GPIO controller port, shaped after <c>System.Device.Gpio.GpioController</c>.
    /// The base class keeps the bookkeeping (open pins, modes, callbacks); a backend only moves levels:
    /// on a device the Core methods call the real controller, in the simulators they touch a pin model.
    /// A backend reports an input edge with <see cref="OnPinValueChanged"/>; callbacks run on the
    /// backend's thread (the real controller's event thread, or the thread driving the model).
    /// </summary>
    public abstract class GpioController : IDisposable
    {
        private readonly object _sync = new object();
        private readonly Hashtable _pins = new Hashtable();      // int -> GpioPin
        private readonly Hashtable _modes = new Hashtable();     // int -> PinMode
        private readonly Hashtable _callbacks = new Hashtable(); // int -> ArrayList of CallbackRegistration

        /// <summary>Number of pins the controller addresses.</summary>
        public abstract int PinCount { get; }

        public GpioPin OpenPin(int pinNumber)
        {
            return OpenPin(pinNumber, PinMode.Input);
        }

        public GpioPin OpenPin(int pinNumber, PinMode mode)
        {
            lock (_sync)
            {
                if (_pins.Contains(pinNumber))
                {
                    throw new InvalidOperationException("Pin " + pinNumber + " is already open; close it first.");
                }

                if (!IsPinModeSupported(pinNumber, mode))
                {
                    throw new ArgumentException("Pin " + pinNumber + " does not support mode " + ModeName(mode) + ".");
                }

                OpenPinCore(pinNumber);
                SetPinModeCore(pinNumber, mode);
                var pin = new GpioPin(this, pinNumber);
                _pins[pinNumber] = pin;
                _modes[pinNumber] = mode;
                return pin;
            }
        }

        public void ClosePin(int pinNumber)
        {
            lock (_sync)
            {
                EnsureOpen(pinNumber);
                _pins.Remove(pinNumber);
                _modes.Remove(pinNumber);
                _callbacks.Remove(pinNumber);
                ClosePinCore(pinNumber);
            }
        }

        public bool IsPinOpen(int pinNumber)
        {
            lock (_sync)
            {
                return _pins.Contains(pinNumber);
            }
        }

        public abstract bool IsPinModeSupported(int pinNumber, PinMode mode);

        public void SetPinMode(int pinNumber, PinMode mode)
        {
            lock (_sync)
            {
                EnsureOpen(pinNumber);
                if (!IsPinModeSupported(pinNumber, mode))
                {
                    throw new ArgumentException("Pin " + pinNumber + " does not support mode " + ModeName(mode) + ".");
                }

                SetPinModeCore(pinNumber, mode);
                _modes[pinNumber] = mode;
            }
        }

        public PinMode GetPinMode(int pinNumber)
        {
            lock (_sync)
            {
                EnsureOpen(pinNumber);
                return (PinMode)_modes[pinNumber]!;
            }
        }

        public void Write(int pinNumber, PinValue value)
        {
            lock (_sync)
            {
                EnsureOpen(pinNumber);
                if ((PinMode)_modes[pinNumber]! != PinMode.Output)
                {
                    throw new InvalidOperationException("Pin " + pinNumber + " is not an output; set PinMode.Output before writing.");
                }
            }

            WritePinCore(pinNumber, value);
        }

        public PinValue Read(int pinNumber)
        {
            lock (_sync)
            {
                EnsureOpen(pinNumber);
            }

            return ReadPinCore(pinNumber);
        }

        public void Toggle(int pinNumber)
        {
            Write(pinNumber, Read(pinNumber) == PinValue.High ? PinValue.Low : PinValue.High);
        }

        public void RegisterCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
        {
            if (callback == null)
            {
                throw new ArgumentNullException(nameof(callback));
            }

            lock (_sync)
            {
                EnsureOpen(pinNumber);
                var list = (ArrayList?)_callbacks[pinNumber];
                if (list == null)
                {
                    list = new ArrayList();
                    _callbacks[pinNumber] = list;
                }

                list.Add(new CallbackRegistration(eventTypes, callback));
            }
        }

        public void UnregisterCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
        {
            lock (_sync)
            {
                var list = (ArrayList?)_callbacks[pinNumber];
                if (list == null)
                {
                    return;
                }

                for (int i = list.Count - 1; i >= 0; i--)
                {
                    if (((CallbackRegistration)list[i]!).Callback == callback)
                    {
                        list.RemoveAt(i);
                    }
                }
            }
        }

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
        }

        protected abstract void OpenPinCore(int pinNumber);

        protected abstract void ClosePinCore(int pinNumber);

        protected abstract void SetPinModeCore(int pinNumber, PinMode mode);

        protected abstract void WritePinCore(int pinNumber, PinValue value);

        protected abstract PinValue ReadPinCore(int pinNumber);

        /// <summary>A backend calls this when the level of an open pin changed.</summary>
        protected void OnPinValueChanged(int pinNumber, PinEventTypes changeType)
        {
            GpioPin? pin;
            object?[] targets;
            lock (_sync)
            {
                pin = (GpioPin?)_pins[pinNumber];
                var list = (ArrayList?)_callbacks[pinNumber];
                targets = list == null ? new object?[0] : list.ToArray();
            }

            if (pin == null)
            {
                return;
            }

            var args = new PinValueChangedEventArgs(changeType, pinNumber);
            for (int i = 0; i < targets.Length; i++)
            {
                var registration = (CallbackRegistration)targets[i]!;
                if ((registration.EventTypes & changeType) != 0)
                {
                    registration.Callback(this, args);
                }
            }

            pin.RaiseValueChanged(args);
        }

        private void EnsureOpen(int pinNumber)
        {
            if (!_pins.Contains(pinNumber))
            {
                throw new InvalidOperationException("Pin " + pinNumber + " is not open; call OpenPin first.");
            }
        }

        private static string ModeName(PinMode mode)
        {
            switch (mode)
            {
                case PinMode.Input: return "Input";
                case PinMode.Output: return "Output";
                case PinMode.InputPullDown: return "InputPullDown";
                default: return "InputPullUp";
            }
        }

        private sealed class CallbackRegistration
        {
            public CallbackRegistration(PinEventTypes eventTypes, PinChangeEventHandler callback)
            {
                EventTypes = eventTypes;
                Callback = callback;
            }

            public PinEventTypes EventTypes { get; }

            public PinChangeEventHandler Callback { get; }
        }
    }

    /// <summary>An open pin (<c>System.Device.Gpio.GpioPin</c>): a handle on its controller.</summary>
    public sealed class GpioPin
    {
        private readonly GpioController _controller;

        internal GpioPin(GpioController controller, int pinNumber)
        {
            _controller = controller;
            PinNumber = pinNumber;
        }

        /// <summary>Raised on every edge of this pin (both directions).</summary>
        public event PinChangeEventHandler? ValueChanged;

        public int PinNumber { get; }

        public PinMode GetPinMode()
        {
            return _controller.GetPinMode(PinNumber);
        }

        public void SetPinMode(PinMode mode)
        {
            _controller.SetPinMode(PinNumber, mode);
        }

        public PinValue Read()
        {
            return _controller.Read(PinNumber);
        }

        public void Write(PinValue value)
        {
            _controller.Write(PinNumber, value);
        }

        public void Toggle()
        {
            _controller.Toggle(PinNumber);
        }

        internal void RaiseValueChanged(PinValueChangedEventArgs args)
        {
            var handler = ValueChanged;
            if (handler != null)
            {
                handler(this, args);
            }
        }
    }
}
