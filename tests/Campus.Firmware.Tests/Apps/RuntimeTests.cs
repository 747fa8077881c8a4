using System.Text.Json;
using Campus.Firmware.Common;

namespace Campus.Firmware.Tests.Apps;

/// <summary>A minimal app: publishes on request and records the commands it was given.</summary>
internal sealed class ProbeApp(DeviceRuntime runtime) : DeviceApp(runtime)
{
    private readonly List<(string Name, string Id, bool Replay)> _commands = new();

    public IReadOnlyList<(string Name, string Id, bool Replay)> Commands
    {
        get { lock (_commands) return _commands.ToArray(); }
    }

    public void Emit(string type, int n)
    {
        var members = new JsonWriter();
        members.Member("n", n);
        Runtime.PublishEvent(type, members);
    }

    public override bool OnCommand(string name, JsonNode command, CommandReply reply, bool replay)
    {
        if (name == "boom") throw new InvalidOperationException("exploded");
        if (name != "ping" && name != "config" && name != "timetable") return false;
        lock (_commands) _commands.Add((name, command.Get("id").AsString(""), replay));
        if (command.Get("fail").AsBool(false)) reply.Fail("asked to fail");
        return true;
    }
}

public sealed class RuntimeTests
{
    private static JsonElement Json(string payload) => JsonDocument.Parse(payload).RootElement;

    [Fact]
    public async Task Runtime_connects_as_its_device_id_with_the_offline_will_and_announces_itself_online()
    {
        var mqtt = new FakeMqttClient();
        await using var rig = new DeviceRig("energy", "s01-r101-m1", mqtt);
        var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));

        await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count > 0, "the online status is published");

        Assert.Equal("s01-r101-m1", mqtt.ClientId);
        Assert.Equal("s01-r101-m1", mqtt.Username);
        Assert.Equal("secret-s01-r101-m1", mqtt.Password);
        Assert.Equal("campus/v1/s01/r101/energy/s01-r101-m1/status", mqtt.WillTopic);
        Assert.Equal("{\"v\":1,\"state\":\"offline\"}", mqtt.WillMessage);
        Assert.True(mqtt.WillRetain);
        Assert.Equal(["campus/v1/s01/r101/energy/s01-r101-m1/cmd/+"], mqtt.Subscriptions);
        var status = mqtt.On("/status")[0];
        Assert.True(status.Retain);
        var doc = Json(status.Payload);
        Assert.Equal(1, doc.GetProperty("v").GetInt32());
        Assert.Equal(1u, doc.GetProperty("boot").GetUInt32());
        Assert.Equal(1u, doc.GetProperty("seq").GetUInt32());
        long start = new DateTimeOffset(DeviceRig.Start).ToUnixTimeMilliseconds();
        Assert.InRange(doc.GetProperty("ts").GetInt64(), start, start + 60_000);
        Assert.Equal("online", doc.GetProperty("state").GetString());
        Assert.Equal("1.4.0", doc.GetProperty("fw").GetString());
        Assert.Equal(-61, doc.GetProperty("rssi").GetInt32());
        Assert.Equal(0, doc.GetProperty("dropped").GetInt32());
        Assert.Equal(app.Runtime.Boot, doc.GetProperty("boot").GetUInt32());
    }

    [Fact]
    public async Task Runtime_repeats_the_online_status_every_heartbeat_interval_set_by_config()
    {
        var mqtt = new FakeMqttClient();
        await using var rig = new DeviceRig("energy", "m2", mqtt);
        await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
        await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count == 1, "the first status");

        mqtt.Deliver(rig.Topics.Command("config"), """{"v":1,"id":"cfg-1","heartbeatS":5}""");
        await rig.AdvanceUntilAsync(() => mqtt.On("/cmd/config/ack").Count == 1, "config is acknowledged");
        long before = rig.Clock.TickCountMs;
        await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count >= 4, "three heartbeats", TimeSpan.FromMilliseconds(100));

        long elapsed = rig.Clock.TickCountMs - before;
        Assert.InRange(elapsed, 10_000, 16_000); // three 5 s heartbeats (the first may come sooner than 5 s after config)
        var seqs = mqtt.Published.Select(m => Json(m.Payload).GetProperty("seq").GetUInt32()).ToArray();
        Assert.Equal(Enumerable.Range(1, seqs.Length).Select(i => (uint)i), seqs);
    }

    [Fact]
    public async Task Runtime_counts_boots_in_the_store_and_restarts_sequence_numbers_each_boot()
    {
        var store = new Campus.Simulators.Chips.InMemoryNonVolatileStore();
        var first = new FakeMqttClient();
        await using (var rig = new DeviceRig("energy", "m3", first, store))
        {
            await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
            await rig.AdvanceUntilAsync(() => first.On("/status").Count == 1, "boot 1 is online");
        }
        var second = new FakeMqttClient();
        await using (var rig = new DeviceRig("energy", "m3", second, store))
        {
            var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
            app.Emit("tamper", 1);
            await rig.AdvanceUntilAsync(() => second.Published.Count == 2, "boot 2 publishes status and an event");
            var docs = second.Published.Select(m => Json(m.Payload)).ToArray();
            Assert.All(docs, d => Assert.Equal(2u, d.GetProperty("boot").GetUInt32()));
            Assert.Equal([1u, 2u], docs.Select(d => d.GetProperty("seq").GetUInt32()).Order());
        }
    }

    [Fact]
    public async Task Offline_outbox_drops_the_oldest_counts_them_and_delivers_the_rest_in_order()
    {
        var mqtt = new FakeMqttClient { BrokerAvailable = false };
        await using var rig = new DeviceRig("env", "e1", mqtt);
        rig.Settings.OutboxCapacity = 5;
        var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
        for (int i = 1; i <= 8; i++) app.Emit("tamper", i);
        await rig.AdvanceAsync(TimeSpan.FromSeconds(3));
        Assert.Empty(mqtt.Published);
        Assert.Equal(3, app.Runtime.Dropped);

        mqtt.BrokerAvailable = true;
        await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count == 1, "the device reconnects", TimeSpan.FromMilliseconds(100));
        await rig.AdvanceUntilAsync(() => app.Runtime.Pending == 0, "the outbox is flushed");

        // The status made at connect queues behind the backlog and pushes out one more.
        var events = mqtt.On("/event").Select(m => Json(m.Payload)).ToArray();
        Assert.Equal([5, 6, 7, 8], events.Select(e => e.GetProperty("n").GetInt32()));
        Assert.Equal([5u, 6u, 7u, 8u], events.Select(e => e.GetProperty("seq").GetUInt32()));
        // The status reports the drops made before it was written; the next heartbeat reports 4.
        var status = Json(mqtt.On("/status").Single().Payload);
        Assert.Equal(3, status.GetProperty("dropped").GetInt32());
        Assert.Equal(9u, status.GetProperty("seq").GetUInt32());
        Assert.Equal(4, app.Runtime.Dropped);
    }

    [Fact]
    public async Task No_heartbeat_is_queued_while_wifi_is_down_so_a_long_outage_loses_no_event()
    {
        // The MQTT client need not notice at once that the link under it is gone (here it never does):
        // heartbeats made meanwhile would fill the bounded outbox and push out the events of the outage.
        var mqtt = new FakeMqttClient();
        await using var rig = new DeviceRig("env", "e4", mqtt);
        rig.Settings.OutboxCapacity = 8;
        var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
        await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count == 1, "the first status");
        mqtt.Deliver(rig.Topics.Command("config"), """{"v":1,"id":"cfg-1","heartbeatS":5}""");
        await rig.AdvanceUntilAsync(() => mqtt.On("/cmd/config/ack").Count == 1, "config is acknowledged");

        rig.Wifi.SetAccessPointAvailable(false);
        await rig.AdvanceUntilAsync(() => !app.Runtime.IsConnected, "offline");
        var published = mqtt.Published.Count;
        for (int i = 1; i <= 3; i++) app.Emit("tamper", i);
        await rig.AdvanceAsync(TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(500)); // 120 heartbeat intervals
        Assert.True(app.Runtime.Pending <= 4, $"{app.Runtime.Pending} messages wait in the outbox after 10 minutes offline");

        rig.Wifi.SetAccessPointAvailable(true);
        await rig.AdvanceUntilAsync(() => mqtt.On("/event").Count == 3 && app.Runtime.Pending == 0, "the outage's events are delivered", TimeSpan.FromMilliseconds(100));
        Assert.Equal([1, 2, 3], mqtt.On("/event").Select(m => Json(m.Payload).GetProperty("n").GetInt32()));
        Assert.Equal(0, app.Runtime.Dropped);
        Assert.True(mqtt.Published.Count - published <= 6, $"{mqtt.Published.Count - published} messages after the outage");
    }

    [Fact]
    public async Task Reconnect_attempts_back_off_exponentially_up_to_the_limit()
    {
        var mqtt = new FakeMqttClient { BrokerAvailable = false };
        await using var rig = new DeviceRig("env", "e2", mqtt);
        mqtt.AttemptClock = rig.Clock;
        await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
        await rig.AdvanceUntilAsync(() => mqtt.AttemptTicks.Count >= 8, "eight attempts", TimeSpan.FromMilliseconds(50));

        var ticks = mqtt.AttemptTicks.ToArray();
        var gaps = ticks.Zip(ticks.Skip(1), (a, b) => b - a).ToArray();
        // 500 ms doubling to 4000 ms, each with up to 25 % jitter and 50 ms sleep granularity.
        long[] expected = [500, 1000, 2000, 4000, 4000, 4000, 4000];
        for (int i = 0; i < expected.Length; i++)
            Assert.InRange(gaps[i], expected[i], expected[i] * 1.25 + 100);
        Assert.Equal(0, mqtt.ConnectCount);
    }

    [Fact]
    public async Task Commands_are_dispatched_and_acknowledged_once_per_id()
    {
        var mqtt = new FakeMqttClient();
        await using var rig = new DeviceRig("door", "d1", mqtt);
        var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
        await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count == 1, "online");

        mqtt.Deliver(rig.Topics.Command("ping"), """{"v":1,"id":"c-1","ts":0}""");
        mqtt.Deliver(rig.Topics.Command("ping"), """{"v":1,"id":"c-1","ts":0}"""); // QoS 1 redelivery
        mqtt.Deliver(rig.Topics.Command("ping"), """{"v":1,"id":"c-2","fail":true}""");
        mqtt.Deliver(rig.Topics.Command("warp"), """{"v":1,"id":"c-3"}""");
        mqtt.Deliver(rig.Topics.Command("ping"), """{"v":2,"id":"c-4"}""");
        mqtt.Deliver(rig.Topics.Command("boom"), """{"v":1,"id":"c-5"}""");
        mqtt.Deliver(rig.Topics.Command("ping"), """{"v":1,"id":"c-6" """); // not JSON: no id to answer
        mqtt.Deliver(rig.Topics.Command("ping"), """{"v":1}""");
        mqtt.Deliver("campus/v1/s01/r101/door/other/cmd/ping", """{"v":1,"id":"c-7"}""");
        await rig.AdvanceUntilAsync(() => mqtt.Published.Count(m => m.Topic.EndsWith("/ack", StringComparison.Ordinal)) >= 5 && app.Runtime.CommandsRejected >= 4, "acks and rejections");
        await rig.AdvanceAsync(TimeSpan.FromSeconds(1));

        var acks = mqtt.Published.Where(m => m.Topic.EndsWith("/ack", StringComparison.Ordinal))
            .Select(m => (m.Topic[(rig.Topics.CommandPrefix.Length)..], Json(m.Payload))).ToArray();
        Assert.Equal(["c-1", "c-2", "c-3", "c-4", "c-5"], acks.Select(a => a.Item2.GetProperty("id").GetString()));
        Assert.Equal(["ping/ack", "ping/ack", "warp/ack", "ping/ack", "boom/ack"], acks.Select(a => a.Item1));
        Assert.True(acks[0].Item2.GetProperty("ok").GetBoolean());
        Assert.Equal(JsonValueKind.Null, acks[0].Item2.GetProperty("error").ValueKind);
        Assert.Equal("asked to fail", acks[1].Item2.GetProperty("error").GetString());
        Assert.Contains("unknown command", acks[2].Item2.GetProperty("error").GetString());
        Assert.Equal("unsupported version", acks[3].Item2.GetProperty("error").GetString());
        Assert.Contains("exploded", acks[4].Item2.GetProperty("error").GetString());
        Assert.All(acks, a => Assert.False(a.Item2.TryGetProperty("sig", out _)));
        Assert.Equal(["c-1", "c-2"], app.Commands.Select(c => c.Id));
        Assert.Equal(4, app.Runtime.CommandsRejected);
    }

    [Fact]
    public async Task Retained_commands_are_applied_at_every_connect_acknowledged_once_and_replayed_from_the_store_at_boot()
    {
        var store = new Campus.Simulators.Chips.InMemoryNonVolatileStore();
        var mqtt = new FakeMqttClient();
        await using (var rig = new DeviceRig("sign", "sg1", mqtt, store))
        {
            var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
            await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count == 1, "online");
            mqtt.Deliver(rig.Topics.Command("timetable"), """{"v":1,"id":"tt-9","date":"2026-11-26"}""", retain: true);
            await rig.AdvanceUntilAsync(() => mqtt.On("/cmd/timetable/ack").Count == 1, "the timetable is acknowledged");

            mqtt.Drop();
            await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count == 2, "reconnected", TimeSpan.FromMilliseconds(100));
            mqtt.Deliver(rig.Topics.Command("timetable"), """{"v":1,"id":"tt-9","date":"2026-11-26"}""", retain: true);
            await rig.AdvanceUntilAsync(() => app.Commands.Count == 2, "the retained timetable is applied again");
            await rig.AdvanceAsync(TimeSpan.FromSeconds(1));
            Assert.Single(mqtt.On("/cmd/timetable/ack"));
        }

        var again = new FakeMqttClient();
        await using (var rig = new DeviceRig("sign", "sg1", again, store))
        {
            var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
            Assert.Equal([("timetable", "tt-9", true)], app.Commands);
            await rig.AdvanceUntilAsync(() => again.On("/status").Count == 1, "online after reboot");
            again.Deliver(rig.Topics.Command("timetable"), """{"v":1,"id":"tt-9","date":"2026-11-26"}""", retain: true);
            await rig.AdvanceUntilAsync(() => app.Commands.Count == 2, "applied once more");
            await rig.AdvanceAsync(TimeSpan.FromSeconds(1));
            Assert.Empty(again.On("/cmd/timetable/ack"));
        }
    }

    [Fact]
    public async Task Messages_in_flight_when_the_link_breaks_are_sent_again_in_order_after_reconnect()
    {
        var mqtt = new FakeMqttClient { AutoAcknowledge = false };
        await using var rig = new DeviceRig("env", "e3", mqtt);
        var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
        await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count == 1, "online");
        for (int i = 1; i <= 3; i++) app.Emit("tamper", i);
        await rig.AdvanceUntilAsync(() => mqtt.On("/event").Count == 3, "three events sent, unacknowledged");

        mqtt.AutoAcknowledge = true; // for what is sent after the drop; the three stay unacknowledged
        mqtt.Drop();
        await rig.AdvanceUntilAsync(() => app.Runtime.Pending == 0 && mqtt.ConnectCount == 2, "resent and acknowledged", TimeSpan.FromMilliseconds(100));

        var events = mqtt.On("/event").Select(m => Json(m.Payload).GetProperty("n").GetInt32()).ToArray();
        Assert.Equal([1, 2, 3, 1, 2, 3], events);
    }

    [Fact]
    public async Task Main_loop_feeds_the_watchdog()
    {
        var mqtt = new FakeMqttClient();
        await using var rig = new DeviceRig("env", "e4", mqtt);
        await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
        await rig.AdvanceAsync(TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        Assert.True(rig.Watchdog.IsRunning);
        Assert.False(rig.Watchdog.HasExpired);
        Assert.True(rig.Watchdog.FeedCount > 100, $"fed {rig.Watchdog.FeedCount} times");
    }
}
