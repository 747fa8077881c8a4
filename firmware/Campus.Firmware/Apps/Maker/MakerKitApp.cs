using System;
using System.Text;
using Campus.Firmware.Common;
using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Apps.Maker
{
    /// <summary>What a maker kit can read: analog inputs, GPIO and an SHT31 on its I2C bus.</summary>
    internal sealed class MakerKitHardware
    {
        public AdcController? Adc { get; set; }
        public GpioController? Gpio { get; set; }
        public Sht31? Sht31 { get; set; }
    }

    /// <summary>
    /// Maker kit: students describe their kit with the <c>config</c> command (sensors and rules);
    /// the kit publishes its readings as <c>telemetry</c> every <c>publishS</c> with the project id,
    /// and <c>milestone</c> events: <c>first-data</c> (first reading of a project), <c>sensor-added</c>
    /// (a sensor name the kit has not had before) and <c>rule-triggered</c> (a reading rises above a rule).
    /// </summary>
    internal sealed class MakerKitApp : DeviceApp
    {
        /// <summary>An SHT31 sensor named N reports N (temperature, °C) and N + this (relative humidity, %).</summary>
        public const string HumiditySuffix = "Humidity";

        private const string KnownSensorsKey = "maker.sensors";
        private const string FirstDataKey = "maker.first";

        private readonly MakerKitHardware _hardware;
        private readonly object _sync = new object();
        private MakerConfig _config = MakerConfig.Empty;
        private AdcChannel[] _channels = new AdcChannel[0];
        private int[] _openPins = new int[0];
        private int _publishMs = 10000;
        private long _nextPublishMs;
        private bool _configured;

        public MakerKitApp(DeviceRuntime runtime, MakerKitHardware hardware)
            : base(runtime)
        {
            _hardware = hardware;
        }

        public MakerConfig Config
        {
            get { lock (_sync) return _config; }
        }

        /// <summary>Sensor reads that failed.</summary>
        public int SensorErrors { get; private set; }

        public override bool OnCommand(string name, JsonNode command, CommandReply reply, bool replay)
        {
            if (name != "config") return false;
            lock (_sync)
            {
                _publishMs = ReadInt(command, "publishS", 1, 86400, _publishMs / 1000, reply) * 1000;
                if (!command.Has("sensors") && !command.Has("rules") && !command.Has("project")) return true;
                MakerConfig next;
                try
                {
                    next = MakerConfig.Parse(command, _config);
                    CheckHardware(next);
                }
                catch (ArgumentException e)
                {
                    reply.Fail(e.Message);
                    return true;
                }
                CarryRuleState(_config, next);
                try
                {
                    ApplySensors(next);
                }
                catch (Exception e)
                {
                    ReleaseSensors();
                    _config = MakerConfig.Empty;
                    _configured = false;
                    reply.Fail("sensors could not be opened: " + e.Message);
                    return true;
                }
                _config = next;
                _configured = next.Sensors.Length > 0 && next.Project.Length > 0;
                _nextPublishMs = 0; // first reading right away
                if (next.Project.Length > 0) AnnounceNewSensors(next);
            }
            return true;
        }

        public override void OnTick(long nowMs)
        {
            lock (_sync)
            {
                if (!_configured || nowMs < _nextPublishMs) return;
                _nextPublishMs = nowMs + _publishMs;
                Publish();
            }
        }

        protected override void OnStopped()
        {
            lock (_sync) ReleaseSensors();
        }

        private void Publish()
        {
            MakerSensor[] sensors = _config.Sensors;
            string[] names = new string[sensors.Length * 2];
            double[] values = new double[sensors.Length * 2];
            int count = 0;
            for (int i = 0; i < sensors.Length; i++)
            {
                MakerSensor s = sensors[i];
                try
                {
                    if (s.Type == "adc")
                    {
                        names[count] = s.Name;
                        values[count++] = _channels[i].ReadValue();
                    }
                    else if (s.Type == "digital" && _hardware.Gpio != null)
                    {
                        names[count] = s.Name;
                        values[count++] = _hardware.Gpio.Read(s.Pin) == PinValue.High ? 1 : 0;
                    }
                    else if (s.Type == "sht31" && _hardware.Sht31 != null)
                    {
                        Sht31Measurement m = _hardware.Sht31.Measure();
                        names[count] = s.Name;
                        values[count++] = Round(m.TemperatureC, 2);
                        names[count] = s.Name + HumiditySuffix;
                        values[count++] = Round(m.HumidityPct, 1);
                    }
                }
                catch (DriverException)
                {
                    SensorErrors++;
                }
            }
            if (count == 0) return;

            JsonWriter members = new JsonWriter();
            members.Member("project", _config.Project);
            members.Name("readings").BeginObject();
            for (int i = 0; i < count; i++) members.Member(names[i], values[i], 3);
            members.EndObject();
            Runtime.PublishTelemetry(members);

            if (Runtime.Store.ReadString(FirstDataKey, "") != _config.Project)
            {
                Runtime.Store.WriteString(FirstDataKey, _config.Project);
                Milestone("first-data", names[0] + "=" + Number(values[0]));
            }
            CheckRules(names, values, count);
        }

        private void CheckRules(string[] names, double[] values, int count)
        {
            MakerRule[] rules = _config.Rules;
            for (int r = 0; r < rules.Length; r++)
            {
                MakerRule rule = rules[r];
                for (int i = 0; i < count; i++)
                {
                    if (names[i] != rule.Sensor) continue;
                    bool above = values[i] > rule.Above;
                    if (above && !rule.WasAbove)
                    {
                        Milestone("rule-triggered", rule.Sensor + " above " + Number(rule.Above) + " (" + Number(values[i]) + ")");
                    }
                    rule.WasAbove = above;
                }
            }
        }

        private void Milestone(string milestone, string detail)
        {
            JsonWriter members = new JsonWriter();
            members.Member("project", _config.Project);
            members.Member("milestone", milestone);
            members.Member("detail", detail);
            Runtime.PublishEvent("milestone", members);
        }

        private void AnnounceNewSensors(MakerConfig config)
        {
            string known = "," + Runtime.Store.ReadString(KnownSensorsKey, "") + ",";
            StringBuilder all = new StringBuilder(known.Trim(','));
            bool changed = false;
            for (int i = 0; i < config.Sensors.Length; i++)
            {
                string name = config.Sensors[i].Name;
                if (known.IndexOf("," + name + ",") >= 0) continue;
                if (all.Length > 0) all.Append(',');
                all.Append(name);
                known = known + name + ",";
                changed = true;
                Milestone("sensor-added", name + " (" + config.Sensors[i].Type + ")");
            }
            if (changed) Runtime.Store.WriteString(KnownSensorsKey, all.ToString());
        }

        private void CheckHardware(MakerConfig config)
        {
            for (int i = 0; i < config.Sensors.Length; i++)
            {
                MakerSensor s = config.Sensors[i];
                bool present = (s.Type == "adc" && _hardware.Adc != null)
                    || (s.Type == "digital" && _hardware.Gpio != null)
                    || (s.Type == "sht31" && _hardware.Sht31 != null);
                if (!present) throw new ArgumentException("sensors[" + i.ToString() + "]: the kit has no " + s.Type + " input");
            }
        }

        private static void CarryRuleState(MakerConfig previous, MakerConfig next)
        {
            for (int i = 0; i < next.Rules.Length; i++)
            {
                for (int j = 0; j < previous.Rules.Length; j++)
                {
                    if (previous.Rules[j].Sensor == next.Rules[i].Sensor && previous.Rules[j].Above == next.Rules[i].Above)
                    {
                        next.Rules[i].WasAbove = previous.Rules[j].WasAbove;
                    }
                }
            }
        }

        private void ApplySensors(MakerConfig next)
        {
            ReleaseSensors();
            AdcChannel[] channels = new AdcChannel[next.Sensors.Length];
            int[] pins = new int[next.Sensors.Length];
            int openPins = 0;
            for (int i = 0; i < next.Sensors.Length; i++)
            {
                MakerSensor s = next.Sensors[i];
                if (s.Type == "adc")
                {
                    if (_hardware.Adc != null) channels[i] = _hardware.Adc.OpenChannel(Esp32AdcChannels.ChannelForGpio(s.Pin));
                }
                else if (s.Type == "digital" && _hardware.Gpio != null)
                {
                    if (!_hardware.Gpio.IsPinOpen(s.Pin))
                    {
                        _hardware.Gpio.OpenPin(s.Pin, PinMode.Input);
                        pins[openPins++] = s.Pin;
                    }
                }
            }
            _channels = channels;
            int[] opened = new int[openPins];
            Array.Copy(pins, opened, openPins);
            _openPins = opened;
        }

        private void ReleaseSensors()
        {
            for (int i = 0; i < _channels.Length; i++)
            {
                if (_channels[i] != null) _channels[i].Dispose();
            }
            _channels = new AdcChannel[0];
            if (_hardware.Gpio != null)
            {
                for (int i = 0; i < _openPins.Length; i++) _hardware.Gpio.ClosePin(_openPins[i]);
            }
            _openPins = new int[0];
        }

        private static double Round(double value, int decimals)
        {
            double scale = 1;
            for (int i = 0; i < decimals; i++) scale *= 10;
            return Math.Round(value * scale) / scale;
        }

        private static string Number(double value)
        {
            StringBuilder text = new StringBuilder();
            JsonWriter.AppendNumber(text, value, 3);
            return text.ToString();
        }
    }
}
