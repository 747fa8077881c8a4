namespace Campus.Firmware.Common
{
    /// <summary>
    /// What a device knows about itself at boot: identity, credentials, network and defaults. On a
    /// board these come from the provisioning data in flash; the simulators fill them in.
    /// </summary>
    internal sealed class DeviceSettings
    {
        public string School = "";
        public string Room = "";
        public string Kind = "";
        public string DeviceId = "";

        /// <summary>The MQTT password issued by the controller.</summary>
        public string Password = "";

        /// <summary>The device's HMAC key (32 bytes) for signed events.</summary>
        public byte[] HmacKey = new byte[0];

        public string FirmwareVersion = "1.0.0";
        public string WifiSsid = "";
        public string WifiPassword = "";
        public int WifiTimeoutMs = 15000;

        public ushort KeepAliveS = 30;

        /// <summary>Messages kept while the link is down; the oldest is dropped beyond this.</summary>
        public int OutboxCapacity = 64;

        /// <summary>Messages published and not yet acknowledged by the broker at any time.</summary>
        public int InFlightWindow = 8;

        public int HeartbeatS = 60;

        /// <summary>First and largest wait between reconnect attempts (doubling in between).</summary>
        public int BackoffMinMs = 1000;
        public int BackoffMaxMs = 60000;

        public int WatchdogTimeoutMs = 30000;

        /// <summary>Period of the main loop (watchdog, heartbeat, the app's tick).</summary>
        public int TickMs = 100;

        /// <summary>Largest command document accepted: the contract allows commands of up to
        /// 64 KiB, so that a school-sized allow-list fits in one retained message.</summary>
        public int MaxCommandBytes = 65536;
    }
}
