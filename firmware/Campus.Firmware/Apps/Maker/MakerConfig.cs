using Campus.Firmware.Common;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Apps.Maker
{
    /// <summary>One sensor of a maker kit's configuration.</summary>
    internal sealed class MakerSensor
    {
        public MakerSensor(string name, string type, int pin)
        {
            Name = name;
            Type = type;
            Pin = pin;
        }

        public string Name { get; private set; }

        /// <summary>"adc", "digital" or "sht31".</summary>
        public string Type { get; private set; }

        public int Pin { get; private set; }
    }

    /// <summary>A rule: a sensor's reading above a threshold.</summary>
    internal sealed class MakerRule
    {
        public MakerRule(string sensor, double above)
        {
            Sensor = sensor;
            Above = above;
        }

        public string Sensor { get; private set; }

        public double Above { get; private set; }

        /// <summary>Whether the last reading was above (for the rising edge).</summary>
        internal bool WasAbove;
    }

    /// <summary>
    /// The kit's configuration from the <c>config</c> command: <c>project</c>, <c>sensors</c>
    /// (name, type adc/digital/sht31, pin) and <c>rules</c> (sensor above threshold).
    /// </summary>
    internal sealed class MakerConfig
    {
        public const int MaxSensors = 16;

        public static readonly MakerConfig Empty = new MakerConfig("", new MakerSensor[0], new MakerRule[0]);

        private MakerConfig(string project, MakerSensor[] sensors, MakerRule[] rules)
        {
            Project = project;
            Sensors = sensors;
            Rules = rules;
        }

        public string Project { get; private set; }

        public MakerSensor[] Sensors { get; private set; }

        public MakerRule[] Rules { get; private set; }

        public MakerSensor? Find(string name)
        {
            for (int i = 0; i < Sensors.Length; i++)
            {
                if (Sensors[i].Name == name) return Sensors[i];
            }
            return null;
        }

        /// <summary>
        /// Reads the maker part of a config command, starting from <paramref name="current"/> for
        /// what the command leaves out; throws <see cref="System.ArgumentException"/> naming the first bad field.
        /// </summary>
        public static MakerConfig Parse(JsonNode command, MakerConfig current)
        {
            string project = current.Project;
            JsonNode projectNode = command.Get("project");
            if (!projectNode.IsMissing)
            {
                project = projectNode.AsString("");
                if (project.Length == 0 || project.Length > 64) throw new System.ArgumentException("project must be a string of 1-64 characters");
            }
            MakerSensor[] sensors = current.Sensors;
            JsonNode sensorsNode = command.Get("sensors");
            if (!sensorsNode.IsMissing)
            {
                if (!sensorsNode.IsArray || sensorsNode.Count > MaxSensors) throw new System.ArgumentException("sensors must be an array of at most " + MaxSensors.ToString() + " sensors");
                sensors = new MakerSensor[sensorsNode.Count];
                for (int i = 0; i < sensors.Length; i++)
                {
                    JsonNode s = sensorsNode.At(i);
                    string at = "sensors[" + i.ToString() + "]";
                    string name = s.Get("name").AsString("");
                    if (!IsName(name)) throw new System.ArgumentException(at + ".name must be 1-32 letters, digits, '_' or '-'");
                    for (int j = 0; j < i; j++)
                    {
                        if (sensors[j].Name == name) throw new System.ArgumentException(at + ".name '" + name + "' is used twice");
                    }
                    string type = s.Get("type").AsString("");
                    int pin = s.Get("pin").AsInt(-1);
                    if (type == "adc")
                    {
                        if (Esp32AdcChannels.ChannelForGpio(pin) < 0) throw new System.ArgumentException(at + ".pin " + pin.ToString() + " has no ADC channel");
                    }
                    else if (type == "digital")
                    {
                        if (pin < 0 || pin > 48) throw new System.ArgumentException(at + ".pin must be a GPIO number");
                    }
                    else if (type != "sht31")
                    {
                        throw new System.ArgumentException(at + ".type must be adc, digital or sht31");
                    }
                    sensors[i] = new MakerSensor(name, type, pin);
                }
            }
            MakerRule[] rules = current.Rules;
            JsonNode rulesNode = command.Get("rules");
            if (!rulesNode.IsMissing)
            {
                if (!rulesNode.IsArray) throw new System.ArgumentException("rules must be an array");
                rules = new MakerRule[rulesNode.Count];
                for (int i = 0; i < rules.Length; i++)
                {
                    JsonNode r = rulesNode.At(i);
                    string sensor = r.Get("sensor").AsString("");
                    double above = r.Get("above").AsNumber(double.NaN);
                    if (sensor.Length == 0 || double.IsNaN(above)) throw new System.ArgumentException("rules[" + i.ToString() + "] needs sensor and above (a number)");
                    rules[i] = new MakerRule(sensor, above);
                }
            }
            MakerConfig config = new MakerConfig(project, sensors, rules);
            for (int i = 0; i < rules.Length; i++)
            {
                if (!config.HasReading(rules[i].Sensor)) throw new System.ArgumentException("rules[" + i.ToString() + "].sensor '" + rules[i].Sensor + "' is not a configured sensor");
            }
            return config;
        }

        /// <summary>True when a reading of that name comes from a configured sensor.</summary>
        public bool HasReading(string reading)
        {
            for (int i = 0; i < Sensors.Length; i++)
            {
                MakerSensor s = Sensors[i];
                if (s.Name == reading) return true;
                if (s.Type == "sht31" && s.Name + MakerKitApp.HumiditySuffix == reading) return true;
            }
            return false;
        }

        private static bool IsName(string name)
        {
            if (name.Length < 1 || name.Length > 32) return false;
            for (int i = 0; i < name.Length; i++)
            {
                char c = name[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                if (!ok) return false;
            }
            return true;
        }
    }
}
