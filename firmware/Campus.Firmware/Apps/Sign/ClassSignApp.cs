using System;
using System.Threading;
using Campus.Firmware.Common;
using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;

namespace Campus.Firmware.Apps.Sign
{
    /// <summary>The parts of a class sign; a pin of -1 is not fitted.</summary>
    internal sealed class SignHardware
    {
        public SignHardware(GpioController gpio, Ssd1680? display, Mfrc522? reader)
        {
            Gpio = gpio;
            Display = display;
            Reader = reader;
        }

        public GpioController Gpio { get; private set; }
        public Ssd1680? Display { get; private set; }
        public Mfrc522? Reader { get; private set; }
        public int BuzzerPin { get; set; } = -1;
        public int StatusLedPin { get; set; } = -1;

        /// <summary>Tamper switch: low while the case is closed.</summary>
        public int TamperPin { get; set; } = -1;
    }

    /// <summary>
    /// Electronic class sign: an e-paper panel with the room, the date, the current or next lesson
    /// and the day's timetable (retained <c>cmd/timetable</c>) and the notices that have not expired
    /// (retained <c>cmd/notices</c>); while a lockdown is active (retained <c>cmd/lockdown</c>) its
    /// message replaces the screen. The panel is refreshed only when what it shows changes.
    /// A card tap sends a <c>checkin</c> for the current lesson (or one starting within
    /// <see cref="EarlyCheckinMin"/> minutes).
    /// </summary>
    internal sealed class ClassSignApp : DeviceApp
    {
        public const int IoPeriodMs = 20;
        public const int CardPollMs = 100;
        public const int ScreenCheckMs = 1000;
        public const int EarlyCheckinMin = 15;
        public const int SameCardMs = 1500;

        private readonly SignHardware _hardware;
        private readonly object _sync = new object();
        private readonly FrameBuffer _frame = new FrameBuffer(SignLayout.Width, SignLayout.Height);
        private readonly AutoResetEvent _contentChanged = new AutoResetEvent(false);

        private Thread[] _threads = new Thread[0];
        private volatile bool _running;
        private Timetable _timetable = Timetable.Empty;
        private Notices _notices = Notices.Empty;
        private bool _lockdown;
        private string _lockdownMessage = "";
        private int _tzOffsetMin;
        private string _shownKey = "";
        private int _refreshes;
        private PulseOutput? _buzzer;
        private PulseOutput? _led;
        private DebouncedInput? _tamper;
        private string _lastCard = "";
        private long _lastCardSeen = long.MinValue;

        public ClassSignApp(DeviceRuntime runtime, SignHardware hardware)
            : base(runtime)
        {
            _hardware = hardware;
        }

        /// <summary>Panel refreshes done by this app.</summary>
        public int Refreshes
        {
            get { lock (_sync) return _refreshes; }
        }

        /// <summary>The key of the screen on the panel ("" before the first refresh).</summary>
        public string ShownKey
        {
            get { lock (_sync) return _shownKey; }
        }

        public Timetable Timetable
        {
            get { lock (_sync) return _timetable; }
        }

        public int Faults { get; private set; }

        public string LastFault { get; private set; } = "";

        /// <summary>What the panel should show now.</summary>
        public SignScreen ComposeNow()
        {
            lock (_sync)
            {
                if (_lockdown) return SignScreen.ComposeLockdown(_lockdownMessage);
                return SignScreen.Compose(_timetable, _notices, Runtime.UnixTimeMs, _tzOffsetMin);
            }
        }

        protected override void OnStarting()
        {
            GpioController gpio = _hardware.Gpio;
            Clock clock = Runtime.Clock;
            if (_hardware.BuzzerPin >= 0) _buzzer = new PulseOutput(gpio, clock, _hardware.BuzzerPin, false);
            if (_hardware.StatusLedPin >= 0) _led = new PulseOutput(gpio, clock, _hardware.StatusLedPin, false);
            if (_hardware.TamperPin >= 0)
            {
                _tamper = new DebouncedInput(gpio, clock, _hardware.TamperPin, PinMode.Input, false, 50);
                _tamper.Changed += OnTamper;
            }
            try
            {
                if (_hardware.Display != null) _hardware.Display.Initialize();
            }
            catch (DriverException e)
            {
                Fault("display: " + e.Message);
            }
            try
            {
                if (_hardware.Reader != null) _hardware.Reader.Initialize();
            }
            catch (DriverException e)
            {
                Fault("card reader: " + e.Message);
            }
        }

        protected override void OnStarted()
        {
            _running = true;
            _threads = new Thread[] { new Thread(new ThreadStart(ScreenLoop)), new Thread(new ThreadStart(IoLoop)) };
            for (int i = 0; i < _threads.Length; i++) _threads[i].Start();
        }

        protected override void OnStopping()
        {
            _running = false;
            _contentChanged.Set();
            for (int i = 0; i < _threads.Length; i++) _threads[i].Join(5000);
            if (_tamper != null) _tamper.Changed -= OnTamper;
        }

        public override bool OnCommand(string name, JsonNode command, CommandReply reply, bool replay)
        {
            if (name == "timetable")
            {
                try
                {
                    Timetable timetable = Timetable.Parse(command);
                    int tz = ReadInt(command, "tzOffsetMin", -840, 840, _tzOffsetMin, reply);
                    lock (_sync)
                    {
                        _timetable = timetable;
                        _tzOffsetMin = tz;
                    }
                }
                catch (ArgumentException e)
                {
                    reply.Fail(e.Message);
                }
            }
            else if (name == "notices")
            {
                try
                {
                    Notices notices = Notices.Parse(command);
                    lock (_sync) _notices = notices;
                }
                catch (ArgumentException e)
                {
                    reply.Fail(e.Message);
                }
            }
            else if (name == "lockdown")
            {
                JsonNode active = command.Get("active");
                if (!active.IsBool)
                {
                    reply.Fail("lockdown needs active (bool)");
                    return true;
                }
                lock (_sync)
                {
                    _lockdown = active.AsBool(false);
                    _lockdownMessage = command.Get("message").AsString("");
                }
            }
            else if (name == "config")
            {
                lock (_sync) _tzOffsetMin = ReadInt(command, "tzOffsetMin", -840, 840, _tzOffsetMin, reply);
            }
            else
            {
                return false;
            }
            _contentChanged.Set();
            return true;
        }

        // ---- screen thread -------------------------------------------------------------------

        private void ScreenLoop()
        {
            Clock clock = Runtime.Clock;
            long nextCheck = 0;
            while (_running)
            {
                try
                {
                    // A command wakes the loop at once; otherwise the time decides (lesson changes, expiring notices).
                    bool woken = _contentChanged.WaitOne(0, false);
                    long now = clock.TickCountMs;
                    if (woken || now >= nextCheck)
                    {
                        nextCheck = now + ScreenCheckMs;
                        RefreshIfChanged();
                    }
                    clock.Sleep(IoPeriodMs);
                }
                catch (Exception e)
                {
                    if (!_running) return;
                    Fault("screen: " + e.Message);
                    if (!SleepAfterFault(clock)) return;
                }
            }
        }

        private void RefreshIfChanged()
        {
            SignScreen screen = ComposeNow();
            string key = screen.Key;
            lock (_sync)
            {
                if (key == _shownKey) return;
            }
            screen.Render(_frame);
            if (_hardware.Display != null) _hardware.Display.Display(_frame);
            lock (_sync)
            {
                _shownKey = key;
                _refreshes++;
            }
        }

        // ---- card reader and outputs (IO thread) ---------------------------------------------

        private void IoLoop()
        {
            Clock clock = Runtime.Clock;
            long nextPoll = 0;
            while (_running)
            {
                try
                {
                    if (_tamper != null) _tamper.Update();
                    if (_buzzer != null) _buzzer.Update();
                    if (_led != null) _led.Update();
                    long now = clock.TickCountMs;
                    if (now >= nextPoll)
                    {
                        nextPoll = now + CardPollMs;
                        PollCard(now);
                    }
                    clock.Sleep(IoPeriodMs);
                }
                catch (Exception e)
                {
                    if (!_running) return;
                    Fault("io: " + e.Message);
                    if (!SleepAfterFault(clock)) return;
                }
            }
        }

        private void PollCard(long now)
        {
            Mfrc522? reader = _hardware.Reader;
            if (reader == null) return;
            byte[] uid;
            try
            {
                if (!reader.TryReadCardUid(out uid)) return;
            }
            catch (DriverException e)
            {
                Fault("card reader: " + e.Message);
                return;
            }
            if (uid.Length != 4 && uid.Length != 7) return;
            string card = Door.AllowList.CardFromUid(uid, uid.Length);
            bool isNewTap = card != _lastCard || now - _lastCardSeen > SameCardMs;
            _lastCard = card;
            _lastCardSeen = now;
            if (isNewTap) CheckIn(card);
        }

        /// <summary>Sends a check-in for the lesson running now (or starting soon); false when there is none.</summary>
        public bool CheckIn(string card)
        {
            Lesson? lesson;
            long unixMs = Runtime.UnixTimeMs;
            lock (_sync)
            {
                lesson = null;
                if (unixMs > 0)
                {
                    long today = CivilTime.LocalDays(unixMs, _tzOffsetMin);
                    int minute = CivilTime.LocalMinuteOfDay(unixMs, _tzOffsetMin);
                    lesson = _timetable.Current(today, minute);
                    if (lesson == null)
                    {
                        Lesson? next = _timetable.Next(today, minute);
                        if (next != null && next.FromMinute - minute <= EarlyCheckinMin) lesson = next;
                    }
                }
            }
            if (lesson == null)
            {
                if (_buzzer != null) _buzzer.Beep(3, 100, 100);
                return false;
            }
            JsonWriter members = new JsonWriter();
            members.Member("card", card);
            members.Member("lesson", lesson.Id);
            Runtime.PublishEvent("checkin", members);
            if (_buzzer != null) _buzzer.Beep(1, 80, 0);
            if (_led != null) _led.Pulse(500);
            return true;
        }

        private void OnTamper(object sender, DebouncedInputEventArgs e)
        {
            JsonWriter members = new JsonWriter();
            members.Member("state", e.IsActive ? "open" : "closed");
            Runtime.PublishEvent("tamper", members);
        }

        private void Fault(string what)
        {
            Faults++;
            LastFault = what;
        }

        private static bool SleepAfterFault(Clock clock)
        {
            try
            {
                clock.Sleep(100);
                return true;
            }
            catch (Exception)
            {
                return false;
            }
        }
    }
}
