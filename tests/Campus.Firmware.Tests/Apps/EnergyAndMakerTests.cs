using System.Text.Json;
using Xunit.Abstractions;
using Campus.Firmware.Apps.Energy;
using Campus.Firmware.Apps.Maker;
using Campus.Firmware.Drivers;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Apps;

/// <summary>The energy/environment node and the maker kit over chip models and a real broker.</summary>
public sealed class EnergyAndMakerTests(ITestOutputHelper output)
{
    private static long UnixMs(DeviceRig device) => new DateTimeOffset(device.Clock.UtcNow).ToUnixTimeMilliseconds();

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task Energy_node_integrates_ina219_power_into_kwh_and_its_filters_cut_the_traffic(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("energy", "s01-r101-m1", broker.DeviceClient());
        var board = EnergyBoard.Esp32Wroom32();
        var gpio = GpioModel.Esp32(device.Clock);
        gpio.SetInput(board.Pir, PinValue.Low);
        gpio.SetInput(board.TamperSwitch, PinValue.Low);
        var ina = new Ina219Model(new I2cConnectionSettings(board.I2cBusId, 0x40)) { BusVoltageV = 12.0, CurrentA = 2.0 };
        var sht = new Sht31Model(new I2cConnectionSettings(board.I2cBusId, 0x44), device.Clock) { TemperatureC = 22.4, HumidityPct = 41.2 };
        var app = new EnergyNodeApp(device.CreateRuntime(), new EnergyNodeHardware
        {
            Ina219 = new Ina219(ina, 0.1, 3.2),
            Sht31 = new Sht31(sht, device.Clock),
            Gpio = gpio,
            PirPin = board.Pir,
            TamperPin = board.TamperSwitch,
        });
        var controller = broker.Controller;
        await device.RunAsync(app);
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the node is online");
        await controller.SendAsync(device.Topics.Command("config"), """{"v":1,"id":"cfg-e","publishS":300,"throttleS":10,"deltaW":2,"deltaC":0.5}""", retain: true);
        await device.AdvanceUntilAsync(() => controller.On("/cmd/config/ack").Count == 1, "config is acknowledged", TimeSpan.FromMilliseconds(10));
        int before = controller.Telemetry().Length;
        long quietFrom = UnixMs(device);

        var second = TimeSpan.FromSeconds(1);
        long samples = 0;
        // 20 minutes at 24 W with ripple well under deltaW: only heartbeats go out.
        for (int i = 0; i < 20 * 60; i++, samples++)
        {
            ina.CurrentA = i % 2 == 0 ? 2.0 : 2.01;
            await device.AdvanceAsync(second, second);
        }
        // A load change: reported at once (delta), then 20 minutes at 12 W.
        ina.CurrentA = 1.0;
        long switchedAt = UnixMs(device);
        for (int i = 0; i < 20 * 60; i++, samples++) await device.AdvanceAsync(second, second);
        // A flapping load for 60 s: every sample moves past deltaW, the throttle allows one report per 10 s.
        long flappingFrom = UnixMs(device);
        for (int i = 0; i < 60; i++, samples++)
        {
            ina.CurrentA = i % 2 == 0 ? 3.0 : 1.0;
            await device.AdvanceAsync(second, second);
        }
        long flappingTo = UnixMs(device);
        ina.CurrentA = 1.0;
        await device.AdvanceUntilAsync(() => device.Runtime!.Pending == 0, "everything is delivered");

        var telemetry = controller.Telemetry();
        int Between(long from, long to) => telemetry.Count(t => t.GetProperty("ts").GetInt64() is var ts && ts > from && ts <= to);
        int quietReports = Between(quietFrom + 1000, switchedAt);
        int flappingReports = Between(flappingFrom, flappingTo);
        Assert.InRange(quietReports, 3, 5);   // heartbeats at 5, 10, 15 (and 20) minutes
        Assert.InRange(flappingReports, 4, 7); // at most one per 10 s throttle, not 60
        Assert.True(telemetry.Length < samples / 50, $"{telemetry.Length} reports for {samples} samples");
        Assert.True(telemetry.Any(t => Math.Abs(t.GetProperty("powerW").GetDouble() - 12.0) < 0.1
            && t.GetProperty("ts").GetInt64() - switchedAt is >= 0 and <= 12_000),
            "a report within the 10 s throttle of the load change: " + string.Join(" ", telemetry.Select(t => $"{t.GetProperty("ts").GetInt64() - switchedAt}:{t.GetProperty("powerW").GetDouble()}")));

        // kWh between the first report after config and the last quiet-period report, against the model's power.
        var first = telemetry[before];
        var atSwitch = telemetry.Where(t => t.GetProperty("ts").GetInt64() > switchedAt + 5000 && t.GetProperty("ts").GetInt64() < switchedAt + 20 * 60 * 1000).Last();
        long t1 = first.GetProperty("ts").GetInt64();
        long t2 = atSwitch.GetProperty("ts").GetInt64();
        double expectedKwh = (24.0 * (switchedAt - t1) + 12.0 * (t2 - switchedAt)) / 3_600_000.0 / 1000.0;
        double measuredKwh = atSwitch.GetProperty("energyKwh").GetDouble() - first.GetProperty("energyKwh").GetDouble();
        output.WriteLine($"energy: measured {measuredKwh:F6} kWh, expected {expectedKwh:F6} kWh ({(measuredKwh / expectedKwh - 1) * 100:F3} %); {telemetry.Length} reports for {samples} samples");
        Assert.True(Math.Abs(measuredKwh - expectedKwh) <= expectedKwh * 0.01, $"measured {measuredKwh:F6} kWh, expected {expectedKwh:F6} kWh");
        Assert.Equal(22.4, first.GetProperty("temperatureC").GetDouble(), 1);
        Assert.Equal(41.2, first.GetProperty("humidityPct").GetDouble(), 1);
        Assert.False(first.GetProperty("occupied").GetBoolean());
        Assert.Equal(12.0, first.GetProperty("voltageV").GetDouble(), 1);

        // The counter survives a reboot: it is kept in the store.
        await device.StopAsync();
        double saved = double.Parse(device.Store.ReadString(EnergyCounter.StoreKey, "0"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(saved >= telemetry[^1].GetProperty("energyKwh").GetDouble() - 1e-6);
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task Energy_node_reports_occupancy_changes_from_the_pir(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("env", "s01-r101-env", broker.DeviceClient());
        var board = EnvBoard.Esp32Wroom32();
        var gpio = GpioModel.Esp32(device.Clock);
        gpio.SetInput(board.Pir, PinValue.Low);
        var sht = new Sht31Model(new I2cConnectionSettings(board.I2cBusId, 0x44), device.Clock);
        var app = new EnergyNodeApp(device.CreateRuntime(), new EnergyNodeHardware { Sht31 = new Sht31(sht, device.Clock), Gpio = gpio, PirPin = board.Pir });
        await device.RunAsync(app);
        await device.AdvanceUntilAsync(() => broker.Controller.Telemetry().Length == 1, "the first report", TimeSpan.FromMilliseconds(100));
        Assert.False(broker.Controller.Telemetry()[0].TryGetProperty("energyKwh", out _));

        gpio.SetInput(board.Pir, PinValue.High);
        await device.AdvanceUntilAsync(() => broker.Controller.Telemetry().Any(t => t.GetProperty("occupied").GetBoolean()), "occupancy is reported", TimeSpan.FromMilliseconds(100));
        Assert.Equal("env", device.Settings.Kind);
    }

    private sealed class MakerRig
    {
        public MakerRig(DeviceRig device)
        {
            var board = MakerBoard.Esp32Wroom32();
            Adc = new AdcModel();
            Gpio = GpioModel.Esp32(device.Clock);
            Gpio.SetInput(board.UserButton, PinValue.High);
            Sht = new Sht31Model(new I2cConnectionSettings(board.I2cBusId, 0x44), device.Clock) { TemperatureC = 23.5 };
            App = new MakerKitApp(device.CreateRuntime(), new MakerKitHardware { Adc = Adc, Gpio = Gpio, Sht31 = new Sht31(Sht, device.Clock) });
            SoilChannel = Esp32AdcChannels.ChannelForGpio(board.SoilAdc);
        }

        public AdcModel Adc { get; }
        public GpioModel Gpio { get; }
        public Sht31Model Sht { get; }
        public MakerKitApp App { get; }
        public int SoilChannel { get; }
    }

    private static string[] Milestones(IControllerLink controller) =>
        controller.Events("milestone").Select(m => m.GetProperty("milestone").GetString() + ":" + m.GetProperty("detail").GetString()).ToArray();

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task Maker_kit_publishes_configured_readings_and_first_data_sensor_added_and_rule_triggered_milestones(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("maker", "s02-lab1-kit07", broker.DeviceClient());
        var kit = new MakerRig(device);
        var controller = broker.Controller;
        kit.Adc.SetValue(kit.SoilChannel, 512);
        await device.RunAsync(kit.App);
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the kit is online");
        await device.AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        Assert.Empty(controller.Telemetry()); // not configured yet: nothing to read

        await controller.SendAsync(device.Topics.Command("config"),
            """{"v":1,"id":"cfg-m1","publishS":5,"project":"p-2026-0042","sensors":[{"name":"soil","type":"adc","pin":34},{"name":"air","type":"sht31","pin":21}],"rules":[{"sensor":"soil","above":600}]}""", retain: true);
        await device.AdvanceUntilAsync(() => controller.Telemetry().Length >= 2 && Milestones(controller).Length >= 3, "readings and milestones", TimeSpan.FromMilliseconds(100));
        var reading = controller.Telemetry()[0];
        Assert.Equal("p-2026-0042", reading.GetProperty("project").GetString());
        Assert.Equal(512, reading.GetProperty("readings").GetProperty("soil").GetDouble());
        Assert.Equal(23.5, reading.GetProperty("readings").GetProperty("air").GetDouble(), 1);
        Assert.True(reading.GetProperty("readings").TryGetProperty("airHumidity", out _));
        Assert.Equal(["sensor-added:soil (adc)", "sensor-added:air (sht31)", "first-data:soil=512"], Milestones(controller));
        Assert.All(controller.Events("milestone"), m => Assert.Equal("p-2026-0042", m.GetProperty("project").GetString()));

        // Rising edge: one milestone when soil goes above 600, none while it stays there, one more after it dropped and rose again.
        kit.Adc.SetValue(kit.SoilChannel, 700);
        await device.AdvanceUntilAsync(() => Milestones(controller).Length == 4, "the rule fires", TimeSpan.FromMilliseconds(100));
        Assert.Equal("rule-triggered:soil above 600 (700)", Milestones(controller)[3]);
        int readings = controller.Telemetry().Length;
        await device.AdvanceUntilAsync(() => controller.Telemetry().Length >= readings + 3, "three more readings above the threshold", TimeSpan.FromMilliseconds(100));
        Assert.Equal(4, Milestones(controller).Length);
        kit.Adc.SetValue(kit.SoilChannel, 550);
        await device.AdvanceUntilAsync(() => controller.Telemetry().Any(t => t.GetProperty("readings").GetProperty("soil").GetDouble() == 550), "soil drops", TimeSpan.FromMilliseconds(100));
        kit.Adc.SetValue(kit.SoilChannel, 650);
        await device.AdvanceUntilAsync(() => Milestones(controller).Length == 5, "the rule fires again", TimeSpan.FromMilliseconds(100));

        // A new sensor name in a new config is announced; the known ones are not.
        await controller.SendAsync(device.Topics.Command("config"),
            """{"v":1,"id":"cfg-m2","sensors":[{"name":"soil","type":"adc","pin":34},{"name":"air","type":"sht31","pin":21},{"name":"light","type":"adc","pin":35}]}""", retain: true);
        await device.AdvanceUntilAsync(() => Milestones(controller).Length == 6, "the new sensor is announced", TimeSpan.FromMilliseconds(100));
        Assert.Equal("sensor-added:light (adc)", Milestones(controller)[5]);
        await device.AdvanceUntilAsync(() => controller.Telemetry()[^1].GetProperty("readings").TryGetProperty("light", out _), "light is read", TimeSpan.FromMilliseconds(100));
        Assert.DoesNotContain(Milestones(controller).Skip(6), m => m.StartsWith("first-data", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task Maker_kit_rejects_a_bad_configuration_with_a_clear_error_and_keeps_the_old_one(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("maker", "s02-lab1-kit08", broker.DeviceClient());
        var kit = new MakerRig(device);
        var controller = broker.Controller;
        await device.RunAsync(kit.App);
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the kit is online");
        await controller.SendAsync(device.Topics.Command("config"),
            """{"v":1,"id":"cfg-ok","publishS":5,"project":"p-1","sensors":[{"name":"soil","type":"adc","pin":34}]}""");
        await device.AdvanceUntilAsync(() => controller.On("/cmd/config/ack").Count == 1, "the first config", TimeSpan.FromMilliseconds(50));
        await controller.SendAsync(device.Topics.Command("config"),
            """{"v":1,"id":"cfg-bad","sensors":[{"name":"soil","type":"adc","pin":5}],"rules":[{"sensor":"nope","above":1}]}""");
        await device.AdvanceUntilAsync(() => controller.On("/cmd/config/ack").Count == 2, "the bad config is answered", TimeSpan.FromMilliseconds(50));
        var ack = JsonDocument.Parse(controller.On("/cmd/config/ack")[1].Payload).RootElement;
        Assert.False(ack.GetProperty("ok").GetBoolean());
        Assert.Contains("pin 5 has no ADC channel", ack.GetProperty("error").GetString());
        Assert.Equal(34, kit.App.Config.Sensors.Single().Pin);
    }
}
