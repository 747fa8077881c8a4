using System.Text.Json;
using Campus.Testing;

namespace Campus.Firmware.Tests.Apps;

/// <summary>
/// The door firmware end to end: chip models under the firmware, the M2Mqtt-shaped port adapter,
/// a real broker, and the test as the controller.
/// </summary>
public sealed class DoorOverBrokerTests
{
    private const string Card = "04A1B2C3";

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task Card_tap_is_granted_by_the_controller_over_the_broker_with_a_strike_pulse_and_a_verifiable_event(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("door", "s01-r101-door", broker.DeviceClient());
        var door = new DoorRig(device);
        var controller = broker.Controller;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the door is online");

        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => controller.Events("access-request").Length == 1, "the access request reaches the controller", TimeSpan.FromMilliseconds(5));
        var request = controller.Events("access-request")[0];
        Assert.True(door.Verifies(request));
        string req = request.GetProperty("req").GetString()!;
        await controller.SendAsync(device.Topics.Command("access"), $$"""{"v":1,"id":"c-1","req":"{{req}}","card":"{{Card}}","grant":true,"reason":"ok","openMs":3000}""");

        await device.AdvanceUntilAsync(() => controller.Events("access").Length == 1, "the access event", TimeSpan.FromMilliseconds(5));
        var access = controller.Events("access")[0];
        Assert.Equal("granted", access.GetProperty("result").GetString());
        Assert.Equal("controller", access.GetProperty("source").GetString());
        Assert.Equal(req, access.GetProperty("req").GetString());
        Assert.True(door.Verifies(access));
        await device.AdvanceUntilAsync(() => door.StrikePulses.Count == 1 && door.StrikePulses[0].DurationMs is not null, "the strike closes again");
        Assert.InRange(door.StrikePulses[0].DurationMs!.Value, 3000, 3040);
        await device.AdvanceUntilAsync(() => controller.On("/cmd/access/ack").Count == 1, "the access command is acknowledged");
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task With_the_broker_down_the_door_uses_its_cache_and_delivers_everything_in_order_when_the_broker_returns(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("door", "s01-r102-door", broker.DeviceClient());
        var door = new DoorRig(device);
        var controller = broker.Controller;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the door is online");
        await controller.SendAsync(device.Topics.Command("allowlist"),
            """{"v":1,"id":"al-7","version":7,"tzOffsetMin":480,"entries":[{"card":"04A1B2C3","windows":[{"days":"12345","from":"07:00","to":"18:00"}]}]}""", retain: true);
        await device.AdvanceUntilAsync(() => controller.On("/cmd/allowlist/ack").Count == 1, "the allow-list is acknowledged", TimeSpan.FromMilliseconds(5));

        await broker.Broker.StopAsync();
        await device.AdvanceUntilAsync(() => !device.Runtime!.IsConnected, "the door notices the broker is gone", TimeSpan.FromMilliseconds(5));

        await door.TapAsync(Card);                 // allowed: granted from the cache
        await device.AdvanceUntilAsync(() => door.StrikePulses.Count == 1, "the strike opens offline");
        door.OpenDoor();                           // within the grant: not forced
        await device.AdvanceAsync(TimeSpan.FromSeconds(1));
        door.CloseDoor();
        await device.AdvanceAsync(TimeSpan.FromSeconds(5));
        await door.TapAsync("04DEAD01");           // unknown: denied from the cache
        await device.AdvanceAsync(TimeSpan.FromSeconds(1));
        door.OpenDoor();                           // no grant: forced
        await device.AdvanceAsync(TimeSpan.FromSeconds(1));
        door.CloseDoor();
        await device.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.Empty(controller.Events("access"));

        await broker.Broker.StartAgainAsync();
        await device.AdvanceUntilAsync(() => controller.Events("door").Length == 4 && device.Runtime!.Pending == 0,
            "the offline events arrive", TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(30));

        var events = controller.On("/event").Select(m => JsonDocument.Parse(m.Payload).RootElement).ToArray();
        Assert.Equal(["access", "door", "door", "access", "door", "forced", "door"], events.Select(e => e.GetProperty("type").GetString()));
        var seqs = events.Select(e => e.GetProperty("seq").GetUInt32()).ToArray();
        Assert.True(seqs.Zip(seqs.Skip(1)).All(p => p.First < p.Second), "events arrive in sequence order: " + string.Join(",", seqs));
        Assert.All(events, e => Assert.True(door.Verifies(e)));
        var decisions = controller.Events("access");
        Assert.Equal(["granted", "denied"], decisions.Select(d => d.GetProperty("result").GetString()));
        Assert.Equal(["ok", "unknown-card"], decisions.Select(d => d.GetProperty("reason").GetString()));
        Assert.All(decisions, d => Assert.Equal("cache", d.GetProperty("source").GetString()));
        Assert.Empty(controller.Events("access-request"));
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task When_the_controller_does_not_answer_the_door_decides_from_its_cache_after_the_timeout(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("door", "s01-r103-door", broker.DeviceClient());
        var door = new DoorRig(device);
        var controller = broker.Controller;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the door is online");
        await controller.SendAsync(device.Topics.Command("allowlist"),
            """{"v":1,"id":"al-8","version":8,"tzOffsetMin":480,"entries":[{"card":"04A1B2C3"}]}""", retain: true);
        await device.AdvanceUntilAsync(() => controller.On("/cmd/allowlist/ack").Count == 1, "the allow-list is acknowledged", TimeSpan.FromMilliseconds(5));

        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => controller.Events("access").Length == 1, "the cached decision after the timeout", TimeSpan.FromMilliseconds(50));
        var request = controller.Events("access-request").Single();
        var access = controller.Events("access")[0];
        Assert.Equal("granted", access.GetProperty("result").GetString());
        Assert.Equal("cache", access.GetProperty("source").GetString());
        Assert.Equal(request.GetProperty("req").GetString(), access.GetProperty("req").GetString());
        Assert.InRange(access.GetProperty("ts").GetInt64() - request.GetProperty("ts").GetInt64(), 2000, 2200);
        Assert.Single(door.StrikePulses);
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task A_command_sent_twice_with_the_same_id_is_acted_on_and_acknowledged_once(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("door", "s01-r105-door", broker.DeviceClient());
        var door = new DoorRig(device);
        var controller = broker.Controller;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the door is online");

        await controller.SendAsync(device.Topics.Command("unlock"), """{"v":1,"id":"u-77","openMs":1000,"by":"guard"}""");
        await controller.SendAsync(device.Topics.Command("unlock"), """{"v":1,"id":"u-77","openMs":1000,"by":"guard"}""");
        await device.AdvanceUntilAsync(() => controller.On("/cmd/unlock/ack").Count >= 1, "the unlock is acknowledged", TimeSpan.FromMilliseconds(10));
        await device.AdvanceAsync(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
        await controller.SendAsync(device.Topics.Command("unlock"), """{"v":1,"id":"u-78","openMs":1000,"by":"guard"}""");
        await device.AdvanceUntilAsync(() => controller.On("/cmd/unlock/ack").Count == 2, "the second unlock is acknowledged", TimeSpan.FromMilliseconds(10));
        await device.AdvanceAsync(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(50));

        var acks = controller.On("/cmd/unlock/ack").Select(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("id").GetString()!).ToArray();
        Assert.Equal(["u-77", "u-78"], acks);
        Assert.Equal(2, door.StrikePulses.Count);
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task A_long_outage_drops_the_oldest_events_and_the_status_reports_how_many(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        await using var device = new DeviceRig("door", "s01-r106-door", broker.DeviceClient());
        device.Settings.OutboxCapacity = 6;
        var door = new DoorRig(device);
        var controller = broker.Controller;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the door is online");
        await broker.Broker.StopAsync();
        await device.AdvanceUntilAsync(() => !device.Runtime!.IsConnected, "offline", TimeSpan.FromMilliseconds(5));

        for (int i = 0; i < 5; i++) // ten door events
        {
            door.OpenDoor();
            await device.AdvanceAsync(TimeSpan.FromMilliseconds(300));
            door.CloseDoor();
            await device.AdvanceAsync(TimeSpan.FromMilliseconds(300));
        }
        await device.AdvanceUntilAsync(() => device.Runtime!.Dropped >= 4, "the outbox overflows");

        await broker.Broker.StartAgainAsync();
        await device.AdvanceUntilAsync(() => controller.On("/status").Count >= 2 && device.Runtime!.Pending == 0, "reconnected and flushed", TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(30));
        await controller.SendAsync(device.Topics.Command("config"), """{"v":1,"id":"cfg-hb","heartbeatS":1}""");
        long dropped = device.Runtime!.Dropped;
        JsonElement Latest() => controller.On("/status").Select(m => JsonDocument.Parse(m.Payload).RootElement)
            .Where(e => e.TryGetProperty("seq", out _)).MaxBy(e => e.GetProperty("seq").GetUInt32()); // the will has no seq
        await device.AdvanceUntilAsync(() => Latest().GetProperty("dropped").GetInt64() == dropped, "a heartbeat reports every drop", TimeSpan.FromMilliseconds(50));

        var doors = controller.Events("door");
        Assert.Equal(dropped, device.Runtime!.Dropped);
        // Forced events ride along; every door event made offline was either delivered or counted as dropped.
        int offlineEvents = 10 + 5;
        Assert.Equal(offlineEvents, controller.On("/event").Count + dropped);
        Assert.True(dropped >= offlineEvents - device.Settings.OutboxCapacity, $"dropped {dropped}");
        Assert.Equal("closed", doors[^1].GetProperty("state").GetString());
        var seqs = controller.On("/event").Select(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("seq").GetUInt32()).ToArray();
        Assert.True(seqs.Zip(seqs.Skip(1)).All(p => p.First < p.Second));
    }

    [Theory]
    [InlineData(BrokerKind.Mosquitto)]
    [InlineData(BrokerKind.Embedded)]
    public async Task A_power_cut_makes_the_broker_publish_the_doors_offline_will_and_the_door_comes_back_online(BrokerKind kind)
    {
        await using var broker = await BrokerRig.StartAsync(kind);
        var link = broker.DeviceClient();
        await using var device = new DeviceRig("door", "s01-r107-door", link);
        var door = new DoorRig(device);
        var controller = broker.Controller;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => controller.On("/status").Count == 1, "the door is online");
        static bool IsWill(PublishedMessage m) => m.Payload == "{\"v\":1,\"state\":\"offline\"}";
        Assert.DoesNotContain(controller.On("/status"), IsWill);

        link.SimulateLinkLoss();   // no DISCONNECT reaches the broker

        await Poll.UntilAsync(() => controller.On("/status").Any(IsWill), "the broker publishes the door's will");
        var will = Assert.Single(controller.On("/status"), IsWill);
        Assert.Equal(device.Topics.Status, will.Topic);
        await device.AdvanceUntilAsync(() => controller.On("/status").Count(m => m.Payload.Contains("\"state\":\"online\"", StringComparison.Ordinal)) == 2,
            "the door reconnects and reports online", TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(30));
    }
}
