using System.Globalization;
using Campus.Controller.Grains;

namespace Campus.Controller.Tests.Domain;

public sealed class DeviceWritePhaseTests
{
    [Fact]
    public void Devices_that_activate_together_write_their_state_spread_over_the_whole_interval()
    {
        var interval = TimeSpan.FromMinutes(1);
        var perTenth = new int[10];
        for (var i = 0; i < 10_000; i++)
        {
            var phase = DeviceWritePhase.Of("dev-" + i.ToString("D5", CultureInfo.InvariantCulture), interval);
            Assert.InRange(phase, TimeSpan.Zero, interval - TimeSpan.FromTicks(1));
            perTenth[(int)(phase.Ticks * 10 / interval.Ticks)]++;
        }
        // Evenly spread: every tenth of the interval gets about a tenth of the devices (1,000 each).
        Assert.All(perTenth, n => Assert.InRange(n, 800, 1_200));
    }

    [Fact]
    public void A_device_has_the_same_phase_on_every_start_and_none_without_an_interval()
    {
        var interval = TimeSpan.FromSeconds(10);
        Assert.Equal(DeviceWritePhase.Of("s01-r101-energy", interval), DeviceWritePhase.Of("s01-r101-energy", interval));
        Assert.NotEqual(DeviceWritePhase.Of("s01-r101-energy", interval), DeviceWritePhase.Of("s01-r102-energy", interval));
        Assert.Equal(TimeSpan.Zero, DeviceWritePhase.Of("s01-r101-energy", TimeSpan.Zero));
    }
}
