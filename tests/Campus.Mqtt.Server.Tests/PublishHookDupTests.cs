using System.Text;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

/// <summary>The publish hook shows the DUP flag the sender set, so an application can tell a re-send from a fresh publish.</summary>
public sealed class PublishHookDupTests
{
    [Fact]
    public async Task Intercepting_hook_sees_dup_clear_on_a_fresh_publish_and_set_on_a_resend()
    {
        await using var server = await TestBroker.StartAsync();
        var seen = new List<(string Payload, bool Dup)>();
        server.InterceptingPublishAsync += e =>
        {
            lock (seen) seen.Add((Encoding.UTF8.GetString(e.ApplicationMessage.Payload), e.ApplicationMessage.Dup));
            return Task.CompletedTask;
        };
        await using var pub = await RawMqttClient.ConnectAsync(server.Port, "reader-1", cleanSession: false);
        await pub.PublishAsync("doors/d1/event", "open", MqttQualityOfServiceLevel.AtLeastOnce, packetId: 9);
        await pub.ExpectAsync(MqttPacketType.PubAck);
        // The same packet again, as a client sends it when it missed the PUBACK.
        await pub.PublishAsync("doors/d1/event", "open", MqttQualityOfServiceLevel.AtLeastOnce, packetId: 9, dup: true);
        await pub.ExpectAsync(MqttPacketType.PubAck);
        // The same bytes as a new publish (new identifier, no DUP): the hook must not see DUP.
        await pub.PublishAsync("doors/d1/event", "open", MqttQualityOfServiceLevel.AtLeastOnce, packetId: 10);
        await pub.ExpectAsync(MqttPacketType.PubAck);

        lock (seen) Assert.Equal([("open", false), ("open", true), ("open", false)], seen);
    }

    [Fact]
    public async Task Intercepting_hook_sees_dup_set_when_the_client_resends_after_a_dropped_connection()
    {
        await using var server = await TestBroker.StartAsync();
        var seen = new List<bool>();
        server.InterceptingPublishAsync += e =>
        {
            bool first;
            lock (seen)
            {
                seen.Add(e.ApplicationMessage.Dup);
                first = seen.Count == 1;
            }
            // The first copy is "lost": the connection closes before the PUBACK leaves.
            if (first)
            {
                e.ProcessPublish = false;
                e.CloseConnection = true;
            }
            return Task.CompletedTask;
        };
        await using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", server.Port)
            .WithClientId("reader-2")
            .WithCleanSession(false)
            .WithAutoReconnect(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200))
            .Build());

        var message = new MqttApplicationMessageBuilder()
            .WithTopic("doors/d2/event")
            .WithPayload("granted")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        await client.PublishAsync(message).WaitAsync(TimeSpan.FromSeconds(30));

        lock (seen) Assert.Equal([false, true], seen);
    }
}
