using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Security;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

/// <summary>
/// ACL patterns with %c trust the client id; these tests show an authenticated device cannot
/// borrow another device's id to write its topics once either identity option is on.
/// </summary>
public sealed class ClientIdentityTests : IDisposable
{
    private readonly TempDirectory _temp = TempDirectory.Create("campus-mqtt-test-");

    public void Dispose() => _temp.Dispose();

    private const string D1 = "campus/v1/s01/r101/door/d1";
    private const string D2 = "campus/v1/s01/r101/door/d2";

    private const string Acl = """
        user controller
        topic readwrite campus/v1/#
        pattern write campus/v1/+/+/+/%c/event
        pattern write campus/v1/+/+/+/%c/status
        pattern read campus/v1/+/+/+/%c/cmd/+
        """;

    public enum Mode { None, UseUsernameAsClientId, RequireClientIdMatchesUsername }

    private async Task<(MqttServer Server, CapturingLogger Logger)> StartAsync(Mode mode)
    {
        var passwd = _temp.File("passwd");
        PasswordFile.AddOrReplace(passwd, "controller", "c-pass");
        PasswordFile.AddOrReplace(passwd, "d1", "d1-pass");
        PasswordFile.AddOrReplace(passwd, "d2", "d2-pass");
        var acl = _temp.File("acl", Acl);
        var logger = new CapturingLogger();
        var server = await TestBroker.StartAsync(o =>
        {
            o.PasswordFile = passwd;
            o.AclFile = acl;
            o.AllowAnonymous = false;
            o.UseUsernameAsClientId = mode == Mode.UseUsernameAsClientId;
            o.RequireClientIdMatchesUsername = mode == Mode.RequireClientIdMatchesUsername;
        }, logger);
        return (server, logger);
    }

    /// <summary>The controller, connected with a client id of its own choosing, listening to everything.</summary>
    private static async Task<RawMqttClient> ControllerAsync(MqttServer server)
    {
        var controller = await RawMqttClient.ConnectAsync(server.Port, "controller-main", userName: "controller", password: "c-pass");
        var subAck = await controller.SubscribeAsync(1, ("campus/v1/#", MqttQualityOfServiceLevel.AtMostOnce));
        Assert.Equal([MqttSubscribeReturnCode.GrantedQoS0], subAck.SubAckCodes);
        return controller;
    }

    /// <summary>d1 publishes a forged event on d2's topic, then a genuine one on its own (QoS 1, so each is fully processed in order).</summary>
    private static async Task ForgeThenPublishOwnAsync(RawMqttClient d1)
    {
        await d1.PublishAsync($"{D2}/event", "forged", MqttQualityOfServiceLevel.AtLeastOnce, packetId: 1);
        Assert.Equal(1, (await d1.ExpectAsync(MqttPacketType.PubAck)).PacketIdentifier);
        await d1.PublishAsync($"{D1}/event", "genuine", MqttQualityOfServiceLevel.AtLeastOnce, packetId: 2);
        Assert.Equal(2, (await d1.ExpectAsync(MqttPacketType.PubAck)).PacketIdentifier);
    }

    [Fact]
    public async Task Without_an_identity_option_a_device_using_another_devices_client_id_writes_its_topics()
    {
        // The hole both options close: shows the tests below would fail without them.
        var (server, _) = await StartAsync(Mode.None);
        await using var _s = server;
        await using var controller = await ControllerAsync(server);
        await using var d1 = await RawMqttClient.ConnectAsync(server.Port, "d2", userName: "d1", password: "d1-pass");
        await d1.PublishAsync($"{D2}/event", "forged", MqttQualityOfServiceLevel.AtLeastOnce, packetId: 1);
        await d1.ExpectAsync(MqttPacketType.PubAck);
        var seen = await controller.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal(($"{D2}/event", "forged"), (seen.Topic, seen.PayloadText));
    }

    [Fact]
    public async Task With_username_as_client_id_a_device_claiming_another_id_gets_its_own_id_and_cannot_write_the_other_devices_topics()
    {
        var (server, logger) = await StartAsync(Mode.UseUsernameAsClientId);
        await using var _s = server;
        await using var controller = await ControllerAsync(server);
        await using var d1 = await RawMqttClient.ConnectAsync(server.Port, "d2", userName: "d1", password: "d1-pass");
        Assert.True(server.Core.TryGetSession("d1", out _), "the session is named after the user");
        Assert.False(server.Core.TryGetSession("d2", out _), "no session under the claimed id");

        await ForgeThenPublishOwnAsync(d1);

        var seen = await controller.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal(($"{D1}/event", "genuine"), (seen.Topic, seen.PayloadText));
        Assert.False(controller.HasPending, "the forged event must never reach a subscriber");
        Assert.True(logger.Contains("d1", $"{D2}/event", "denied"), logger.Dump());
        // The controller's account kept working under its user name.
        Assert.True(server.Core.TryGetSession("controller", out _));
    }

    [Fact]
    public async Task With_client_id_required_to_match_the_user_a_device_claiming_another_id_is_refused_with_0x02()
    {
        var (server, logger) = await StartAsync(Mode.RequireClientIdMatchesUsername);
        await using var _s = server;
        await using var controller = await ControllerAsync(server);
        Assert.True(server.Core.TryGetSession("controller-main", out _), "the controller (an ACL user section) may choose its client id");

        await using (var impostor = await RawMqttClient.OpenAsync(server.Port))
        {
            var connAck = await impostor.SendConnectAsync("d2", userName: "d1", password: "d1-pass");
            Assert.Equal(MqttConnectReturnCode.IdentifierRejected, connAck.ConnectReturnCode);
            await impostor.Closed.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(impostor.IsClosed);
        }
        Assert.False(server.Core.TryGetSession("d2", out _));
        Assert.True(logger.Contains("d2", "d1", "IdentifierRejected"), logger.Dump());

        // Connected properly, d1 still cannot write d2's topics; its own work.
        await using var d1 = await RawMqttClient.ConnectAsync(server.Port, "d1", userName: "d1", password: "d1-pass");
        await ForgeThenPublishOwnAsync(d1);
        var seen = await controller.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal(($"{D1}/event", "genuine"), (seen.Topic, seen.PayloadText));
        Assert.False(controller.HasPending, "the forged event must never reach a subscriber");
    }

    [Theory]
    [InlineData(Mode.UseUsernameAsClientId)]
    [InlineData(Mode.RequireClientIdMatchesUsername)]
    public async Task Controller_account_sends_commands_that_the_device_receives_under_either_option(Mode mode)
    {
        var (server, _) = await StartAsync(mode);
        await using var _s = server;
        await using var controller = await ControllerAsync(server);
        await using var d2 = await RawMqttClient.ConnectAsync(server.Port, "d2", userName: "d2", password: "d2-pass");
        var subAck = await d2.SubscribeAsync(1, ($"{D2}/cmd/+", MqttQualityOfServiceLevel.AtMostOnce), ($"{D1}/cmd/+", MqttQualityOfServiceLevel.AtMostOnce));
        Assert.Equal([MqttSubscribeReturnCode.GrantedQoS0, MqttSubscribeReturnCode.Failure], subAck.SubAckCodes);

        await controller.PublishAsync($"{D2}/cmd/unlock", "open");
        var command = await d2.ExpectAsync(MqttPacketType.Publish);
        Assert.Equal(($"{D2}/cmd/unlock", "open"), (command.Topic, command.PayloadText));
    }
}
