using System.Security.Cryptography;
using Campus.Firmware.Common;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Apps;

/// <summary>
/// The ports a device runs on in a test: a simulated clock that only the test moves, an in-memory
/// store, watchdog and Wi-Fi, and an MQTT client port (in-memory fake or a real broker adapter).
/// </summary>
internal sealed class DeviceRig : IAsyncDisposable
{
    public static readonly DateTime Start = new(2026, 11, 26, 1, 55, 0, DateTimeKind.Utc); // 09:55 in UTC+8, a Thursday

    private DeviceApp? _app;

    public DeviceRig(string kind, string device, MqttClient mqtt, InMemoryNonVolatileStore? store = null, DateTime? startUtc = null)
    {
        Clock = new SimulatedClock(startUtc ?? Start);
        Store = store ?? new InMemoryNonVolatileStore();
        Watchdog = new SimulatedWatchdog(Clock);
        Wifi = new SimulatedWifi();
        Mqtt = mqtt;
        Settings = new DeviceSettings
        {
            School = "s01",
            Room = "r101",
            Kind = kind,
            DeviceId = device,
            Password = "secret-" + device,
            HmacKey = RandomNumberGenerator.GetBytes(32),
            FirmwareVersion = "1.4.0",
            WifiSsid = "campus",
            WifiPassword = "wifi-pass",
            BackoffMinMs = 500,
            BackoffMaxMs = 4000,
        };
    }

    public SimulatedClock Clock { get; }
    public InMemoryNonVolatileStore Store { get; }
    public SimulatedWatchdog Watchdog { get; }
    public SimulatedWifi Wifi { get; }
    public MqttClient Mqtt { get; }
    public DeviceSettings Settings { get; }
    public DeviceRuntime? Runtime { get; private set; }

    public DeviceTopics Topics => new(Settings.School, Settings.Room, Settings.Kind, Settings.DeviceId);

    public DeviceRuntime CreateRuntime()
    {
        Runtime = new DeviceRuntime(Settings, Clock, Store, Watchdog, Wifi, Mqtt);
        return Runtime;
    }

    /// <summary>
    /// Starts the app. Start-up may sleep on the simulated clock (chip resets), so time moves
    /// while it runs.
    /// </summary>
    public async Task<T> RunAsync<T>(T app) where T : DeviceApp
    {
        _app = app;
        var starting = Task.Run(app.Start);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!starting.IsCompleted)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The app did not finish starting.");
            Clock.Advance(TimeSpan.FromMilliseconds(5));
            await Task.Delay(1);
        }
        await starting;
        return app;
    }

    /// <summary>
    /// Moves simulated time forward in <paramref name="step"/>s, giving the device's threads a moment
    /// of real time after each step, until <paramref name="condition"/> holds (real-time deadline).
    /// </summary>
    public async Task AdvanceUntilAsync(Func<bool> condition, string because, TimeSpan? step = null, TimeSpan? timeout = null)
    {
        var stepBy = step ?? TimeSpan.FromMilliseconds(20);
        var limit = timeout ?? TimeSpan.FromSeconds(20);
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#}s (simulated {Clock.Elapsed}) waiting until {because}.{Diagnostics()}");
            Clock.Advance(stepBy);
            await Task.Delay(2);
        }
    }

    /// <summary>Moves simulated time by <paramref name="total"/> in steps, letting the device run in between.</summary>
    public async Task AdvanceAsync(TimeSpan total, TimeSpan? step = null)
    {
        var stepBy = step ?? TimeSpan.FromMilliseconds(20);
        var until = Clock.Elapsed + total;
        while (Clock.Elapsed < until)
        {
            var left = until - Clock.Elapsed;
            Clock.Advance(left < stepBy ? left : stepBy);
            await Task.Delay(2);
        }
    }

    public string Diagnostics() =>
        Runtime is null ? "" : $" [connected={Runtime.IsConnected}, pending={Runtime.Pending}, lastError='{Runtime.LastError}']";

    /// <summary>Stops the app while time keeps moving (threads asleep on the clock must wake), then ends the clock.</summary>
    public async Task StopAsync(bool graceful = true)
    {
        if (_app is null) return;
        var app = _app;
        _app = null;
        var stopping = Task.Run(() => app.Stop(graceful));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!stopping.IsCompleted && DateTime.UtcNow < deadline)
        {
            Clock.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(2);
        }
        if (!stopping.IsCompleted) throw new TimeoutException("The app did not stop within 20 s.");
        await stopping;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Clock.Shutdown();
    }
}
