using System.Collections.Concurrent;
using System.Text;
using Campus.Firmware.Ports;
using Campus.Simulators.Chips;
using Campus.Testing;

namespace Campus.Firmware.Tests.Chips;

public sealed class MqttClientAdapterTests : IAsyncLifetime
{
    private MosquittoServer _broker = null!;

    public async Task InitializeAsync() => _broker = await MosquittoServer.StartAsync(new MosquittoOptions { Persistence = false });

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public void Connect_subscribe_publish_and_receive_through_a_real_broker()
    {
        using var device = new MqttClientAdapter(_broker.Host, _broker.Port);
        var received = new BlockingCollection<MqttMsgPublishEventArgs>();
        var published = new BlockingCollection<MqttMsgPublishedEventArgs>();
        device.MqttMsgPublishReceived += (_, e) => received.Add(e);
        device.MqttMsgPublished += (_, e) => published.Add(e);

        var code = device.Connect("s01-r101-door", string.Empty, string.Empty, false, MqttQoS.AtLeastOnce, false, string.Empty, string.Empty, true, 30);
        Assert.Equal(MqttReasonCode.Success, code);
        Assert.True(device.IsConnected);
        Assert.Equal("s01-r101-door", device.ClientId);

        device.Subscribe(new[] { "campus/v1/s01/r101/door/s01-r101-door/cmd/+" }, new[] { MqttQoS.AtLeastOnce });
        ushort id = device.Publish("campus/v1/s01/r101/door/s01-r101-door/cmd/unlock", Encoding.UTF8.GetBytes("{\"v\":1}"), MqttQoS.AtLeastOnce, false);

        Assert.NotEqual(0, id);
        Assert.True(published.TryTake(out var ack, TimeSpan.FromSeconds(10)), "no PUBACK reported");
        Assert.Equal(id, ack.MessageId);
        Assert.True(ack.IsPublished);
        Assert.True(received.TryTake(out var message, TimeSpan.FromSeconds(10)), "own command not received");
        Assert.Equal("campus/v1/s01/r101/door/s01-r101-door/cmd/unlock", message.Topic);
        Assert.Equal("{\"v\":1}", Encoding.UTF8.GetString(message.Message));
        Assert.Equal(MqttQoS.AtLeastOnce, message.QosLevel);

        device.Disconnect();
        Assert.False(device.IsConnected);
    }

    [Fact]
    public async Task Last_will_reaches_a_watcher_when_the_link_drops_and_not_after_a_clean_disconnect()
    {
        const string statusTopic = "campus/v1/s01/r101/energy/m1/status";
        using var watcher = new MqttClientAdapter(_broker.Host, _broker.Port);
        var statuses = new BlockingCollection<string>();
        watcher.MqttMsgPublishReceived += (_, e) => statuses.Add(Encoding.UTF8.GetString(e.Message));
        Assert.Equal(MqttReasonCode.Success, watcher.Connect("watcher"));
        watcher.Subscribe(new[] { statusTopic }, new[] { MqttQoS.AtLeastOnce });

        var clean = new MqttClientAdapter(_broker.Host, _broker.Port);
        clean.Connect("m1", string.Empty, string.Empty, true, MqttQoS.AtLeastOnce, true, statusTopic, "{\"v\":1,\"state\":\"offline\"}", true, 5);
        clean.Disconnect();
        clean.Dispose();

        await using var relay = new TcpRelay(_broker.Port);
        using var vanishing = new MqttClientAdapter(_broker.Host, relay.Port);
        int closed = 0;
        vanishing.ConnectionClosed += (_, _) => Interlocked.Increment(ref closed);
        vanishing.Connect("m1", string.Empty, string.Empty, true, MqttQoS.AtLeastOnce, true, statusTopic, "{\"v\":1,\"state\":\"offline\"}", true, 5);
        relay.CutAll();   // the link drops: no DISCONNECT reaches the broker

        Assert.True(statuses.TryTake(out var will, TimeSpan.FromSeconds(15)), "the will was not published");
        Assert.Equal("{\"v\":1,\"state\":\"offline\"}", will);
        Assert.False(statuses.TryTake(out var extra, TimeSpan.FromMilliseconds(300)), $"a second will arrived: {extra}");
        await Poll.UntilAsync(() => Volatile.Read(ref closed) == 1, "the device sees its connection closed");
    }

    [Fact]
    public async Task Simulated_link_loss_makes_the_broker_publish_the_will_and_disconnect_does_not()
    {
        const string statusTopic = "campus/v1/s01/r101/door/d7/status";
        using var watcher = new MqttClientAdapter(_broker.Host, _broker.Port);
        var statuses = new BlockingCollection<string>();
        watcher.MqttMsgPublishReceived += (_, e) => statuses.Add(Encoding.UTF8.GetString(e.Message));
        Assert.Equal(MqttReasonCode.Success, watcher.Connect("watcher-7"));
        watcher.Subscribe(new[] { statusTopic }, new[] { MqttQoS.AtLeastOnce });

        // A clean Disconnect() first: its will (another payload) must never show up.
        using (var clean = new MqttClientAdapter(_broker.Host, _broker.Port))
        {
            clean.Connect("d7", string.Empty, string.Empty, false, MqttQoS.AtLeastOnce, true, statusTopic, "will-after-disconnect", true, 30);
            clean.Disconnect();
        }

        using var device = new MqttClientAdapter(_broker.Host, _broker.Port);
        int closed = 0;
        device.ConnectionClosed += (_, _) => Interlocked.Increment(ref closed);
        device.Connect("d7", string.Empty, string.Empty, false, MqttQoS.AtLeastOnce, true, statusTopic, "will-after-power-cut", true, 30);
        device.SimulateLinkLoss();

        Assert.True(statuses.TryTake(out var will, TimeSpan.FromSeconds(15)), "the will was not published");
        Assert.Equal("will-after-power-cut", will);
        await Poll.UntilAsync(() => Volatile.Read(ref closed) == 1 && !device.IsConnected, "the device sees its connection lost");
    }

    [Fact]
    public async Task Connection_closed_is_raised_when_the_broker_goes_away()
    {
        using var device = new MqttClientAdapter(_broker.Host, _broker.Port);
        int closed = 0;
        device.ConnectionClosed += (_, _) => Interlocked.Increment(ref closed);
        device.Connect("d-closed");

        await _broker.KillAsync();

        await Poll.UntilAsync(() => Volatile.Read(ref closed) == 1, "ConnectionClosed is raised once");
        Assert.False(device.IsConnected);
        Assert.Throws<MqttCommunicationException>(() => device.Publish("a/b", new byte[] { 1 }, MqttQoS.AtLeastOnce, false));
    }

    [Fact]
    public void Unreachable_broker_throws_a_communication_exception()
    {
        using var device = new MqttClientAdapter("127.0.0.1", FreePort.Get(), TimeSpan.FromSeconds(2));
        var error = Assert.Throws<MqttCommunicationException>(() => device.Connect("d-nowhere"));
        Assert.Contains("127.0.0.1", error.Message);
    }

    [Fact]
    public async Task Refused_credentials_return_the_brokers_reason_code()
    {
        var dir = Directory.CreateTempSubdirectory("campus-fw-auth-").FullName;
        try
        {
            string passwd = Path.Combine(dir, "passwd");
            var made = await ExternalProcess.RunAsync("mosquitto_passwd", new[] { "-b", "-c", passwd, "door1", "right" });
            Assert.True(made.ExitCode == 0, made.Error);
            await using var secured = await MosquittoServer.StartAsync(new MosquittoOptions { AllowAnonymous = false, PasswordFile = passwd, Persistence = false });
            using var device = new MqttClientAdapter(secured.Host, secured.Port);

            var refused = device.Connect("door1", "door1", "wrong");
            var accepted = device.Connect("door1", "door1", "right");

            Assert.True(refused is MqttReasonCode.BadUserNameOrPassword or MqttReasonCode.NotAuthorized, $"got {refused}");
            Assert.Equal(MqttReasonCode.Success, accepted);
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public void Subscribe_needs_one_qos_per_topic()
    {
        using var device = new MqttClientAdapter(_broker.Host, _broker.Port);
        device.Connect("d-sub");
        Assert.Throws<ArgumentException>(() => device.Subscribe(new[] { "a/#", "b/#" }, new[] { MqttQoS.AtLeastOnce }));
    }
}
