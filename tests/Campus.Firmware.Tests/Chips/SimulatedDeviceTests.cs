using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Chips;

public sealed class SimulatedDeviceTests
{
    private static readonly DateTime Start = new(2026, 11, 26, 8, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void A_sleeping_firmware_thread_wakes_only_when_simulation_time_reaches_its_deadline()
    {
        var clock = new SimulatedClock(Start);
        using var woke = new ManualResetEventSlim();
        var thread = new Thread(() =>
        {
            clock.Sleep(1000);
            woke.Set();
        });
        thread.Start();
        SpinWait.SpinUntil(() => clock.Sleepers == 1, TimeSpan.FromSeconds(10));
        Assert.Equal(1, clock.Sleepers);

        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(woke.Wait(TimeSpan.FromMilliseconds(100)));

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(woke.Wait(TimeSpan.FromSeconds(10)));
        thread.Join();
        Assert.Equal(Start.AddSeconds(1), clock.UtcNow);
        Assert.Equal(1000, clock.TickCountMs);
    }

    [Fact]
    public void Shutdown_releases_sleepers_with_cancellation()
    {
        var clock = new SimulatedClock(Start);
        Exception? seen = null;
        var thread = new Thread(() =>
        {
            try
            {
                clock.Sleep(60_000);
            }
            catch (OperationCanceledException e)
            {
                seen = e;
            }
        });
        thread.Start();
        SpinWait.SpinUntil(() => clock.Sleepers == 1, TimeSpan.FromSeconds(10));

        clock.Shutdown();

        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));
        Assert.IsType<OperationCanceledException>(seen);
    }

    [Fact]
    public void Unix_time_is_zero_until_the_clock_is_set()
    {
        var clock = new SimulatedClock(Start, timeSet: false);
        Assert.Equal(0, clock.UnixTimeMilliseconds);

        clock.SetTimeSet(true);
        Assert.Equal(new DateTimeOffset(Start).ToUnixTimeMilliseconds(), clock.UnixTimeMilliseconds);
        Assert.Equal(Start, Clock.FromUnixTimeMilliseconds(clock.UnixTimeMilliseconds));
    }

    [Fact]
    public void Store_keeps_values_and_rejects_bad_keys()
    {
        var store = new InMemoryNonVolatileStore();
        Assert.Equal(7u, store.ReadUInt32("boot", 7));

        store.WriteUInt32("boot", 0xA1B2C3D4);
        store.WriteString("mqtt.password", "p\u00e4ss");

        Assert.Equal(0xA1B2C3D4, store.ReadUInt32("boot", 0));
        Assert.Equal("p\u00e4ss", store.ReadString("mqtt.password", ""));
        Assert.True(store.Delete("boot"));
        Assert.False(store.TryRead("boot", out _));
        Assert.Throws<ArgumentException>(() => store.Write("Boot Counter", new byte[1]));
        Assert.Throws<ArgumentException>(() => store.Write(new string('a', 33), new byte[1]));
    }

    [Fact]
    public void Stored_bytes_are_copies()
    {
        var store = new InMemoryNonVolatileStore();
        var key = new byte[] { 1, 2, 3 };
        store.Write("key", key);
        key[0] = 9;
        Assert.True(store.TryRead("key", out var read));
        Assert.Equal(1, read[0]);
    }

    [Fact]
    public void Watchdog_expires_when_not_fed_within_its_timeout()
    {
        var clock = new SimulatedClock(Start);
        var dog = new SimulatedWatchdog(clock);
        dog.Start(5000);
        clock.Advance(TimeSpan.FromSeconds(4));
        dog.Feed();
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.False(dog.HasExpired);

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(dog.HasExpired);
    }

    [Fact]
    public void Wifi_drop_is_reported_and_connect_fails_while_the_access_point_is_away()
    {
        var wifi = new SimulatedWifi();
        var changes = new List<bool>();
        wifi.AvailabilityChanged += (_, e) => changes.Add(e.IsAvailable);

        Assert.True(wifi.Connect("campus", "secret", 1000));
        wifi.SetAccessPointAvailable(false);
        Assert.False(wifi.Connect("campus", "secret", 1000));
        Assert.Equal(0, wifi.Rssi);
        wifi.SetAccessPointAvailable(true);
        Assert.True(wifi.Connect("campus", "secret", 1000));

        Assert.Equal(new[] { true, false, true }, changes);
        Assert.Equal(-61, wifi.Rssi);
    }

    [Fact]
    public void Adc_channel_reads_the_simulated_value_and_ratio()
    {
        var adc = new AdcModel();
        int channel = Esp32AdcChannels.ChannelForGpio(34);
        Assert.Equal(6, channel);
        Assert.True(Esp32AdcChannels.IsUsableWithWifi(channel));
        Assert.False(Esp32AdcChannels.IsUsableWithWifi(Esp32AdcChannels.ChannelForGpio(25)));

        adc.SetVoltage(channel, 1.65);
        using var soil = adc.OpenChannel(channel);

        Assert.Equal(2048, soil.ReadValue());
        Assert.Equal(0.5, soil.ReadRatio(), 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => adc.OpenChannel(8));
    }
}
