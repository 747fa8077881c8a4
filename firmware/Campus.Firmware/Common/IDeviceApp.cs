namespace Campus.Firmware.Common
{
    /// <summary>The answer an app gives to a command; acknowledged on <c>cmd/{name}/ack</c>.</summary>
    internal sealed class CommandReply
    {
        private bool _ok = true;
        private string _error = "";

        public bool Ok
        {
            get { return _ok; }
        }

        /// <summary>Why the command failed; "" when it succeeded.</summary>
        public string Error
        {
            get { return _error; }
        }

        public void Fail(string error)
        {
            _ok = false;
            _error = error;
        }
    }

    /// <summary>A device application running on the <see cref="DeviceRuntime"/>.</summary>
    internal interface IDeviceApp
    {
        /// <summary>
        /// Handles a command. <paramref name="replay"/> is true when a retained command saved in the
        /// store is applied again at boot (it was acknowledged before; no ack is sent). Returns false
        /// for a command the app does not know (acknowledged with an error).
        /// Runs on the runtime's command thread: do not block for long.
        /// </summary>
        bool OnCommand(string name, JsonNode command, CommandReply reply, bool replay);

        /// <summary>Called from the main loop every tick (about <see cref="DeviceSettings.TickMs"/>).</summary>
        void OnTick(long nowMs);

        /// <summary>Called on the network thread after each successful connect and subscribe.</summary>
        void OnConnected();
    }
}
