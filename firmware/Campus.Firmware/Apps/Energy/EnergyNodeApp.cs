using System;
using Campus.Firmware.Common;
using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Apps.Energy
{
    /// <summary>The sensors an energy/environment node has; any may be absent (null / -1).</summary>
    internal sealed class EnergyNodeHardware
    {
        public Ina219? Ina219 { get; set; }
        public Pzem004t? Pzem { get; set; }

        /// <summary>The UART of the PZEM-004T; opened at start when it is not open yet.</summary>
        public SerialPort? PzemPort { get; set; }
        public Sht31? Sht31 { get; set; }
        public GpioController? Gpio { get; set; }

        /// <summary>PIR output, high while motion is seen; -1 when the node has no PIR.</summary>
        public int PirPin { get; set; } = -1;

        /// <summary>Tamper switch, low while the lid is closed; -1 when there is none.</summary>
        public int TamperPin { get; set; } = -1;
    }

    /// <summary>
    /// Energy / environment node (kinds <c>energy</c> and <c>env</c>): power from an INA219
    /// (energy integrated on the device into a kWh counter kept in flash) or a PZEM-004T meter
    /// (its own energy register), temperature and humidity from an SHT31, occupancy from a PIR.
    /// Samples every second and sends <c>telemetry</c> through delta, throttle and heartbeat
    /// filters (<c>deltaW</c>, <c>deltaC</c>, <c>throttleS</c>, <c>publishS</c> from <c>config</c>).
    /// </summary>
    internal sealed class EnergyNodeApp : DeviceApp
    {
        public const int SampleMs = 1000;
        public const int ClimateEveryMs = 5000;

        private readonly EnergyNodeHardware _hardware;
        private readonly EnergyCounter _counter;
        private readonly ReportFilter _filter = new ReportFilter();
        private readonly object _sync = new object();

        private string _meter = "";
        private double _deltaW = 10;
        private double _deltaC = 0.5;
        private double _deltaPct = 3;
        private long _nextSampleMs;
        private long _nextClimateMs;
        private bool _pirOpen;
        private bool _tamperOpen;
        private bool _tamperState;
        private bool _tamperKnown;

        // Latest sample (NaN = not measured) and the values in the last report.
        private double _powerW = double.NaN;
        private double _voltageV = double.NaN;
        private double _currentA = double.NaN;
        private double _powerFactor = double.NaN;
        private double _energyKwh = double.NaN;
        private double _temperatureC = double.NaN;
        private double _humidityPct = double.NaN;
        private int _occupied = -1;
        private double _reportedPowerW = double.NaN;
        private double _reportedTemperatureC = double.NaN;
        private double _reportedHumidityPct = double.NaN;
        private int _reportedOccupied = -1;

        public EnergyNodeApp(DeviceRuntime runtime, EnergyNodeHardware hardware)
            : base(runtime)
        {
            _hardware = hardware;
            _counter = new EnergyCounter(runtime.Store);
            _filter.ThrottleMs = 5000;
            _filter.HeartbeatMs = 60000;
            _meter = hardware.Pzem != null ? "pzem" : (hardware.Ina219 != null ? "ina219" : "none");
        }

        /// <summary>"ina219", "pzem" or "none".</summary>
        public string Meter
        {
            get { return _meter; }
        }

        public double EnergyKwh
        {
            get { lock (_sync) return CounterInUse ? _counter.Kwh : _energyKwh; }
        }

        public int Reports
        {
            get { return _filter.Reports; }
        }

        /// <summary>Samples whose change the throttle held back.</summary>
        public int Throttled
        {
            get { return _filter.Throttled; }
        }

        /// <summary>Sensor reads that failed.</summary>
        public int SensorErrors { get; private set; }

        private bool CounterInUse
        {
            get { return _meter == "ina219"; }
        }

        protected override void OnStarting()
        {
            if (_hardware.Ina219 != null)
            {
                try
                {
                    _hardware.Ina219.Initialize();
                }
                catch (DriverException)
                {
                    SensorErrors++;
                }
            }
            if (_hardware.PzemPort != null && !_hardware.PzemPort.IsOpen) _hardware.PzemPort.Open();
            GpioController? gpio = _hardware.Gpio;
            if (gpio != null)
            {
                if (_hardware.PirPin >= 0)
                {
                    gpio.OpenPin(_hardware.PirPin, PinMode.Input);
                    _pirOpen = true;
                }
                if (_hardware.TamperPin >= 0)
                {
                    gpio.OpenPin(_hardware.TamperPin, PinMode.Input); // external pull-up
                    _tamperOpen = true;
                }
            }
        }

        protected override void OnStopped()
        {
            lock (_sync)
            {
                if (CounterInUse) _counter.Save(Runtime.Clock.TickCountMs);
            }
            GpioController? gpio = _hardware.Gpio;
            if (gpio != null)
            {
                if (_pirOpen) gpio.ClosePin(_hardware.PirPin);
                if (_tamperOpen) gpio.ClosePin(_hardware.TamperPin);
            }
            _pirOpen = false;
            _tamperOpen = false;
        }

        public override bool OnCommand(string name, JsonNode command, CommandReply reply, bool replay)
        {
            if (name != "config") return false;
            lock (_sync)
            {
                _filter.HeartbeatMs = ReadInt(command, "publishS", 1, 86400, _filter.HeartbeatMs / 1000, reply) * 1000;
                _filter.ThrottleMs = ReadInt(command, "throttleS", 0, 86400, _filter.ThrottleMs / 1000, reply) * 1000;
                _deltaW = ReadNumber(command, "deltaW", 0, 1000000, _deltaW, reply);
                _deltaC = ReadNumber(command, "deltaC", 0, 100, _deltaC, reply);
                _deltaPct = ReadNumber(command, "deltaPct", 0, 100, _deltaPct, reply);
                string meter = command.Get("meter").AsString("");
                if (meter.Length > 0)
                {
                    if (meter == "ina219" && _hardware.Ina219 != null) _meter = meter;
                    else if (meter == "pzem" && _hardware.Pzem != null) _meter = meter;
                    else reply.Fail("meter must be one the node has: " + (_hardware.Ina219 != null ? "ina219 " : "") + (_hardware.Pzem != null ? "pzem" : ""));
                }
            }
            return true;
        }

        public override void OnTick(long nowMs)
        {
            if (nowMs < _nextSampleMs) return;
            _nextSampleMs = nowMs + SampleMs;
            lock (_sync)
            {
                SampleMeter(nowMs);
                if (nowMs >= _nextClimateMs)
                {
                    _nextClimateMs = nowMs + ClimateEveryMs;
                    SampleClimate();
                }
                SampleInputs();
                bool changed = ReportFilter.Moved(_powerW, _reportedPowerW, _deltaW)
                    || ReportFilter.Moved(_temperatureC, _reportedTemperatureC, _deltaC)
                    || ReportFilter.Moved(_humidityPct, _reportedHumidityPct, _deltaPct)
                    || _occupied != _reportedOccupied;
                if (_filter.Due(nowMs, changed)) Report(nowMs);
            }
        }

        private void SampleMeter(long nowMs)
        {
            try
            {
                if (_meter == "ina219" && _hardware.Ina219 != null)
                {
                    Ina219Reading reading = _hardware.Ina219.Read();
                    _powerW = reading.PowerW;
                    _voltageV = reading.BusVoltageV;
                    _currentA = reading.CurrentA;
                    _powerFactor = double.NaN;
                    _counter.AddSample(reading.PowerW, nowMs);
                    _energyKwh = _counter.Kwh;
                }
                else if (_meter == "pzem" && _hardware.Pzem != null)
                {
                    PzemReading reading = _hardware.Pzem.Read();
                    _powerW = reading.PowerW;
                    _voltageV = reading.VoltageV;
                    _currentA = reading.CurrentA;
                    _powerFactor = reading.PowerFactor;
                    _energyKwh = reading.EnergyWh / 1000.0;
                }
            }
            catch (Exception)
            {
                // Driver errors and UART timeouts alike: count, drop the values, keep sampling.
                SensorErrors++;
                _counter.Break();
                _powerW = double.NaN;
                _voltageV = double.NaN;
                _currentA = double.NaN;
                _powerFactor = double.NaN;
            }
        }

        private void SampleClimate()
        {
            if (_hardware.Sht31 == null) return;
            try
            {
                Sht31Measurement m = _hardware.Sht31.Measure();
                _temperatureC = m.TemperatureC;
                _humidityPct = m.HumidityPct;
            }
            catch (DriverException)
            {
                SensorErrors++;
                _temperatureC = double.NaN;
                _humidityPct = double.NaN;
            }
        }

        private void SampleInputs()
        {
            GpioController? gpio = _hardware.Gpio;
            if (gpio == null) return;
            if (_pirOpen) _occupied = gpio.Read(_hardware.PirPin) == PinValue.High ? 1 : 0;
            if (_tamperOpen)
            {
                bool open = gpio.Read(_hardware.TamperPin) == PinValue.High;
                if (!_tamperKnown || open != _tamperState)
                {
                    // The first reading is reported only when the lid is already open.
                    if (_tamperKnown || open)
                    {
                        JsonWriter members = new JsonWriter();
                        members.Member("state", open ? "open" : "closed");
                        Runtime.PublishEvent("tamper", members);
                    }
                    _tamperKnown = true;
                    _tamperState = open;
                }
            }
        }

        private void Report(long nowMs)
        {
            JsonWriter members = new JsonWriter();
            if (!double.IsNaN(_energyKwh)) members.Member("energyKwh", _energyKwh, 6);
            if (!double.IsNaN(_powerW)) members.Member("powerW", _powerW, 2);
            if (!double.IsNaN(_voltageV)) members.Member("voltageV", _voltageV, 2);
            if (!double.IsNaN(_currentA)) members.Member("currentA", _currentA, 3);
            if (!double.IsNaN(_powerFactor)) members.Member("powerFactor", _powerFactor, 2);
            if (!double.IsNaN(_temperatureC)) members.Member("temperatureC", _temperatureC, 2);
            if (!double.IsNaN(_humidityPct)) members.Member("humidityPct", Clamp(_humidityPct, 0, 100), 1);
            if (_occupied >= 0) members.Member("occupied", _occupied == 1);
            Runtime.PublishTelemetry(members);
            _filter.Reported(nowMs);
            _reportedPowerW = _powerW;
            _reportedTemperatureC = _temperatureC;
            _reportedHumidityPct = _humidityPct;
            _reportedOccupied = _occupied;
        }

        private static double Clamp(double value, double min, double max)
        {
            return value < min ? min : (value > max ? max : value);
        }
    }
}
