using System.Text;
using System.Text.Json;
using Campus.Mqtt.Server;
using Campus.Simulators.Chips;
using Campus.Testing;

namespace Campus.Firmware.Tests.Apps;

/// <summary>
/// The outbox's re-sends carry MQTT's DUP flag, so the controller takes a copy of a signed event
/// that may have arrived already for a redelivery; new messages never carry it.
/// </summary>
public sealed class ResendDupTests
{
    private static int N(PublishedMessage m) => JsonDocument.Parse(m.Payload).RootElement.GetProperty("n").GetInt32();

    [Fact]
    public async Task Events_in_flight_when_the_link_breaks_are_sent_again_with_dup_and_new_events_without()
    {
        var mqtt = new FakeMqttClient { AutoAcknowledge = false };
        await using var rig = new DeviceRig("env", "e7", mqtt);
        var app = await rig.RunAsync(new ProbeApp(rig.CreateRuntime()));
        await rig.AdvanceUntilAsync(() => mqtt.On("/status").Count == 1, "online");
        for (int i = 1; i <= 2; i++) app.Emit("tamper", i);
        await rig.AdvanceUntilAsync(() => mqtt.On("/event").Count == 2, "two events sent, unacknowledged");

        mqtt.AutoAcknowledge = true;
        mqtt.Drop(); // the PUBACKs are lost with the link
        await rig.AdvanceUntilAsync(() => app.Runtime.Pending == 0 && mqtt.ConnectCount == 2, "resent and acknowledged", TimeSpan.FromMilliseconds(100));
        app.Emit("tamper", 3);
        await rig.AdvanceUntilAsync(() => mqtt.On("/event").Count == 5, "the new event is sent");

        var events = mqtt.On("/event").Select(m => (N(m), m.Dup)).ToArray();
        Assert.Equal([(1, false), (2, false), (1, true), (2, true), (3, false)], events);
        // The re-sent copies are the very same bytes (same boot, seq and signature).
        var sent = mqtt.On("/event");
        Assert.Equal((sent[0].Payload, sent[1].Payload), (sent[2].Payload, sent[3].Payload));
    }

    [Fact]
    public async Task Over_a_real_broker_the_adapter_resends_a_signed_door_event_with_dup_after_its_puback_was_lost()
    {
        var options = new MqttServerOptions { BindAddress = "127.0.0.1", Port = FreePort.Get(), AllowAnonymous = true };
        await using var server = new MqttServer(options);
        var seen = new List<(string Payload, bool Dup)>();
        server.InterceptingPublishAsync += e =>
        {
            if (!e.ApplicationMessage.Topic.EndsWith("/event", StringComparison.Ordinal)) return Task.CompletedTask;
            bool first;
            lock (seen)
            {
                seen.Add((Encoding.UTF8.GetString(e.ApplicationMessage.Payload), e.ApplicationMessage.Dup));
                first = seen.Count == 1;
            }
            // The first copy is taken in, but its PUBACK never leaves: the connection closes.
            if (first) e.CloseConnection = true;
            return Task.CompletedTask;
        };
        await server.StartAsync();
        await using var device = new DeviceRig("door", "s01-r103-door", new MqttClientAdapter(options.BindAddress, options.Port, TimeSpan.FromSeconds(5)));
        var door = new DoorRig(device);
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "the door is online");

        await door.TapAsync("04A1B2C3"); // an access request, a signed event
        await device.AdvanceUntilAsync(() => { lock (seen) return seen.Count >= 2; }, "the door sends the event again after reconnecting", TimeSpan.FromMilliseconds(5));

        lock (seen)
        {
            Assert.Equal((false, true), (seen[0].Dup, seen[1].Dup));
            Assert.Equal(seen[0].Payload, seen[1].Payload);
            Assert.Contains("\"type\":\"access-request\"", seen[0].Payload, StringComparison.Ordinal);
        }
    }
}
