using Campus.Firmware.Apps.Door;
using Campus.Firmware.Apps.Energy;
using Campus.Firmware.Apps.Maker;
using Campus.Firmware.Apps.Sign;
using Campus.Firmware.Common;
using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;
using Campus.Simulators.Day;
using Campus.Simulators.District;

namespace Campus.Simulators.Fleet;

/// <summary>Secrets of one device: MQTT user name and password, HMAC key for signed events.</summary>
public sealed record DeviceSecret(string UserName, string Password, byte[] HmacKey);

/// <summary>
/// One simulated device: the chip models of its board under the real firmware app, with its own
/// MQTT connection. The simulation drives the physical side (<see cref="Update"/>: loads, climate,
/// presence, kit sensors) and people (<see cref="Tap"/>, door contact, REX).
/// </summary>
internal sealed class SimulatedDevice
{
    private readonly DeviceApp _app;
    private readonly SimulatedWifi _wifi = new();
    private readonly BrokerMqttClient _mqtt;
    private readonly InMemoryNonVolatileStore _store = new();

    // Door side: the person in front of the reader.
    private readonly Queue<DoorTap> _pendingTaps = new();
    private DoorTap? _tapping;
    private long _tapStartedMs;
    private int _haltsAtTap;
    private long _openUntilMs = -1;
    private long _rexReleaseMs = -1;
    private bool _walkIn;
    private readonly Dictionary<string, (string Topic, byte[] Payload)> _captured = new(StringComparer.Ordinal);

    public SimulatedDevice(DeviceModel model, LockstepClock clock, FleetNetwork network, DeviceSecret secret, SwitchableLink? link, uint bootBase = 0)
    {
        if (bootBase > 0) _store.WriteUInt32("boot", bootBase);
        Model = model;
        Clock = clock;
        Link = link;
        _mqtt = new BrokerMqttClient(network, link is null ? null : () => (link.Host, link.Port));
        if (model.Kind == "door") _mqtt.Sent = Capture;
        var settings = new DeviceSettings
        {
            School = model.School,
            Room = model.Room,
            Kind = model.Kind,
            DeviceId = model.Id,
            Password = secret.Password,
            HmacKey = secret.HmacKey,
            FirmwareVersion = "1.4.0",
            WifiSsid = "campus-" + model.School,
            WifiPassword = "campus",
            BackoffMinMs = 1000,
            BackoffMaxMs = 30000,
            KeepAliveS = 30,
            OutboxCapacity = 256,
            MaxCommandBytes = 64 * 1024,
        };
        Runtime = new DeviceRuntime(settings, clock, _store, new SimulatedWatchdog(clock), _wifi, _mqtt);
        string chip = model.Options.TryGetValue("chip", out var c) ? c : "esp32-wroom-32";
        Gpio = chip == "esp32-s3" ? GpioModel.Esp32S3(clock) : GpioModel.Esp32(clock);
        switch (model.Kind)
        {
            case "energy":
            {
                var board = EnergyBoard.ForChip(chip);
                var hw = new EnergyNodeHardware { Gpio = Gpio, PirPin = board.Pir, TamperPin = board.TamperSwitch };
                if (model.Meter == "ina219")
                {
                    Ina219 = new Ina219Model(new I2cConnectionSettings(board.I2cBusId, 0x40)) { ShuntOhms = 0.1, BusVoltageV = DayModel.BenchBusV };
                    hw.Ina219 = new Ina219(Ina219, 0.1, 3.2);
                }
                else
                {
                    Pzem = new Pzem004tModel(clock, board.SerialPortName);
                    Pzem.Open(); // board set-up opens the UART; the energy app only reads and writes it
                    hw.Pzem = new Pzem004t(Pzem, 0x01, 200);
                }

                Gpio.SetInput(board.Pir, PinValue.Low);
                Gpio.SetInput(board.TamperSwitch, PinValue.Low);
                PirPin = board.Pir;
                _app = new EnergyNodeApp(Runtime, hw);
                ClockThreads = 1;
                break;
            }

            case "env":
            {
                var board = EnvBoard.ForChip(chip);
                Sht31 = new Sht31Model(new I2cConnectionSettings(board.I2cBusId, 0x44), clock);
                Gpio.SetInput(board.Pir, PinValue.Low);
                Gpio.SetInput(board.TamperSwitch, PinValue.Low);
                PirPin = board.Pir;
                _app = new EnergyNodeApp(Runtime, new EnergyNodeHardware { Gpio = Gpio, Sht31 = new Sht31(Sht31, clock), PirPin = board.Pir, TamperPin = board.TamperSwitch });
                ClockThreads = 1;
                break;
            }

            case "door":
            {
                var board = DoorBoard.ForChip(chip);
                Reader = new Mfrc522Model(new SpiConnectionSettings(board.SpiBusId, board.RfidCs));
                Gpio.SetInput(board.DoorReed, PinValue.Low);
                Gpio.SetInput(board.RexButton, PinValue.High);
                Gpio.SetInput(board.TamperSwitch, PinValue.Low);
                DoorBoard = board;
                _app = new DoorApp(Runtime, DoorHardware.FromBoard(board, Gpio, new Mfrc522(Reader, clock, Gpio, board.RfidRst)));
                ClockThreads = 3; // main, IO and access loops
                break;
            }

            case "sign":
            {
                var board = SignBoard.ForChip(chip);
                Panel = new EpaperModel(new SpiConnectionSettings(board.SpiBusId, board.EpdCs), Gpio, clock, board.EpdDc, board.EpdRst, board.EpdBusy);
                Reader = new Mfrc522Model(new SpiConnectionSettings(board.SpiBusId, board.RfidCs));
                Gpio.SetInput(board.TamperSwitch, PinValue.Low);
                var hw = new SignHardware(Gpio, new Ssd1680(Panel, Gpio, clock, board.EpdDc, board.EpdRst, board.EpdBusy), new Mfrc522(Reader, clock, Gpio, board.RfidRst))
                {
                    BuzzerPin = board.Buzzer,
                    StatusLedPin = board.StatusLed,
                    TamperPin = board.TamperSwitch,
                };
                _app = new ClassSignApp(Runtime, hw);
                ClockThreads = 3;
                break;
            }

            case "maker":
            {
                var board = MakerBoard.ForChip(chip);
                Adc = new AdcModel();
                Gpio.SetInput(board.UserButton, PinValue.High);
                MakerBoard = board;
                _app = new MakerKitApp(Runtime, new MakerKitHardware { Adc = Adc, Gpio = Gpio });
                ClockThreads = 1;
                break;
            }

            default:
                throw new ArgumentException($"Device '{model.Id}' has an unknown kind '{model.Kind}'.", nameof(model));
        }
    }

    public DeviceModel Model { get; }
    public LockstepClock Clock { get; }
    public SwitchableLink? Link { get; }
    public DeviceRuntime Runtime { get; }
    public GpioModel Gpio { get; }
    public Pzem004tModel? Pzem { get; }
    public Ina219Model? Ina219 { get; }
    public Sht31Model? Sht31 { get; }
    public Mfrc522Model? Reader { get; }
    public EpaperModel? Panel { get; }
    public AdcModel? Adc { get; }
    public DoorBoard? DoorBoard { get; }
    public MakerBoard? MakerBoard { get; }
    public int PirPin { get; } = -1;

    /// <summary>Firmware threads of this device that sleep on the simulation clock when idle.</summary>
    public int ClockThreads { get; }

    public bool IsRunning { get; private set; }

    /// <summary>A door with someone at it: a tap waiting or in progress, or the door open.</summary>
    public bool DoorBusy => DoorBoard is not null && (_pendingTaps.Count > 0 || _tapping is not null || _openUntilMs >= 0 || _rexReleaseMs >= 0
        || Clock.TickCountMs - _tapStartedMs < 15_000);

    public int TapsDone { get; private set; }

    public int TapsMissed { get; private set; }

    public void Start()
    {
        IsRunning = true;
        _app.Start();
    }

    /// <summary>Stops the firmware: gracefully (DISCONNECT) or as a power cut.</summary>
    public void Stop(bool graceful)
    {
        if (!IsRunning) return;
        IsRunning = false;
        _app.Stop(graceful);
        if (graceful) _mqtt.Dispose();
    }

    public void SetWifi(bool available) => _wifi.SetAccessPointAvailable(available);

    /// <summary>Sets the physical world of the device for the current instant.</summary>
    public void Update(DayModel day, DateTime utc)
    {
        var room = day.Room(Model.School, Model.Room);
        if (PirPin >= 0) Gpio.SetInput(PirPin, day.Occupancy(room, utc) > 0 ? PinValue.High : PinValue.Low);
        if (Pzem is not null)
        {
            double w = day.MeterPowerW(Model, utc);
            double v = 228 + 4 * Math.Sin(utc.TimeOfDay.TotalHours);
            Pzem.SetLoad(v, w / (v * 0.95), 0.95);
        }

        if (Ina219 is not null) Ina219.CurrentA = day.MeterPowerW(Model, utc) / DayModel.BenchBusV;
        if (Sht31 is not null)
        {
            Sht31.TemperatureC = day.TemperatureC(room, utc);
            Sht31.HumidityPct = day.HumidityPct(room, utc);
        }

        if (Adc is not null && MakerBoard is not null)
        {
            var (soil, light) = day.KitReadings(Model, utc);
            Adc.SetValue(Esp32AdcChannels.ChannelForGpio(MakerBoard.SoilAdc), soil);
            Adc.SetValue(Esp32AdcChannels.ChannelForGpio(MakerBoard.LightAdc), light);
        }

        if (DoorBoard is not null) StepDoor();
    }

    /// <summary>The last event of <paramref name="type"/> the door sent, as it went over the wire.</summary>
    public (string Topic, byte[] Payload)? Captured(string type)
    {
        lock (_captured) return _captured.TryGetValue(type, out var c) ? c : null;
    }

    private void Capture(string topic, byte[] payload)
    {
        if (!topic.EndsWith("/event", StringComparison.Ordinal)) return;
        using var doc = System.Text.Json.JsonDocument.Parse(payload);
        if (doc.RootElement.TryGetProperty("type", out var type) && type.GetString() is { } t)
        {
            lock (_captured) _captured[t] = (topic, payload);
        }
    }

    public void Tap(DoorTap tap) => _pendingTaps.Enqueue(tap);

    /// <summary>Opens the door without a grant (forced) or after REX, and closes it after <paramref name="openFor"/>.</summary>
    public void OpenDoor(TimeSpan openFor, bool withRex)
    {
        var board = DoorBoard ?? throw new InvalidOperationException($"Device '{Model.Id}' is not a door.");
        long now = Clock.TickCountMs;
        if (withRex)
        {
            Gpio.SetInput(board.RexButton, PinValue.Low);
            _rexReleaseMs = now + 300;
        }

        Gpio.SetInput(board.DoorReed, PinValue.High);
        _openUntilMs = now + (long)openFor.TotalMilliseconds;
    }

    private void StepDoor()
    {
        var board = DoorBoard!;
        var reader = Reader!;
        long now = Clock.TickCountMs;
        if (_rexReleaseMs >= 0 && now >= _rexReleaseMs)
        {
            Gpio.SetInput(board.RexButton, PinValue.High);
            _rexReleaseMs = -1;
        }

        if (_openUntilMs >= 0 && now >= _openUntilMs)
        {
            Gpio.SetInput(board.DoorReed, PinValue.Low);
            _openUntilMs = -1;
        }

        if (_tapping is { } tap)
        {
            if (reader.HaltCount > _haltsAtTap)
            {
                // Read: take the card away; a grant pulses the strike and the person walks through.
                reader.RemoveCard();
                _tapping = null;
                _walkIn = tap.WalkIn;
                TapsDone++;
                _tapStartedMs = now;
            }
            else if (now - _tapStartedMs > 10_000)
            {
                reader.RemoveCard();
                _tapping = null;
                TapsMissed++;
            }

            return;
        }

        if (_walkIn && _openUntilMs < 0 && Gpio.GetOutput(board.StrikeRelay) == PinValue.High && now - _tapStartedMs < 10_000)
        {
            Gpio.SetInput(board.DoorReed, PinValue.High);
            _openUntilMs = now + 2500;
            _walkIn = false;
            return;
        }

        if (_openUntilMs < 0 && now - _tapStartedMs >= 10_000 && _pendingTaps.Count > 0 && _pendingTaps.Peek().AtUtc <= Clock.UtcNow)
        {
            var next = _pendingTaps.Dequeue();
            _tapping = next;
            _tapStartedMs = now;
            _haltsAtTap = reader.HaltCount;
            reader.PlaceCard(Convert.FromHexString(next.Card));
        }
    }
}
