using System;
using System.Text;
using System.Threading;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Common
{
    /// <summary>
    /// What every Campus device does besides its own job: Wi-Fi and MQTT with reconnect and
    /// exponential backoff, the last will and the online status (at connect and as heartbeat),
    /// the boot counter and per-boot sequence numbers, the bounded outbox that keeps messages
    /// while offline, commands (dispatched to the app and acknowledged once per id), retained
    /// commands kept in the store and applied again at boot, and the watchdog.
    /// Three threads: network (connect and send), commands, and the main loop (watchdog,
    /// heartbeat, the app's tick). All waiting for time goes through the <see cref="Clock"/> port.
    /// </summary>
    internal sealed class DeviceRuntime
    {
        /// <summary>The last will, written at connect time: no boot/seq (contract).</summary>
        public const string OfflineWill = "{\"v\":1,\"state\":\"offline\"}";

        private const string BootKey = "boot";
        private const int AckMemory = 32;
        private const int CommandQueueSize = 16;

        private static readonly string[] RetainedCommands = { "config", "lockdown", "allowlist", "timetable", "notices" };

        private readonly DeviceSettings _settings;
        private readonly Clock _clock;
        private readonly NonVolatileStore _store;
        private readonly Watchdog _watchdog;
        private readonly WifiNetwork _wifi;
        private readonly MqttClient _mqtt;
        private readonly DeviceTopics _topics;
        private readonly Outbox _outbox;
        private readonly EventSigner _signer;
        private readonly bool _signEvents;
        private readonly object _publishLock = new object();
        private readonly AutoResetEvent _sendSignal = new AutoResetEvent(false);
        private readonly AutoResetEvent _commandSignal = new AutoResetEvent(false);
        private readonly ManualResetEvent _stopped = new ManualResetEvent(false);
        private readonly Random _jitter;

        // Commands received, waiting for the command thread (ring).
        private readonly string[] _commandNames = new string[CommandQueueSize];
        private readonly byte[][] _commandPayloads = new byte[CommandQueueSize][];
        private readonly bool[] _commandRetained = new bool[CommandQueueSize];
        private int _commandHead;
        private int _commandCount;
        private bool _handlingCommand;

        // Ids acknowledged recently (ring) — a command is acknowledged once per id.
        private readonly string[] _ackedIds = new string[AckMemory];
        private int _ackedNext;

        // PUBACKs that arrived before Publish returned their message id.
        private readonly ushort[] _earlyAcks = new ushort[16];
        private int _earlyAckCount;

        private IDeviceApp _app = NullApp.Instance;
        private Thread[] _threads = new Thread[0];
        private volatile bool _running;
        private uint _boot;
        private uint _seq;
        private long _startTick;
        private long _lastHeartbeat;
        private int _heartbeatS;
        private bool _wasConnected;
        private int _connects;
        private int _commandsRejected;
        private string _lastError = "";

        public DeviceRuntime(DeviceSettings settings, Clock clock, NonVolatileStore store, Watchdog watchdog, WifiNetwork wifi, MqttClient mqtt)
        {
            if (settings == null) throw new ArgumentNullException("settings");
            _settings = settings;
            _clock = clock;
            _store = store;
            _watchdog = watchdog;
            _wifi = wifi;
            _mqtt = mqtt;
            _topics = new DeviceTopics(settings.School, settings.Room, settings.Kind, settings.DeviceId);
            _outbox = new Outbox(settings.OutboxCapacity);
            _signEvents = settings.Kind == "door";
            _signer = new EventSigner(settings.DeviceId, settings.HmacKey);
            _heartbeatS = settings.HeartbeatS;
            _jitter = new Random(StableHash(settings.DeviceId));
            for (int i = 0; i < AckMemory; i++) _ackedIds[i] = "";
            for (int i = 0; i < CommandQueueSize; i++)
            {
                _commandNames[i] = "";
                _commandPayloads[i] = new byte[0];
            }
        }

        public DeviceSettings Settings
        {
            get { return _settings; }
        }

        public DeviceTopics Topics
        {
            get { return _topics; }
        }

        public Clock Clock
        {
            get { return _clock; }
        }

        public NonVolatileStore Store
        {
            get { return _store; }
        }

        /// <summary>This start's boot counter (read from the store and incremented at <see cref="Start"/>).</summary>
        public uint Boot
        {
            get { return _boot; }
        }

        public bool IsRunning
        {
            get { return _running; }
        }

        public bool IsConnected
        {
            get { return _running && _wifi.IsConnected && _mqtt.IsConnected; }
        }

        /// <summary>Successful MQTT connects since start.</summary>
        public int Connects
        {
            get { return _connects; }
        }

        /// <summary>Messages dropped from the outbox since boot (oldest first).</summary>
        public long Dropped
        {
            get { return _outbox.Dropped; }
        }

        /// <summary>Messages waiting in the outbox (not yet acknowledged by the broker).</summary>
        public int Pending
        {
            get { return _outbox.Count; }
        }

        /// <summary>Commands received and not yet handled (queued or being handled now).</summary>
        public int CommandsWaiting
        {
            get
            {
                lock (_commandNames) return _commandCount + (_handlingCommand ? 1 : 0);
            }
        }

        /// <summary>Commands rejected: malformed, oversize, unknown version, missing id, or the queue was full.</summary>
        public int CommandsRejected
        {
            get { return _commandsRejected; }
        }

        public int HeartbeatS
        {
            get { return _heartbeatS; }
        }

        /// <summary>The last connection problem, for diagnostics.</summary>
        public string LastError
        {
            get { return _lastError; }
        }

        /// <summary>Counts the boot, applies the saved retained commands and starts the threads.</summary>
        public void Start(IDeviceApp app)
        {
            if (_running) throw new InvalidOperationException("The runtime is already running; stop it first.");
            _app = app;
            _boot = _store.ReadUInt32(BootKey, 0) + 1;
            _store.WriteUInt32(BootKey, _boot);
            _seq = 0;
            _startTick = _clock.TickCountMs;
            _lastHeartbeat = _startTick;
            _stopped.Reset();
            ReplayRetainedCommands();
            _mqtt.MqttMsgPublishReceived += OnMessageReceived;
            _mqtt.MqttMsgPublished += OnMessagePublished;
            _mqtt.ConnectionClosed += OnConnectionClosed;
            _running = true;
            _watchdog.Start(_settings.WatchdogTimeoutMs);
            _threads = new Thread[]
            {
                new Thread(new ThreadStart(NetworkLoop)),
                new Thread(new ThreadStart(CommandLoop)),
                new Thread(new ThreadStart(MainLoop)),
            };
            for (int i = 0; i < _threads.Length; i++) _threads[i].Start();
        }

        /// <summary>
        /// Stops the threads. <paramref name="graceful"/> sends DISCONNECT (the broker discards the
        /// will); otherwise the connection is just dropped, like a power cut, and the will is published.
        /// </summary>
        public void Stop(bool graceful)
        {
            if (!_running) return;
            _running = false;
            _sendSignal.Set();
            _commandSignal.Set();
            for (int i = 0; i < _threads.Length; i++) _threads[i].Join(5000);
            _mqtt.MqttMsgPublishReceived -= OnMessageReceived;
            _mqtt.MqttMsgPublished -= OnMessagePublished;
            _mqtt.ConnectionClosed -= OnConnectionClosed;
            if (graceful && _mqtt.IsConnected)
            {
                try
                {
                    _mqtt.Disconnect();
                }
                catch (MqttCommunicationException)
                {
                    // Already gone: nothing left to close.
                }
            }
            _watchdog.Stop();
            _stopped.Set();
        }

        /// <summary>Blocks until <see cref="Stop"/> (a device never stops).</summary>
        public void WaitUntilStopped()
        {
            _stopped.WaitOne();
        }

        /// <summary>Publishes telemetry: the common fields followed by <paramref name="members"/>.</summary>
        public string PublishTelemetry(JsonWriter members)
        {
            return Publish(_topics.Telemetry, "", members, false, false);
        }

        /// <summary>Publishes an event of <paramref name="type"/>; a door device signs it.</summary>
        public string PublishEvent(string type, JsonWriter members)
        {
            return Publish(_topics.Event, type, members, _signEvents, false);
        }

        /// <summary>Unix milliseconds now, 0 while the clock is not set.</summary>
        public long UnixTimeMs
        {
            get { return _clock.UnixTimeMilliseconds; }
        }

        private string Publish(string topic, string eventType, JsonWriter members, bool sign, bool retain)
        {
            lock (_publishLock)
            {
                // Sequence number and outbox order are taken together so they always agree.
                uint seq = ++_seq;
                JsonWriter document = new JsonWriter();
                document.BeginObject();
                document.Member("v", 1);
                document.Member("boot", _boot);
                document.Member("seq", seq);
                document.Member("ts", _clock.UnixTimeMilliseconds);
                if (eventType.Length > 0) document.Member("type", eventType);
                if (members != null && members.Length > 0) document.Raw(members.ToString());
                document.EndObject();
                string text = document.ToString();
                if (sign) text = _signer.Sign(text);
                _outbox.Enqueue(new OutgoingMessage(topic, Encoding.UTF8.GetBytes(text), retain));
                _sendSignal.Set();
                return text;
            }
        }

        private void PublishStatus()
        {
            JsonWriter members = new JsonWriter();
            members.Member("state", "online");
            members.Member("fw", _settings.FirmwareVersion);
            members.Member("uptimeS", (_clock.TickCountMs - _startTick) / 1000);
            members.Member("rssi", _wifi.Rssi);
            members.Member("dropped", _outbox.Dropped);
            _lastHeartbeat = _clock.TickCountMs;
            Publish(_topics.Status, "", members, false, true);
        }

        private void PublishAck(string name, string id, CommandReply reply)
        {
            JsonWriter members = new JsonWriter();
            members.Member("id", id);
            members.Member("ok", reply.Ok);
            if (reply.Ok) members.Name("error").Null();
            else members.Member("error", reply.Error);
            Publish(_topics.Ack(name), "", members, false, false);
        }

        // ---- network thread ------------------------------------------------------------------

        private void NetworkLoop()
        {
            int backoff = _settings.BackoffMinMs;
            while (_running)
            {
                try
                {
                    NetworkStep(ref backoff);
                }
                catch (Exception e)
                {
                    // A stopped simulation ends a sleep with an exception: leave quietly.
                    if (!_running) return;
                    _lastError = "network: " + e.Message;
                    if (!SleepQuietly(100)) return;
                }
            }
        }

        private void NetworkStep(ref int backoff)
        {
            {
                if (!_wifi.IsConnected)
                {
                    if (!TryJoinWifi())
                    {
                        WaitBackoff(ref backoff);
                        return;
                    }
                }
                if (!_mqtt.IsConnected)
                {
                    if (_wasConnected)
                    {
                        _wasConnected = false;
                        _outbox.ResendUnacknowledged();
                    }
                    if (!TryConnect())
                    {
                        WaitBackoff(ref backoff);
                        return;
                    }
                    backoff = _settings.BackoffMinMs;
                }
                SendPending();
                // Woken at once by a new message, a PUBACK, a lost connection or Stop; the timeout only
                // bounds how long a dropped Wi-Fi goes unnoticed (each timed wake costs every device a
                // thread switch, which adds up in a simulated fleet of hundreds).
                _sendSignal.WaitOne(2000, false);
            }
        }

        /// <summary>Sleeps; false when the clock refuses (a simulation that ended).</summary>
        private bool SleepQuietly(int milliseconds)
        {
            try
            {
                _clock.Sleep(milliseconds);
                return true;
            }
            catch (Exception)
            {
                return false;
            }
        }

        private bool TryJoinWifi()
        {
            try
            {
                if (_wifi.Connect(_settings.WifiSsid, _settings.WifiPassword, _settings.WifiTimeoutMs)) return true;
                _lastError = "wifi: no connection to '" + _settings.WifiSsid + "'";
            }
            catch (Exception e)
            {
                _lastError = "wifi: " + e.Message;
            }
            return false;
        }

        private bool TryConnect()
        {
            try
            {
                MqttReasonCode code = _mqtt.Connect(
                    _settings.DeviceId, _settings.DeviceId, _settings.Password,
                    true, MqttQoS.AtLeastOnce, true, _topics.Status, OfflineWill,
                    true, _settings.KeepAliveS);
                if (code != MqttReasonCode.Success)
                {
                    _lastError = "mqtt: connect refused (" + ((int)code).ToString() + ")";
                    return false;
                }
                _outbox.ResendUnacknowledged();
                ClearEarlyAcks();
                _mqtt.Subscribe(new string[] { _topics.CommandFilter }, new byte[] { MqttQoS.AtLeastOnce });
            }
            catch (Exception e)
            {
                _lastError = "mqtt: " + e.Message;
                return false;
            }
            _wasConnected = true;
            _connects++;
            PublishStatus();
            try
            {
                _app.OnConnected();
            }
            catch (Exception e)
            {
                _lastError = "app: " + e.Message;
            }
            return true;
        }

        private void SendPending()
        {
            OutgoingMessage message;
            while (_running && _mqtt.IsConnected && _outbox.TryTakeNext(_settings.InFlightWindow, out message))
            {
                ushort id;
                // A message handed out before (its PUBACK lost with the link, or the call failed midway)
                // may have reached the broker: it goes again with DUP, which tells the controller this
                // copy of a signed event is a redelivery and not a replay.
                bool again = message.Attempted;
                message.Attempted = true;
                try
                {
                    id = _mqtt.Publish(message.Topic, message.Payload, again, MqttQoS.AtLeastOnce, message.Retain);
                }
                catch (Exception e)
                {
                    // The link broke: the message stays in the outbox and goes out after reconnect.
                    _lastError = "mqtt: " + e.Message;
                    return;
                }
                _outbox.MarkSent(message, id);
                if (TakeEarlyAck(id)) _outbox.Acknowledge(id);
            }
        }

        private void WaitBackoff(ref int backoff)
        {
            // Up to a quarter of jitter so a fleet that lost the broker together does not return together.
            int wait = backoff + _jitter.Next(backoff / 4 + 1);
            long until = _clock.TickCountMs + wait;
            while (_running && _clock.TickCountMs < until)
            {
                _clock.Sleep(50);
            }
            backoff = backoff >= _settings.BackoffMaxMs / 2 ? _settings.BackoffMaxMs : backoff * 2;
        }

        private void OnMessagePublished(object sender, MqttMsgPublishedEventArgs e)
        {
            if (!e.IsPublished) return; // given up: stays in the outbox, sent again after reconnect
            if (!_outbox.Acknowledge(e.MessageId))
            {
                lock (_earlyAcks)
                {
                    if (_earlyAckCount < _earlyAcks.Length) _earlyAcks[_earlyAckCount++] = e.MessageId;
                }
            }
            _sendSignal.Set();
        }

        private bool TakeEarlyAck(ushort id)
        {
            lock (_earlyAcks)
            {
                for (int i = 0; i < _earlyAckCount; i++)
                {
                    if (_earlyAcks[i] != id) continue;
                    _earlyAcks[i] = _earlyAcks[--_earlyAckCount];
                    return true;
                }
                return false;
            }
        }

        private void ClearEarlyAcks()
        {
            lock (_earlyAcks) _earlyAckCount = 0;
        }

        private void OnConnectionClosed(object sender, EventArgs e)
        {
            _sendSignal.Set();
        }

        // ---- commands ------------------------------------------------------------------------

        private void OnMessageReceived(object sender, MqttMsgPublishEventArgs e)
        {
            string name = _topics.CommandName(e.Topic);
            if (name.Length == 0 || e.Message.Length > _settings.MaxCommandBytes)
            {
                Interlocked.Increment(ref _commandsRejected);
                return;
            }
            lock (_commandNames)
            {
                if (_commandCount == CommandQueueSize)
                {
                    Interlocked.Increment(ref _commandsRejected);
                    return;
                }
                int at = (_commandHead + _commandCount) % CommandQueueSize;
                _commandNames[at] = name;
                _commandPayloads[at] = e.Message;
                _commandRetained[at] = e.Retain;
                _commandCount++;
            }
            _commandSignal.Set();
        }

        private void CommandLoop()
        {
            while (_running)
            {
                string name = "";
                byte[] payload = new byte[0];
                bool have = false;
                lock (_commandNames)
                {
                    if (_commandCount > 0)
                    {
                        name = _commandNames[_commandHead];
                        payload = _commandPayloads[_commandHead];
                        _commandPayloads[_commandHead] = new byte[0];
                        _commandHead = (_commandHead + 1) % CommandQueueSize;
                        _commandCount--;
                        _handlingCommand = true;
                        have = true;
                    }
                }
                if (!have)
                {
                    // Woken at once by a received command or Stop.
                    _commandSignal.WaitOne(5000, false);
                    continue;
                }
                try
                {
                    HandleCommand(name, payload);
                }
                catch (Exception e)
                {
                    _lastError = "command '" + name + "': " + e.Message;
                }
                finally
                {
                    lock (_commandNames) _handlingCommand = false;
                }
            }
        }

        private void HandleCommand(string name, byte[] payload)
        {
            JsonNode command;
            try
            {
                command = JsonNode.Parse(payload);
            }
            catch (JsonFormatException)
            {
                Interlocked.Increment(ref _commandsRejected);
                return;
            }
            string id = command.Get("id").AsString("");
            if (!command.IsObject || id.Length == 0)
            {
                // Without an id there is nothing to acknowledge.
                Interlocked.Increment(ref _commandsRejected);
                return;
            }
            bool seen = WasAcknowledged(id);
            if (seen && !IsRetainedCommand(name)) return; // a redelivered copy: handled once already
            CommandReply reply = new CommandReply();
            if (command.Get("v").AsLong(-1) != 1)
            {
                Interlocked.Increment(ref _commandsRejected);
                reply.Fail("unsupported version");
            }
            else
            {
                Dispatch(name, command, reply, false);
            }
            if (reply.Ok && IsRetainedCommand(name)) SaveRetained(name, command);
            // A retained command is applied again at every connect but acknowledged once.
            if (seen) return;
            RememberAcknowledged(id);
            PublishAck(name, id, reply);
        }

        private void Dispatch(string name, JsonNode command, CommandReply reply, bool replay)
        {
            try
            {
                if (name == "config") ApplyConfig(command, reply);
                if (!_app.OnCommand(name, command, reply, replay) && reply.Ok) reply.Fail("unknown command '" + name + "'");
            }
            catch (Exception e)
            {
                reply.Fail("failed: " + e.Message);
            }
        }

        private void ApplyConfig(JsonNode command, CommandReply reply)
        {
            JsonNode heartbeat = command.Get("heartbeatS");
            if (heartbeat.IsMissing) return;
            int seconds = heartbeat.AsInt(-1);
            if (seconds < 1 || seconds > 86400)
            {
                reply.Fail("heartbeatS must be a whole number from 1 to 86400");
                return;
            }
            _heartbeatS = seconds;
        }

        private static bool IsRetainedCommand(string name)
        {
            for (int i = 0; i < RetainedCommands.Length; i++)
            {
                if (RetainedCommands[i] == name) return true;
            }
            return false;
        }

        private bool WasAcknowledged(string id)
        {
            lock (_ackedIds)
            {
                for (int i = 0; i < AckMemory; i++)
                {
                    if (_ackedIds[i] == id) return true;
                }
                return false;
            }
        }

        private void RememberAcknowledged(string id)
        {
            lock (_ackedIds)
            {
                _ackedIds[_ackedNext] = id;
                _ackedNext = (_ackedNext + 1) % AckMemory;
            }
        }

        private void SaveRetained(string name, JsonNode command)
        {
            try
            {
                _store.WriteString("ret." + name, command.ToString());
            }
            catch (Exception e)
            {
                _lastError = "store: " + e.Message;
            }
        }

        private void ReplayRetainedCommands()
        {
            for (int i = 0; i < RetainedCommands.Length; i++)
            {
                string name = RetainedCommands[i];
                string text = _store.ReadString("ret." + name, "");
                if (text.Length == 0) continue;
                JsonNode command;
                if (!JsonReader.TryParse(text, out command) || !command.IsObject) continue;
                RememberAcknowledged(command.Get("id").AsString(""));
                Dispatch(name, command, new CommandReply(), true);
            }
        }

        // ---- main loop -----------------------------------------------------------------------

        private void MainLoop()
        {
            while (_running)
            {
                _watchdog.Feed();
                long now = _clock.TickCountMs;
                // Only over a working link: the MQTT client may not notice at once that Wi-Fi is gone, and a
                // heartbeat queued meanwhile is stale on arrival and takes an outbox place from real events.
                if (_wasConnected && IsConnected && now - _lastHeartbeat >= _heartbeatS * 1000L)
                {
                    PublishStatus();
                }
                try
                {
                    _app.OnTick(now);
                }
                catch (Exception e)
                {
                    _lastError = "app: " + e.Message;
                }
                try
                {
                    _clock.Sleep(_settings.TickMs);
                }
                catch (Exception)
                {
                    // Only a stopped simulation ends a sleep with an exception.
                    return;
                }
            }
        }

        /// <summary>A hash of the device id that is the same in every run (string hashes are randomised per process).</summary>
        private static int StableHash(string text)
        {
            int hash = 17;
            for (int i = 0; i < text.Length; i++)
            {
                hash = unchecked(hash * 31 + text[i]);
            }
            return hash;
        }

        private sealed class NullApp : IDeviceApp
        {
            public static readonly NullApp Instance = new NullApp();

            public bool OnCommand(string name, JsonNode command, CommandReply reply, bool replay)
            {
                return false;
            }

            public void OnTick(long nowMs)
            {
            }

            public void OnConnected()
            {
            }
        }
    }
}
