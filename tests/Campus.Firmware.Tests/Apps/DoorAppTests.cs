using System.Text.Json;

namespace Campus.Firmware.Tests.Apps;

/// <summary>The door firmware over chip models, with the test playing the controller on an in-memory link.</summary>
public sealed class DoorAppTests
{
    private const string Card = "04A1B2C3";
    private const string Door = "s01-r101-door";

    private static (DeviceRig Device, DoorRig Door, IControllerLink Controller, FakeMqttClient Mqtt) Create()
    {
        var mqtt = new FakeMqttClient();
        var device = new DeviceRig("door", Door, mqtt);
        return (device, new DoorRig(device), new FakeControllerLink(mqtt), mqtt);
    }

    private static string AllowList(string card, string days = "1234567", string from = "00:00", string to = "24:00") =>
        $$"""{"v":1,"id":"al-1","version":3,"tzOffsetMin":480,"entries":[{"card":"{{card}}","windows":[{"days":"{{days}}","from":"{{from}}","to":"{{to}}"}]}]}""";

    [Fact]
    public async Task Card_tap_asks_the_controller_and_a_grant_pulses_the_strike_and_sends_a_signed_access_event()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");

        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => controller.Events("access-request").Length == 1, "the access request");
        var request = controller.Events("access-request")[0];
        Assert.Equal(Card, request.GetProperty("card").GetString());
        Assert.True(door.Verifies(request));
        string req = request.GetProperty("req").GetString()!;
        await controller.SendAsync(device.Topics.Command("access"), $$"""{"v":1,"id":"c-a1","req":"{{req}}","card":"{{Card}}","grant":true,"reason":"ok","openMs":2500}""");

        await device.AdvanceUntilAsync(() => controller.Events("access").Length == 1, "the access event");
        var access = controller.Events("access")[0];
        Assert.Equal(req, access.GetProperty("req").GetString());
        Assert.Equal("granted", access.GetProperty("result").GetString());
        Assert.Equal("ok", access.GetProperty("reason").GetString());
        Assert.Equal("controller", access.GetProperty("source").GetString());
        Assert.True(door.Verifies(access));
        Assert.Equal("sig", access.EnumerateObject().Last().Name);

        await device.AdvanceUntilAsync(() => door.StrikePulses.Count == 1 && door.StrikePulses[0].DurationMs is not null, "the strike pulse ends");
        Assert.InRange(door.StrikePulses[0].DurationMs!.Value, 2500, 2540);
        Assert.Single(controller.On("/cmd/access/ack"));
    }

    [Fact]
    public async Task Tampered_signature_does_not_verify()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => controller.Events("access-request").Length == 1, "the access request");
        string payload = controller.Events("access-request")[0].GetRawText();
        Assert.True(DoorRig.VerifySignature(Door, device.Settings.HmacKey, payload));
        Assert.False(DoorRig.VerifySignature(Door, device.Settings.HmacKey, payload.Replace(Card, "04A1B2C4", StringComparison.Ordinal)));
        Assert.False(DoorRig.VerifySignature("other-door", device.Settings.HmacKey, payload));
    }

    [Fact]
    public async Task Denial_from_the_controller_keeps_the_strike_closed()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => controller.Events("access-request").Length == 1, "the access request");
        string req = controller.Events("access-request")[0].GetProperty("req").GetString()!;
        await controller.SendAsync(device.Topics.Command("access"), $$"""{"v":1,"id":"c-d1","req":"{{req}}","card":"{{Card}}","grant":false,"reason":"card-blocked"}""");
        await device.AdvanceUntilAsync(() => controller.Events("access").Length == 1, "the access event");
        var access = controller.Events("access")[0];
        Assert.Equal("denied", access.GetProperty("result").GetString());
        Assert.Equal("card-blocked", access.GetProperty("reason").GetString());
        await device.AdvanceAsync(TimeSpan.FromSeconds(3));
        Assert.Empty(door.StrikePulses);
    }

    [Fact]
    public async Task Without_an_answer_the_door_decides_from_the_cached_allow_list_and_refuses_the_late_answer()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        await controller.SendAsync(device.Topics.Command("allowlist"), AllowList(Card), retain: true);
        await device.AdvanceUntilAsync(() => controller.On("/cmd/allowlist/ack").Count == 1, "the allow-list is acknowledged");

        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => controller.Events("access").Length == 1, "the cached decision", TimeSpan.FromMilliseconds(50));
        var request = controller.Events("access-request").Single();
        var access = controller.Events("access")[0];
        Assert.Equal("granted", access.GetProperty("result").GetString());
        Assert.Equal("cache", access.GetProperty("source").GetString());
        Assert.Equal(request.GetProperty("req").GetString(), access.GetProperty("req").GetString());
        Assert.True(access.GetProperty("ts").GetInt64() - request.GetProperty("ts").GetInt64() >= 2000);
        Assert.Single(door.StrikePulses);

        await controller.SendAsync(device.Topics.Command("access"), $$"""{"v":1,"id":"c-late","req":"{{request.GetProperty("req").GetString()}}","card":"{{Card}}","grant":true}""");
        await device.AdvanceUntilAsync(() => controller.On("/cmd/access/ack").Count == 1, "the late answer is acknowledged");
        var ack = JsonDocument.Parse(controller.On("/cmd/access/ack")[0].Payload).RootElement;
        Assert.False(ack.GetProperty("ok").GetBoolean());
        Assert.Single(controller.Events("access"));
    }

    [Fact]
    public async Task Offline_unknown_and_out_of_schedule_cards_are_denied_from_the_cache()
    {
        var (device, door, controller, mqtt) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        // Thursday 09:55 local: a Monday-only window is outside the schedule.
        await controller.SendAsync(device.Topics.Command("allowlist"),
            """{"v":1,"id":"al-2","version":4,"tzOffsetMin":480,"entries":[{"card":"04A1B2C3","windows":[{"days":"1","from":"07:00","to":"18:00"}]},{"card":"04000001","windows":[{"days":"4","from":"09:00","to":"10:00"}]}]}""", retain: true);
        await device.AdvanceUntilAsync(() => controller.On("/cmd/allowlist/ack").Count == 1, "the allow-list is acknowledged");
        device.Wifi.SetAccessPointAvailable(false);
        await device.AdvanceUntilAsync(() => !device.Runtime!.IsConnected, "offline");

        await door.TapAsync(Card);
        await door.TapAsync("04000001");
        await door.TapAsync("0499999999AABB");
        await device.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.Empty(controller.Events("access"));

        device.Wifi.SetAccessPointAvailable(true);
        await device.AdvanceUntilAsync(() => controller.Events("access").Length == 3 && device.Runtime!.Pending == 0, "the offline decisions are delivered", TimeSpan.FromMilliseconds(100));
        var decisions = controller.Events("access");
        Assert.Equal(["04A1B2C3", "04000001", "0499999999AABB"], decisions.Select(d => d.GetProperty("card").GetString()));
        Assert.Equal(["denied", "granted", "denied"], decisions.Select(d => d.GetProperty("result").GetString()));
        Assert.Equal(["outside-schedule", "ok", "unknown-card"], decisions.Select(d => d.GetProperty("reason").GetString()));
        Assert.All(decisions, d => Assert.Equal("cache", d.GetProperty("source").GetString()));
        Assert.All(decisions, d => Assert.Equal("", d.GetProperty("req").GetString()));
        Assert.All(decisions, d => Assert.True(door.Verifies(d)));
        Assert.Empty(controller.Events("access-request"));
        Assert.True(mqtt.ConnectCount >= 1);
    }

    [Fact]
    public async Task Lockdown_denies_every_card_but_the_exit_button_still_opens()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        await controller.SendAsync(device.Topics.Command("allowlist"), AllowList(Card), retain: true);
        await controller.SendAsync(device.Topics.Command("lockdown"), """{"v":1,"id":"ld-1","active":true,"message":"Stay inside"}""", retain: true);
        await device.AdvanceUntilAsync(() => door.App.Lockdown, "lockdown is active");

        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => controller.Events("access").Length == 1, "the decision");
        var access = controller.Events("access")[0];
        Assert.Equal("denied", access.GetProperty("result").GetString());
        Assert.Equal("lockdown", access.GetProperty("reason").GetString());
        Assert.Empty(controller.Events("access-request"));
        Assert.Empty(door.StrikePulses);

        door.Gpio.SetInput(door.Board.RexButton, Campus.Firmware.Ports.PinValue.Low);
        await device.AdvanceUntilAsync(() => controller.Events("rex").Length == 1, "the exit button event");
        door.Gpio.SetInput(door.Board.RexButton, Campus.Firmware.Ports.PinValue.High);
        await device.AdvanceAsync(TimeSpan.FromMilliseconds(200));
        door.OpenDoor();
        await device.AdvanceUntilAsync(() => controller.Events("door").Length == 1, "the door opens");
        Assert.Single(door.StrikePulses);
        Assert.Empty(controller.Events("forced"));
    }

    [Fact]
    public async Task Unlock_command_pulses_the_strike_for_its_open_time()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        await controller.SendAsync(device.Topics.Command("unlock"), """{"v":1,"id":"u-1","openMs":1200,"by":"guard-7"}""");
        await device.AdvanceUntilAsync(() => door.StrikePulses.Count == 1 && door.StrikePulses[0].DurationMs is not null, "the strike pulse");
        Assert.InRange(door.StrikePulses[0].DurationMs!.Value, 1200, 1240);
        var ack = JsonDocument.Parse(controller.On("/cmd/unlock/ack").Single().Payload).RootElement;
        Assert.True(ack.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Door_opened_without_grant_or_exit_request_is_reported_forced()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");

        door.OpenDoor();
        await device.AdvanceUntilAsync(() => controller.Events("forced").Length == 1, "the forced event");
        Assert.Equal("open", controller.Events("door").Single().GetProperty("state").GetString());
        Assert.True(door.Verifies(controller.Events("forced")[0]));
        door.CloseDoor();
        await device.AdvanceUntilAsync(() => controller.Events("door").Length == 2, "the door closes");
        Assert.Equal("closed", controller.Events("door")[1].GetProperty("state").GetString());

        // A granted entry is not forced.
        await controller.SendAsync(device.Topics.Command("unlock"), """{"v":1,"id":"u-2","openMs":3000}""");
        await device.AdvanceUntilAsync(() => door.StrikePulses.Count == 1, "the strike opens");
        door.OpenDoor();
        await device.AdvanceUntilAsync(() => controller.Events("door").Length == 3, "the door opens again");
        await device.AdvanceAsync(TimeSpan.FromMilliseconds(500));
        Assert.Single(controller.Events("forced"));
    }

    [Fact]
    public async Task Door_held_open_raises_a_pre_alarm_then_an_alarm_even_offline()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        await controller.SendAsync(device.Topics.Command("config"), """{"v":1,"id":"cfg-d","heldOpenS":10,"heldAlarmS":25}""", retain: true);
        await device.AdvanceUntilAsync(() => controller.On("/cmd/config/ack").Count == 1, "config acknowledged");
        device.Wifi.SetAccessPointAvailable(false);
        await device.AdvanceUntilAsync(() => !device.Runtime!.IsConnected, "offline");

        await controller.SendAsync(device.Topics.Command("unlock"), """{"v":1,"id":"u-3","openMs":2000}""");
        await device.AdvanceUntilAsync(() => door.StrikePulses.Count == 1, "the strike opens");
        door.OpenDoor();
        long openedAt = device.Clock.TickCountMs;
        await device.AdvanceAsync(TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        door.CloseDoor();
        await device.AdvanceAsync(TimeSpan.FromSeconds(1));

        device.Wifi.SetAccessPointAvailable(true);
        await device.AdvanceUntilAsync(() => controller.Events("held-open").Length == 2 && device.Runtime!.Pending == 0, "the alarms are delivered", TimeSpan.FromMilliseconds(100));
        var held = controller.Events("held-open");
        Assert.Equal(["pre-alarm", "alarm"], held.Select(h => h.GetProperty("stage").GetString()));
        Assert.Equal([10L, 25L], held.Select(h => h.GetProperty("openS").GetInt64()));
        var events = controller.On("/event").Select(m => JsonDocument.Parse(m.Payload).RootElement).ToArray();
        Assert.Equal(["door", "held-open", "held-open", "door"], events.Select(e => e.GetProperty("type").GetString()));
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.GetProperty("seq").GetUInt32() < p.Second.GetProperty("seq").GetUInt32()));
        Assert.Empty(controller.Events("forced"));
        Assert.True(device.Clock.TickCountMs - openedAt >= 25_000);
    }

    [Fact]
    public async Task Tamper_switch_reports_case_open_and_closed()
    {
        var (device, door, controller, _) = Create();
        await using var _ = device;
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        door.Gpio.SetInput(door.Board.TamperSwitch, Campus.Firmware.Ports.PinValue.High);
        await device.AdvanceUntilAsync(() => controller.Events("tamper").Length == 1, "tamper open");
        door.Gpio.SetInput(door.Board.TamperSwitch, Campus.Firmware.Ports.PinValue.Low);
        await device.AdvanceUntilAsync(() => controller.Events("tamper").Length == 2, "tamper closed");
        Assert.Equal(["open", "closed"], controller.Events("tamper").Select(t => t.GetProperty("state").GetString()));
    }
}
