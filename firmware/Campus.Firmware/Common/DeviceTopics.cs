namespace Campus.Firmware.Common
{
    /// <summary>
    /// The topics of one device: <c>campus/v1/{school}/{room}/{kind}/{device}/{stream}</c>.
    /// Built once at start so publishing allocates no topic strings.
    /// </summary>
    internal sealed class DeviceTopics
    {
        public const string Root = "campus/v1";

        public DeviceTopics(string school, string room, string kind, string device)
        {
            CheckIdentifier(school, "school");
            CheckIdentifier(room, "room");
            CheckKind(kind);
            CheckIdentifier(device, "device");
            School = school;
            Room = room;
            Kind = kind;
            Device = device;
            Base = Root + "/" + school + "/" + room + "/" + kind + "/" + device;
            Telemetry = Base + "/telemetry";
            Status = Base + "/status";
            Event = Base + "/event";
            CommandFilter = Base + "/cmd/+";
            CommandPrefix = Base + "/cmd/";
        }

        public string School { get; private set; }
        public string Room { get; private set; }
        public string Kind { get; private set; }
        public string Device { get; private set; }
        public string Base { get; private set; }
        public string Telemetry { get; private set; }
        public string Status { get; private set; }
        public string Event { get; private set; }

        /// <summary>The device's subscription: <c>…/cmd/+</c>.</summary>
        public string CommandFilter { get; private set; }

        /// <summary><c>…/cmd/</c>, the prefix of every command topic of this device.</summary>
        public string CommandPrefix { get; private set; }

        public string Command(string name)
        {
            return CommandPrefix + name;
        }

        public string Ack(string name)
        {
            return CommandPrefix + name + "/ack";
        }

        /// <summary>The command name of a topic <c>…/cmd/{name}</c> of this device, or "" for any other topic.</summary>
        public string CommandName(string topic)
        {
            if (topic == null || topic.Length <= CommandPrefix.Length) return "";
            if (topic.Substring(0, CommandPrefix.Length) != CommandPrefix) return "";
            string name = topic.Substring(CommandPrefix.Length);
            return name.IndexOf('/') >= 0 ? "" : name;
        }

        /// <summary>True for 1–32 characters of a-z, 0-9 and '-', starting with a letter or digit.</summary>
        public static bool IsIdentifier(string value)
        {
            if (value == null || value.Length < 1 || value.Length > 32) return false;
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
                if (!ok) return false;
            }
            return true;
        }

        public static bool IsKind(string kind)
        {
            return kind == "energy" || kind == "env" || kind == "door" || kind == "sign" || kind == "maker";
        }

        private static void CheckIdentifier(string value, string what)
        {
            if (!IsIdentifier(value))
                throw new System.ArgumentException(what + " '" + value + "' must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit", what);
        }

        private static void CheckKind(string kind)
        {
            if (!IsKind(kind))
                throw new System.ArgumentException("kind '" + kind + "' must be one of energy, env, door, sign, maker", "kind");
        }
    }
}
