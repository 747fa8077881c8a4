using System;
using System.Threading;
using Campus.Firmware.Common;
using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Apps.Door
{
    /// <summary>The parts of a door board; a pin of -1 is not fitted.</summary>
    internal sealed class DoorHardware
    {
        public DoorHardware(GpioController gpio, Mfrc522? reader)
        {
            Gpio = gpio;
            Reader = reader;
        }

        public GpioController Gpio { get; private set; }
        public Mfrc522? Reader { get; private set; }

        /// <summary>Door strike relay, active high.</summary>
        public int StrikePin { get; set; } = -1;

        /// <summary>Reed switch: low while the door is closed.</summary>
        public int ReedPin { get; set; } = -1;

        /// <summary>Request-to-exit button: low while pressed.</summary>
        public int RexPin { get; set; } = -1;

        /// <summary>Tamper switch: low while the case is closed.</summary>
        public int TamperPin { get; set; } = -1;

        public int BuzzerPin { get; set; } = -1;
        public int LedGreenPin { get; set; } = -1;
        public int LedRedPin { get; set; } = -1;

        /// <summary>The pins of a door board from the board's pin map.</summary>
        public static DoorHardware FromBoard(DoorBoard board, GpioController gpio, Mfrc522? reader)
        {
            DoorHardware hardware = new DoorHardware(gpio, reader);
            hardware.StrikePin = board.StrikeRelay;
            hardware.ReedPin = board.DoorReed;
            hardware.RexPin = board.RexButton;
            hardware.TamperPin = board.TamperSwitch;
            hardware.BuzzerPin = board.Buzzer;
            hardware.LedGreenPin = board.LedGreen;
            hardware.LedRedPin = board.LedRed;
            return hardware;
        }
    }

    /// <summary>
    /// Door card reader. A card tap becomes a signed <c>access-request</c>; the controller answers
    /// with <c>cmd/access</c> within the access timeout, otherwise — or when the link is down — the
    /// door decides from its cached allow-list (<c>source:"cache"</c>). A grant pulses the strike
    /// for <c>openMs</c>; every decision is published as a signed <c>access</c> event. Lockdown
    /// denies every card (the request-to-exit button still opens: fire safety). The door contact,
    /// REX button and tamper switch give <c>door</c>, <c>rex</c>, <c>forced</c>, <c>held-open</c>
    /// and <c>tamper</c> events, decided on the device so they work offline.
    /// </summary>
    internal sealed class DoorApp : DeviceApp
    {
        public const int IoPeriodMs = 10;
        public const int CardPollMs = 100;
        public const int DebounceMs = 50;

        /// <summary>After a grant the door may be opened until the strike closes plus this much.</summary>
        public const int GraceMs = 1500;

        /// <summary>A card held on the reader counts as a new tap only after it was away this long.</summary>
        public const int SameCardMs = 1500;

        private readonly DoorHardware _hardware;
        private readonly object _sync = new object();
        private readonly string[] _cards = new string[4];
        private readonly long[] _cardReadAt = new long[4];
        private int _cardHead;
        private int _cardCount;

        private Thread[] _threads = new Thread[0];
        private volatile bool _running;
        private DebouncedInput? _reed;
        private DebouncedInput? _rex;
        private DebouncedInput? _tamper;
        private PulseOutput? _strike;
        private PulseOutput? _buzzer;
        private PulseOutput? _green;
        private PulseOutput? _red;

        private AllowList _allowList = AllowList.Empty;
        private bool _lockdown;
        private string _lockdownMessage = "";
        private int _openMs = 3000;
        private int _heldOpenS = 30;
        private int _heldAlarmS = 120;
        private int _accessTimeoutMs = 2000;

        private long _authorizedUntil = long.MinValue;
        private bool _doorOpen;
        private long _openedAt;
        private int _heldStage;
        private string _lastCard = "";
        private long _lastCardSeen = long.MinValue;
        private long _nextCardPoll;
        private int _requestCounter;

        // The request waiting for the controller's answer.
        private string _pendingReq = "";
        private bool _answered;
        private bool _answerGrant;
        private string _answerReason = "";
        private int _answerOpenMs;

        public DoorApp(DeviceRuntime runtime, DoorHardware hardware)
            : base(runtime)
        {
            _hardware = hardware;
        }

        public bool Lockdown
        {
            get { lock (_sync) return _lockdown; }
        }

        public string LockdownMessage
        {
            get { lock (_sync) return _lockdownMessage; }
        }

        public AllowList AllowList
        {
            get { lock (_sync) return _allowList; }
        }

        public bool DoorOpen
        {
            get { lock (_sync) return _doorOpen; }
        }

        /// <summary>Card taps dropped because the decision queue was full.</summary>
        public int CardsDropped { get; private set; }

        /// <summary>Faults in the door's loops (driver errors), kept running.</summary>
        public int Faults { get; private set; }

        /// <summary>The reason of the last problem counted in <see cref="Faults"/>.</summary>
        public string LastFault { get; private set; } = "";

        protected override void OnStarting()
        {
            Clock clock = Runtime.Clock;
            GpioController gpio = _hardware.Gpio;
            if (_hardware.ReedPin >= 0) _reed = new DebouncedInput(gpio, clock, _hardware.ReedPin, PinMode.Input, false, DebounceMs);
            if (_hardware.RexPin >= 0) _rex = new DebouncedInput(gpio, clock, _hardware.RexPin, PinMode.Input, true, DebounceMs);
            if (_hardware.TamperPin >= 0) _tamper = new DebouncedInput(gpio, clock, _hardware.TamperPin, PinMode.Input, false, DebounceMs);
            if (_hardware.StrikePin >= 0) _strike = new PulseOutput(gpio, clock, _hardware.StrikePin, false);
            if (_hardware.BuzzerPin >= 0) _buzzer = new PulseOutput(gpio, clock, _hardware.BuzzerPin, false);
            if (_hardware.LedGreenPin >= 0) _green = new PulseOutput(gpio, clock, _hardware.LedGreenPin, false);
            if (_hardware.LedRedPin >= 0) _red = new PulseOutput(gpio, clock, _hardware.LedRedPin, false);
            if (_reed != null) _reed.Changed += OnDoorContact;
            if (_rex != null) _rex.Changed += OnRequestToExit;
            if (_tamper != null) _tamper.Changed += OnTamper;
            if (_hardware.Reader != null)
            {
                try
                {
                    _hardware.Reader.Initialize();
                }
                catch (DriverException e)
                {
                    Fault("card reader: " + e.Message);
                }
            }
        }

        protected override void OnStarted()
        {
            long now = Runtime.Clock.TickCountMs;
            lock (_sync)
            {
                _doorOpen = _reed != null && _reed.IsActive;
                _openedAt = now;
                _heldStage = 0;
            }
            if (_tamper != null && _tamper.IsActive) PublishState("tamper", "open");
            _running = true;
            _threads = new Thread[] { new Thread(new ThreadStart(IoLoop)), new Thread(new ThreadStart(AccessLoop)) };
            for (int i = 0; i < _threads.Length; i++) _threads[i].Start();
        }

        protected override void OnStopping()
        {
            _running = false;
            for (int i = 0; i < _threads.Length; i++) _threads[i].Join(5000);
            if (_reed != null) _reed.Changed -= OnDoorContact;
            if (_rex != null) _rex.Changed -= OnRequestToExit;
            if (_tamper != null) _tamper.Changed -= OnTamper;
        }

        // ---- commands ------------------------------------------------------------------------

        public override bool OnCommand(string name, JsonNode command, CommandReply reply, bool replay)
        {
            if (name == "access") OnAccessAnswer(command, reply);
            else if (name == "unlock") OnUnlock(command, reply);
            else if (name == "lockdown") OnLockdown(command, reply);
            else if (name == "allowlist") OnAllowList(command, reply);
            else if (name == "config") OnConfig(command, reply);
            else return false;
            return true;
        }

        private void OnAccessAnswer(JsonNode command, CommandReply reply)
        {
            string req = command.Get("req").AsString("");
            JsonNode grant = command.Get("grant");
            if (req.Length == 0 || !grant.IsBool)
            {
                reply.Fail("access needs req (string) and grant (bool)");
                return;
            }
            int openMs = ReadInt(command, "openMs", 100, 60000, 0, reply);
            if (!reply.Ok) return;
            lock (_sync)
            {
                if (_pendingReq != req || _answered)
                {
                    reply.Fail("no pending request '" + req + "' (timed out or already answered)");
                    return;
                }
                _answered = true;
                _answerGrant = grant.AsBool(false);
                _answerReason = command.Get("reason").AsString(_answerGrant ? "ok" : "unknown-card");
                _answerOpenMs = openMs;
            }
        }

        private void OnUnlock(JsonNode command, CommandReply reply)
        {
            int openMs;
            lock (_sync) openMs = _openMs;
            openMs = ReadInt(command, "openMs", 100, 60000, openMs, reply);
            if (!reply.Ok) return;
            OpenStrike(openMs);
        }

        private void OnLockdown(JsonNode command, CommandReply reply)
        {
            JsonNode active = command.Get("active");
            if (!active.IsBool)
            {
                reply.Fail("lockdown needs active (bool)");
                return;
            }
            lock (_sync)
            {
                _lockdown = active.AsBool(false);
                _lockdownMessage = command.Get("message").AsString("");
            }
            if (_red != null)
            {
                if (active.AsBool(false)) _red.On();
                else _red.Off();
            }
        }

        private void OnAllowList(JsonNode command, CommandReply reply)
        {
            AllowList list;
            try
            {
                list = AllowList.Parse(command);
            }
            catch (ArgumentException e)
            {
                reply.Fail(e.Message);
                return;
            }
            lock (_sync) _allowList = list;
        }

        private void OnConfig(JsonNode command, CommandReply reply)
        {
            lock (_sync)
            {
                int openMs = ReadInt(command, "openMs", 100, 60000, _openMs, reply);
                int heldOpenS = ReadInt(command, "heldOpenS", 1, 86400, _heldOpenS, reply);
                int heldAlarmS = ReadInt(command, "heldAlarmS", 1, 86400, _heldAlarmS, reply);
                int timeoutMs = ReadInt(command, "accessTimeoutMs", 100, 30000, _accessTimeoutMs, reply);
                if (heldAlarmS < heldOpenS) reply.Fail("heldAlarmS must not be less than heldOpenS");
                if (!reply.Ok) return;
                _openMs = openMs;
                _heldOpenS = heldOpenS;
                _heldAlarmS = heldAlarmS;
                _accessTimeoutMs = timeoutMs;
            }
        }

        // ---- inputs and outputs (IO thread) --------------------------------------------------

        private void IoLoop()
        {
            Clock clock = Runtime.Clock;
            while (_running)
            {
                try
                {
                    // The button before the contact: a REX press and the door opening in one pass is an exit, not forced.
                    if (_rex != null) _rex.Update();
                    if (_reed != null) _reed.Update();
                    if (_tamper != null) _tamper.Update();
                    if (_strike != null) _strike.Update();
                    if (_buzzer != null) _buzzer.Update();
                    if (_green != null) _green.Update();
                    if (_red != null) _red.Update();
                    long now = clock.TickCountMs;
                    CheckHeldOpen(now);
                    if (now >= _nextCardPoll)
                    {
                        _nextCardPoll = now + CardPollMs;
                        PollCard(now);
                    }
                    clock.Sleep(IoPeriodMs);
                }
                catch (Exception e)
                {
                    // A stopped simulation ends the sleep with an exception: leave quietly.
                    if (!_running) return;
                    Fault("io: " + e.Message);
                    SleepAfterFault(clock);
                }
            }
        }

        private void PollCard(long now)
        {
            Mfrc522? reader = _hardware.Reader;
            if (reader == null) return;
            byte[] uid;
            bool seen;
            try
            {
                seen = reader.TryReadCardUid(out uid);
            }
            catch (DriverException e)
            {
                Fault("card reader: " + e.Message);
                return;
            }
            if (!seen || (uid.Length != 4 && uid.Length != 7)) return;
            string card = AllowList.CardFromUid(uid, uid.Length);
            bool isNewTap = card != _lastCard || now - _lastCardSeen > SameCardMs;
            _lastCard = card;
            _lastCardSeen = now;
            if (!isNewTap) return;
            lock (_cards)
            {
                if (_cardCount == _cards.Length)
                {
                    CardsDropped++;
                    return;
                }
                int at = (_cardHead + _cardCount) % _cards.Length;
                _cards[at] = card;
                _cardReadAt[at] = now;
                _cardCount++;
            }
        }

        private void OnDoorContact(object sender, DebouncedInputEventArgs e)
        {
            bool forced;
            lock (_sync)
            {
                _doorOpen = e.IsActive;
                _openedAt = e.AtTickMs;
                _heldStage = 0;
                forced = e.IsActive && e.AtTickMs > _authorizedUntil;
                // One opening per grant.
                if (e.IsActive) _authorizedUntil = long.MinValue;
            }
            PublishState("door", e.IsActive ? "open" : "closed");
            if (forced)
            {
                Runtime.PublishEvent("forced", new JsonWriter());
                if (_buzzer != null) _buzzer.Beep(5, 200, 200);
            }
            if (!e.IsActive)
            {
                // Relock as soon as the door closes.
                if (_strike != null) _strike.Off();
                if (_buzzer != null) _buzzer.Off();
            }
        }

        private void OnRequestToExit(object sender, DebouncedInputEventArgs e)
        {
            if (!e.IsActive) return;
            Runtime.PublishEvent("rex", new JsonWriter());
            int openMs;
            lock (_sync) openMs = _openMs;
            OpenStrike(openMs);
        }

        private void OnTamper(object sender, DebouncedInputEventArgs e)
        {
            PublishState("tamper", e.IsActive ? "open" : "closed");
        }

        private void CheckHeldOpen(long now)
        {
            int stage;
            long openS;
            lock (_sync)
            {
                if (!_doorOpen || _heldStage >= 2) return;
                long openMs = now - _openedAt;
                long limitMs = (_heldStage == 0 ? _heldOpenS : _heldAlarmS) * 1000L;
                if (openMs < limitMs) return;
                _heldStage++;
                stage = _heldStage;
                openS = openMs / 1000;
            }
            JsonWriter members = new JsonWriter();
            members.Member("stage", stage == 1 ? "pre-alarm" : "alarm");
            members.Member("openS", openS);
            Runtime.PublishEvent("held-open", members);
            if (_buzzer != null)
            {
                if (stage == 1) _buzzer.Beep(3, 150, 150);
                else _buzzer.On();
            }
        }

        private void OpenStrike(int openMs)
        {
            long now = Runtime.Clock.TickCountMs;
            lock (_sync)
            {
                long until = now + openMs + GraceMs;
                if (until > _authorizedUntil) _authorizedUntil = until;
            }
            if (_strike != null) _strike.Pulse(openMs);
            if (_green != null) _green.Pulse(openMs);
        }

        // ---- access decisions (access thread) ------------------------------------------------

        private void AccessLoop()
        {
            Clock clock = Runtime.Clock;
            while (_running)
            {
                string card = "";
                bool have = false;
                long now = clock.TickCountMs;
                lock (_cards)
                {
                    // A card read in an earlier IO period: the access thread keeps to the clock's
                    // periods, so a tap is always decided one period after it was read.
                    if (_cardCount > 0 && _cardReadAt[_cardHead] < now)
                    {
                        card = _cards[_cardHead];
                        _cardHead = (_cardHead + 1) % _cards.Length;
                        _cardCount--;
                        have = true;
                    }
                }
                if (!have)
                {
                    try
                    {
                        clock.Sleep(IoPeriodMs);
                    }
                    catch (Exception)
                    {
                        // Only a stopped simulation ends a sleep with an exception.
                        if (!_running) return;
                    }
                    continue;
                }
                try
                {
                    Decide(card);
                }
                catch (Exception e)
                {
                    if (!_running) return;
                    Fault("access: " + e.Message);
                    SleepAfterFault(clock);
                }
            }
        }

        private void Decide(string card)
        {
            bool lockdown;
            lock (_sync) lockdown = _lockdown;
            if (lockdown)
            {
                Finish(card, "", false, "lockdown", "cache", 0);
                return;
            }
            if (!Runtime.IsConnected)
            {
                DecideFromCache(card, "", "unknown-card");
                return;
            }

            string req = Runtime.Boot.ToString() + "-" + (++_requestCounter).ToString();
            int timeoutMs;
            lock (_sync)
            {
                _pendingReq = req;
                _answered = false;
                timeoutMs = _accessTimeoutMs;
            }
            JsonWriter members = new JsonWriter();
            members.Member("req", req);
            members.Member("card", card);
            Runtime.PublishEvent("access-request", members);

            Clock clock = Runtime.Clock;
            long deadline = clock.TickCountMs + timeoutMs;
            bool answered = false;
            while (_running)
            {
                lock (_sync) answered = _answered;
                if (answered || clock.TickCountMs >= deadline) break;
                clock.Sleep(IoPeriodMs);
            }
            bool grant;
            string reason;
            int openMs;
            lock (_sync)
            {
                // Close the request first so a late answer is refused (and acknowledged as such).
                _pendingReq = "";
                answered = _answered;
                grant = _answerGrant;
                reason = _answerReason;
                openMs = _answerOpenMs;
            }
            if (!answered)
            {
                DecideFromCache(card, req, "timeout");
                return;
            }
            Finish(card, req, grant, reason, "controller", openMs);
        }

        private void DecideFromCache(string card, string req, string reasonWithoutList)
        {
            AllowList list;
            lock (_sync) list = _allowList;
            if (!list.IsLoaded)
            {
                Finish(card, req, false, reasonWithoutList, "cache", 0);
                return;
            }
            string reason = list.Decide(card, Runtime.UnixTimeMs);
            Finish(card, req, reason == "ok", reason, "cache", 0);
        }

        private void Finish(string card, string req, bool grant, string reason, string source, int openMs)
        {
            lock (_sync)
            {
                // A lockdown that started while the controller was deciding still wins.
                if (grant && _lockdown)
                {
                    grant = false;
                    reason = "lockdown";
                }
                if (openMs <= 0) openMs = _openMs;
            }
            if (grant)
            {
                OpenStrike(openMs);
                if (_buzzer != null) _buzzer.Beep(1, 100, 0);
            }
            else
            {
                if (_red != null && !Lockdown) _red.Pulse(1000);
                if (_buzzer != null) _buzzer.Beep(3, 100, 100);
            }
            JsonWriter members = new JsonWriter();
            members.Member("req", req);
            members.Member("card", card);
            members.Member("result", grant ? "granted" : "denied");
            members.Member("reason", reason);
            members.Member("source", source);
            Runtime.PublishEvent("access", members);
        }

        private void PublishState(string type, string state)
        {
            JsonWriter members = new JsonWriter();
            members.Member("state", state);
            Runtime.PublishEvent(type, members);
        }

        private void Fault(string what)
        {
            Faults++;
            LastFault = what;
        }

        private void SleepAfterFault(Clock clock)
        {
            try
            {
                clock.Sleep(100);
            }
            catch (Exception)
            {
                // Only a simulation that ended refuses to sleep: stop the door's loops.
                _running = false;
            }
        }
    }
}
