using System;

namespace Campus.Firmware.Common
{
    /// <summary>
    /// Base of the device applications: owns the <see cref="DeviceRuntime"/> and gives every app
    /// the same life cycle. On a board <c>Main</c> calls <see cref="Run"/>, which never returns;
    /// the simulators call <see cref="Start"/> and <see cref="Stop(bool)"/>.
    /// </summary>
    internal abstract class DeviceApp : IDeviceApp
    {
        protected DeviceApp(DeviceRuntime runtime)
        {
            if (runtime == null) throw new ArgumentNullException("runtime");
            Runtime = runtime;
        }

        public DeviceRuntime Runtime { get; private set; }

        /// <summary>Starts the runtime and the app's own threads, then returns.</summary>
        public void Start()
        {
            OnStarting();
            Runtime.Start(this);
            OnStarted();
        }

        /// <summary>Starts and blocks for as long as the device runs.</summary>
        public void Run()
        {
            Start();
            Runtime.WaitUntilStopped();
        }

        /// <summary>Stops with a clean MQTT disconnect.</summary>
        public void Stop()
        {
            Stop(true);
        }

        /// <summary>Stops; without <paramref name="graceful"/> the link just drops (like a power cut) and the will is published.</summary>
        public void Stop(bool graceful)
        {
            OnStopping();
            Runtime.Stop(graceful);
            OnStopped();
        }

        public abstract bool OnCommand(string name, JsonNode command, CommandReply reply, bool replay);

        public virtual void OnTick(long nowMs)
        {
        }

        public virtual void OnConnected()
        {
        }

        /// <summary>Before the runtime starts (and before saved retained commands are applied).</summary>
        protected virtual void OnStarting()
        {
        }

        /// <summary>After the runtime started: start the app's own threads here.</summary>
        protected virtual void OnStarted()
        {
        }

        /// <summary>Before the runtime stops: stop the app's own threads here.</summary>
        protected virtual void OnStopping()
        {
        }

        protected virtual void OnStopped()
        {
        }

        /// <summary>
        /// Reads an optional whole-number setting of a command: absent keeps <paramref name="current"/>,
        /// out of range fails the reply (naming the field) and keeps <paramref name="current"/>.
        /// </summary>
        protected static int ReadInt(JsonNode command, string name, int min, int max, int current, CommandReply reply)
        {
            JsonNode node = command.Get(name);
            if (node.IsMissing) return current;
            int value = node.AsInt(int.MinValue);
            if (value == int.MinValue || value < min || value > max)
            {
                reply.Fail(name + " must be a whole number from " + min.ToString() + " to " + max.ToString());
                return current;
            }
            return value;
        }

        /// <summary>Reads an optional number setting; see <see cref="ReadInt"/>.</summary>
        protected static double ReadNumber(JsonNode command, string name, double min, double max, double current, CommandReply reply)
        {
            JsonNode node = command.Get(name);
            if (node.IsMissing) return current;
            double value = node.AsNumber(double.NaN);
            if (double.IsNaN(value) || value < min || value > max)
            {
                reply.Fail(name + " must be a number from " + Text(min) + " to " + Text(max));
                return current;
            }
            return value;
        }

        private static string Text(double value)
        {
            System.Text.StringBuilder text = new System.Text.StringBuilder();
            JsonWriter.AppendNumber(text, value, 3);
            return text.ToString();
        }
    }
}
