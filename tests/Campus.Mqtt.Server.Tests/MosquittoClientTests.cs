using System.Globalization;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

/// <summary>The broker against Eclipse Mosquitto's own command-line clients, which no one here wrote.</summary>
public sealed class MosquittoClientTests
{
    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task WaitForSubscriptionAsync(MqttServer server, string clientId, string filter) =>
        await Poll.UntilAsync(
            () => server.Core.TryGetSession(clientId, out var s) && s!.Sink is not null && s.HasSubscription(filter),
            $"{clientId} subscribed to {filter}");

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Mosquitto_pub_reaches_mosquitto_sub_at_each_qos(int qos)
    {
        await using var server = await TestBroker.StartAsync();
        var id = $"sub-q{qos}";
        await using var sub = ExternalProcess.Start("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", P(server.Port), "-i", id, "-t", "campus/v1/s01/#", "-q", P(qos), "-C", "3", "-v"]);
        await WaitForSubscriptionAsync(server, id, "campus/v1/s01/#");

        for (var i = 0; i < 3; i++)
        {
            var pub = await ExternalProcess.RunAsync("mosquitto_pub",
                ["-h", "127.0.0.1", "-p", P(server.Port), "-t", $"campus/v1/s01/r101/energy/m{i}/telemetry", "-m", $"reading-{i}", "-q", P(qos)]);
            Assert.True(pub.ExitCode == 0, pub.Error);
        }

        Assert.Equal(0, await sub.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(
            ["campus/v1/s01/r101/energy/m0/telemetry reading-0", "campus/v1/s01/r101/energy/m1/telemetry reading-1", "campus/v1/s01/r101/energy/m2/telemetry reading-2"],
            sub.OutputLines);
    }

    [Fact]
    public async Task Retained_message_is_delivered_to_a_later_subscriber_with_the_retain_flag_and_cleared_by_an_empty_payload()
    {
        await using var server = await TestBroker.StartAsync();
        var topic = "campus/v1/s01/r101/door/d1/status";
        Assert.Equal(0, (await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", P(server.Port), "-t", topic, "-m", "offline", "-r", "-q", "1"])).ExitCode);
        Assert.Equal(0, (await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", P(server.Port), "-t", topic, "-m", "online", "-r", "-q", "1"])).ExitCode);

        // %r prints the retain flag, so a live message (flag 0) could not pass for a retained one.
        var late = await ExternalProcess.RunAsync("mosquitto_sub", ["-h", "127.0.0.1", "-p", P(server.Port), "-t", "campus/v1/+/+/door/+/status", "-C", "1", "-F", "%r %t %p"]);
        Assert.Equal(0, late.ExitCode);
        Assert.Equal($"1 {topic} online", late.Output.Trim());

        Assert.Equal(0, (await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", P(server.Port), "-t", topic, "-n", "-r", "-q", "1"])).ExitCode);
        await Poll.UntilAsync(() => server.Core.Retained.Count == 0, "the empty retained publish cleared the topic");
        Assert.Empty(server.Core.Retained.Match("#"));
    }

    [Fact]
    public async Task Will_of_a_killed_mosquitto_sub_is_published()
    {
        await using var server = await TestBroker.StartAsync();
        var willTopic = "campus/v1/s01/r101/sign/c1/status";
        await using var watcher = ExternalProcess.Start("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", P(server.Port), "-i", "watcher", "-t", willTopic, "-q", "1", "-C", "1", "-v"]);
        await WaitForSubscriptionAsync(server, "watcher", willTopic);

        var device = ExternalProcess.Start("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", P(server.Port), "-i", "sign-c1", "-t", "campus/v1/s01/r101/sign/c1/cmd/#",
             "--will-topic", willTopic, "--will-payload", "offline", "--will-qos", "1"]);
        await WaitForSubscriptionAsync(server, "sign-c1", "campus/v1/s01/r101/sign/c1/cmd/#");
        device.Kill();
        await device.DisposeAsync();

        Assert.Equal(0, await watcher.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal([$"{willTopic} offline"], watcher.OutputLines);
    }

    [Fact]
    public async Task Persistent_session_queues_qos1_messages_while_mosquitto_sub_is_offline()
    {
        await using var server = await TestBroker.StartAsync();
        string[] subArgs = ["-h", "127.0.0.1", "-p", P(server.Port), "-c", "-i", "dashboard-1", "-q", "1", "-t", "campus/v1/s01/+/access/+/event", "-v"];
        var first = ExternalProcess.Start("mosquitto_sub", subArgs);
        await WaitForSubscriptionAsync(server, "dashboard-1", "campus/v1/s01/+/access/+/event");
        first.Kill();
        await first.DisposeAsync();
        await Poll.UntilAsync(() => server.Core.TryGetSession("dashboard-1", out var s) && s!.Sink is null, "the subscriber is offline");

        for (var i = 1; i <= 3; i++)
        {
            var pub = await ExternalProcess.RunAsync("mosquitto_pub",
                ["-h", "127.0.0.1", "-p", P(server.Port), "-t", $"campus/v1/s01/r10{i}/access/a{i}/event", "-m", $"card-{i}", "-q", "1"]);
            Assert.True(pub.ExitCode == 0, pub.Error);
        }
        Assert.True(server.Core.TryGetSession("dashboard-1", out var offline));
        Assert.Equal(3, offline!.QueuedCount);

        await using var again = ExternalProcess.Start("mosquitto_sub", [.. subArgs, "-C", "3"]);
        Assert.Equal(0, await again.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(
            ["campus/v1/s01/r101/access/a1/event card-1", "campus/v1/s01/r102/access/a2/event card-2", "campus/v1/s01/r103/access/a3/event card-3"],
            again.OutputLines);
    }
}
