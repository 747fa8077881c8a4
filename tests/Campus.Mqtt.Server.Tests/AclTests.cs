using System.Globalization;
using Campus.Mqtt.Server.Security;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

public sealed class AclTests : IDisposable
{
    private readonly TempDirectory _temp = TempDirectory.Create("campus-mqtt-test-");

    public void Dispose() => _temp.Dispose();

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private const string Acl = """
        # anonymous clients may only read status topics
        topic read campus/v1/+/+/+/+/status
        user dashboard
        topic readwrite campus/#
        # every device: its own subtree only
        pattern readwrite campus/v1/s01/r101/door/%c/#
        pattern read campus/v1/s01/r101/door/all/%u
        """;

    /// <param name="inline">The rules as <see cref="MqttServerOptions.AclRules"/> text instead of a file.</param>
    private async Task<(MqttServer Server, CapturingLogger Logger)> StartAsync(bool inline = false)
    {
        var passwd = _temp.File("passwd");
        PasswordFile.AddOrReplace(passwd, "dashboard", "dash-pass");
        PasswordFile.AddOrReplace(passwd, "door-a", "a-pass");
        PasswordFile.AddOrReplace(passwd, "door-b", "b-pass");
        var logger = new CapturingLogger();
        var acl = inline ? null : _temp.File("acl", Acl);
        var server = await TestBroker.StartAsync(o => { o.PasswordFile = passwd; o.AclFile = acl; o.AclRules = inline ? Acl : null; o.AllowAnonymous = false; }, logger);
        return (server, logger);
    }

    [Fact]
    public async Task Broker_drops_publish_outside_the_client_acl()
    {
        var (server, logger) = await StartAsync();
        await using var _ = server;
        using var metrics = new MetricCapture(server.Meter);
        var b = "campus/v1/s01/r101/door/door-b";

        // door-b listens on its own command topics.
        await using var sub = ExternalProcess.Start("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", P(server.Port), "-u", "door-b", "-P", "b-pass", "-i", "door-b", "-t", $"{b}/cmd/#", "-q", "1", "-C", "1", "-v"]);
        await Poll.UntilAsync(() => server.Core.TryGetSession("door-b", out var s) && s!.SubscriptionCount == 1, "door-b subscribed");

        // door-a forges an unlock for door-b: QoS 1, so mosquitto_pub waits for PUBACK and the
        // attempt is fully processed before the dashboard's real command below.
        var forged = await ExternalProcess.RunAsync("mosquitto_pub",
            ["-h", "127.0.0.1", "-p", P(server.Port), "-u", "door-a", "-P", "a-pass", "-i", "door-a", "-t", $"{b}/cmd/unlock", "-m", "forged", "-q", "1"]);
        Assert.True(forged.ExitCode == 0, forged.Error);
        var real = await ExternalProcess.RunAsync("mosquitto_pub",
            ["-h", "127.0.0.1", "-p", P(server.Port), "-u", "dashboard", "-P", "dash-pass", "-i", "dash", "-t", $"{b}/cmd/unlock", "-m", "genuine", "-q", "1"]);
        Assert.True(real.ExitCode == 0, real.Error);

        Assert.Equal(0, await sub.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal([$"{b}/cmd/unlock genuine"], sub.OutputLines);
        Assert.Equal(1, metrics["campus.mqtt.broker.rejected[reason=acl]"]);
        Assert.True(logger.Contains("door-a", $"{b}/cmd/unlock", "denied"), logger.Dump());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Subscription_outside_the_acl_gets_failure_code_0x80_and_allowed_ones_are_granted(bool inline)
    {
        var (server, logger) = await StartAsync(inline);
        await using var _ = server;
        await using var door = await RawMqttClient.ConnectAsync(server.Port, "door-a", userName: "door-a", password: "a-pass");
        var subAck = await door.SubscribeAsync(1,
            ("campus/v1/s01/r101/door/door-a/cmd/#", MqttQualityOfServiceLevel.AtLeastOnce),
            ("campus/v1/s01/r101/door/door-b/cmd/#", MqttQualityOfServiceLevel.AtLeastOnce),
            ("campus/#", MqttQualityOfServiceLevel.AtMostOnce),
            ("campus/v1/s01/r101/door/all/door-a", MqttQualityOfServiceLevel.ExactlyOnce));
        Assert.Equal(
            [MqttSubscribeReturnCode.GrantedQoS1, MqttSubscribeReturnCode.Failure, MqttSubscribeReturnCode.Failure, MqttSubscribeReturnCode.GrantedQoS2],
            subAck.SubAckCodes);
        Assert.True(logger.Contains("door-a", "campus/v1/s01/r101/door/door-b/cmd/#"), logger.Dump());
    }

    [Fact]
    public void Acl_file_parses_users_patterns_and_deny_rules()
    {
        var acl = AclFile.Parse(Acl.Split('\n').Append("user blocked").Append("topic readwrite a/#").Append("topic deny a/secret/#"));
        var anonymous = acl.ForClient("sensor-9", null);
        Assert.True(anonymous.CanReceive("campus/v1/s01/r1/energy/m1/status"));
        Assert.False(anonymous.CanPublish("campus/v1/s01/r1/energy/m1/status"));
        Assert.True(anonymous.CanPublish("campus/v1/s01/r101/door/sensor-9/event")); // pattern %c applies to everyone

        var door = acl.ForClient("door-a", "door-a");
        Assert.True(door.CanPublish("campus/v1/s01/r101/door/door-a/event"));
        Assert.False(door.CanPublish("campus/v1/s01/r101/door/door-b/event"));
        Assert.True(door.CanSubscribe("campus/v1/s01/r101/door/door-a/+/unlock"));
        Assert.False(door.CanSubscribe("campus/v1/s01/r101/door/+/cmd/#"));

        // A client id with wildcards must not widen a pattern.
        var sneaky = acl.ForClient("#", "door-a");
        Assert.False(sneaky.CanPublish("campus/v1/s01/r101/door/door-b/event"));

        var blocked = acl.ForClient("c", "blocked");
        Assert.True(blocked.CanPublish("a/open"));
        Assert.False(blocked.CanPublish("a/secret/x"));
        Assert.False(blocked.CanSubscribe("a/#"));
        Assert.True(blocked.CanSubscribe("a/open/#"));
    }

    [Fact]
    public void Acl_file_with_an_unknown_keyword_is_rejected_with_its_line_number()
    {
        var e = Assert.Throws<FormatException>(() => AclFile.Parse(["user x", "topic read a", "allow b"], "acl.conf"));
        Assert.Contains("acl.conf:3", e.Message, StringComparison.Ordinal);
    }
}
