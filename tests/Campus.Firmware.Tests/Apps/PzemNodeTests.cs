using Campus.Firmware.Apps.Energy;
using Campus.Firmware.Drivers;
using Campus.Simulators.Chips;

namespace Campus.Firmware.Tests.Apps;

public sealed class PzemNodeTests
{
    [Fact]
    public async Task Energy_node_with_a_pzem_meter_reports_the_meters_own_energy_register()
    {
        var mqtt = new FakeMqttClient();
        await using var device = new DeviceRig("energy", "s01-r101-m9", mqtt);
        var meter = new Pzem004tModel(device.Clock);
        meter.SetLoad(230.0, 4.0, 0.9);
        meter.SetEnergyWh(1_234_567);
        var app = new EnergyNodeApp(device.CreateRuntime(), new EnergyNodeHardware { Pzem = new Pzem004t(meter, 0x01, 200), PzemPort = meter });
        var controller = new FakeControllerLink(mqtt);
        await device.RunAsync(app);
        await device.AdvanceUntilAsync(() => controller.Telemetry().Length == 1, "the first report", TimeSpan.FromMilliseconds(50));

        var first = controller.Telemetry()[0];
        Assert.Equal("pzem", app.Meter);
        Assert.Equal(1234.567, first.GetProperty("energyKwh").GetDouble(), 3);
        Assert.Equal(828.0, first.GetProperty("powerW").GetDouble(), 0);
        Assert.Equal(230.0, first.GetProperty("voltageV").GetDouble(), 1);
        Assert.Equal(4.0, first.GetProperty("currentA").GetDouble(), 2);
        Assert.Equal(0.9, first.GetProperty("powerFactor").GetDouble(), 2);

        // An hour at 828 W later the meter's register has moved by 0.828 kWh, and so has the report.
        await device.AdvanceAsync(TimeSpan.FromHours(1), TimeSpan.FromSeconds(10));
        await device.AdvanceUntilAsync(() => controller.Telemetry().Length >= 60, "an hour of heartbeats", TimeSpan.FromSeconds(10));
        double last = controller.Telemetry()[^1].GetProperty("energyKwh").GetDouble();
        // The clock may run on past the hour while the reports catch up on a busy machine, so the
        // report is held to the meter's own register rather than to exactly one hour of energy:
        // at least an hour's worth, and no more than two report intervals behind the register.
        double registerKwh = meter.EnergyWh / 1000.0;
        Assert.True(last - 1234.567 >= 0.828 * 0.98, $"an hour at 828 W must add 0.828 kWh; the report added {last - 1234.567:0.000}");
        Assert.InRange(last, registerKwh - 0.828 * 2 / 60 - 0.001, registerKwh + 0.001);
        Assert.Equal(0, app.SensorErrors);
    }
}
