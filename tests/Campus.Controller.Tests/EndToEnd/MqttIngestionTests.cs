using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.Testing;
using Campus.Mqtt;
using Campus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Controller.Tests.EndToEnd;

public sealed class MqttIngestionTests
{
    private static async Task<SchoolSetup> SetUpAsync(CampusTestCluster cluster)
    {
        await cluster.AddSchoolAsync("s01", "Asia/Shanghai", null, new AccessZoneSpec("all", ["r101"]));
        await cluster.AddRoomAsync("s01", "r101");
        var meter = await cluster.AddDeviceAsync("s01", "r101", DeviceKind.Energy, "m1");
        var door = await cluster.AddDeviceAsync("s01", "r101", DeviceKind.Door, "d1");
        await cluster.Registry.UpsertPerson(new Campus.Controller.Domain.PersonProfile("p1", "Li Wei", Campus.Controller.Domain.PersonRole.Security, "s01",
            [new Campus.Controller.Domain.AccessCard("04A1B2C3", Campus.Controller.Domain.CardStatus.Active)],
            [new Campus.Controller.Domain.ZoneGrant("all", Campus.Controller.Domain.WeeklySchedule.Always)]), "admin");
        return new SchoolSetup(meter, door);
    }

    private sealed record SchoolSetup(DeviceCredentials Meter, DeviceCredentials Door);

    private static async Task<IMqttClient> ConnectAsync(string host, int port, string clientId, string? user = null, string? password = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(clientId);
        if (user is not null) builder = builder.WithCredentials(user, password);
        await client.ConnectAsync(builder.Build());
        return client;
    }

    private static MqttApplicationMessage Telemetry(string device, uint seq, double kwh) => new MqttApplicationMessageBuilder()
        .WithTopic($"campus/v1/s01/r101/energy/{device}/telemetry")
        .WithPayload($"{{\"v\":1,\"boot\":1,\"seq\":{seq},\"ts\":0,\"energyKwh\":{kwh},\"powerW\":400}}")
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .Build();

    [Fact]
    public async Task A_device_publishing_through_the_embedded_broker_is_ingested_before_its_puback()
    {
        await using var cluster = await CampusTestCluster.StartAsync();
        var setup = await SetUpAsync(cluster);
        await using var meter = await ConnectAsync(cluster.MqttHost, cluster.MqttPort, "m1", "m1", setup.Meter.MqttPassword);
        for (uint seq = 1; seq <= 20; seq++) await meter.PublishAsync(Telemetry("m1", seq, 100 + seq));
        // Every PUBACK came after the effect was durable: no waiting needed.
        var snapshot = await cluster.Device(DeviceKind.Energy, "m1").GetSnapshot();
        Assert.Equal(20, snapshot.Accepted);
        var rows = await cluster.History.GetTelemetryAsync(new Campus.Controller.History.TelemetryQuery("s01", "m1", DateTimeOffset.MinValue, DateTimeOffset.MaxValue, new Campus.Controller.History.PageRequest(100)));
        Assert.Equal(20, rows.Items.Count);
    }

    [Fact]
    public async Task The_embedded_broker_refuses_a_wrong_device_password_and_counts_a_device_writing_another_device_topics()
    {
        await using var cluster = await CampusTestCluster.StartAsync();
        var setup = await SetUpAsync(cluster);
        await Assert.ThrowsAsync<MqttConnectingFailedException>(() => ConnectAsync(cluster.MqttHost, cluster.MqttPort, "m1", "m1", "not-the-password"));
        await Assert.ThrowsAsync<MqttConnectingFailedException>(() => ConnectAsync(cluster.MqttHost, cluster.MqttPort, "d1", "m1", setup.Meter.MqttPassword));

        await using var door = await ConnectAsync(cluster.MqttHost, cluster.MqttPort, "d1", "d1", setup.Door.MqttPassword);
        await door.PublishAsync(Telemetry("m1", 1, 5)); // the door pretends to be the meter
        Assert.Equal(1, cluster.Metrics.RejectedFor("sender-mismatch"));
        Assert.Equal(0, (await cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Accepted);
    }

    [Fact]
    public async Task The_embedded_broker_lets_a_device_subscribe_to_its_own_commands_only_and_the_host_writes_no_acl_file()
    {
        await using var cluster = await CampusTestCluster.StartAsync();
        var setup = await SetUpAsync(cluster);
        await using var door = await ConnectAsync(cluster.MqttHost, cluster.MqttPort, "d1", "d1", setup.Door.MqttPassword);
        var granted = await door.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("campus/v1/s01/r101/door/d1/cmd/+", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("campus/v1/s01/r101/energy/m1/cmd/+", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        Assert.Equal([MqttSubscribeReturnCode.GrantedQoS1, MqttSubscribeReturnCode.Failure], granted.Items.Select(i => i.ResultCode));

        // The rules reach the broker as text: a host started for every test or demo leaves no file behind.
        var broker = cluster.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Campus.Mqtt.Server.MqttServerOptions>>().Value;
        Assert.Null(broker.AclFile);
        Assert.Contains("pattern read campus/v1/+/+/+/%c/cmd/+", broker.AclRules, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_card_reader_gets_its_access_answer_over_mqtt()
    {
        await using var cluster = await CampusTestCluster.StartAsync();
        var setup = await SetUpAsync(cluster);
        await using var door = await ConnectAsync(cluster.MqttHost, cluster.MqttPort, "d1", "d1", setup.Door.MqttPassword);
        var answers = new List<string>();
        door.ApplicationMessageReceivedAsync += e =>
        {
            if (e.ApplicationMessage.Topic.EndsWith("/cmd/access", StringComparison.Ordinal))
                lock (answers) answers.Add(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await door.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("campus/v1/s01/r101/door/d1/cmd/+", MqttQualityOfServiceLevel.AtLeastOnce).Build());
        var key = Convert.FromBase64String(setup.Door.HmacKeyBase64);
        var request = EventSigner.Sign("d1", key, "{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":0,\"type\":\"access-request\",\"req\":\"q1\",\"card\":\"04A1B2C3\"}"u8);
        await door.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("campus/v1/s01/r101/door/d1/event").WithPayload(request)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Poll.UntilAsync(() => { lock (answers) return answers.Count > 0; }, "the door receives cmd/access");
        lock (answers) Assert.Contains("\"grant\":true", answers[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingestion_through_a_real_mosquitto_acknowledges_after_the_effect_and_drops_redelivered_copies()
    {
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var cluster = await CampusTestCluster.StartAsync(configure: o => o.ExternalBroker = (mosquitto.Host, mosquitto.Port));
        await SetUpAsync(cluster);
        await Poll.UntilAsync(() => cluster.IngestionReady, "the controller is connected to mosquitto");
        await Task.Delay(200); // the subscription follows the CONNACK
        await using var meter = await ConnectAsync(mosquitto.Host, mosquitto.Port, "m1");
        for (uint seq = 1; seq <= 30; seq++) await meter.PublishAsync(Telemetry("m1", seq, 100 + seq));
        await meter.PublishAsync(Telemetry("m1", 30, 130)); // a copy
        await meter.PublishAsync(Telemetry("zz9", 1, 1)); // not registered
        await Poll.UntilAsync(async () => (await cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Accepted == 30 && cluster.Metrics.RejectedFor("unknown-device") == 1,
            "30 readings are ingested and the unknown device is counted");
        Assert.Equal(1, (await cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Duplicates);
        var room = await cluster.Room("s01", "r101").GetSnapshot();
        Assert.Equal(29, room.EnergyTodayKwh, 6);
    }

    [Fact]
    public async Task Mosquitto_pub_as_a_real_peer_reaches_the_device_grain()
    {
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var cluster = await CampusTestCluster.StartAsync(configure: o => o.ExternalBroker = (mosquitto.Host, mosquitto.Port));
        await SetUpAsync(cluster);
        await Poll.UntilAsync(() => cluster.IngestionReady, "the controller is connected to mosquitto");
        await Task.Delay(200);
        var (code, _, error) = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", mosquitto.Host, "-p", mosquitto.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-i", "m1", "-q", "1", "-t", "campus/v1/s01/r101/energy/m1/telemetry", "-m", "{\"v\":1,\"boot\":2,\"seq\":1,\"ts\":0,\"powerW\":250}"]);
        Assert.True(code == 0, error);
        await Poll.UntilAsync(async () => (await cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).PowerW == 250, "the reading reaches the meter's grain");
    }

    [Fact]
    public async Task Through_a_real_mosquitto_a_reading_refused_during_a_storage_outage_is_sent_again_and_stored_once_storage_is_back()
    {
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var cluster = await CampusTestCluster.StartAsync(configure: o => o.ExternalBroker = (mosquitto.Host, mosquitto.Port));
        await SetUpAsync(cluster);
        await Poll.UntilAsync(() => cluster.IngestionReady, "the controller is connected to mosquitto");
        await Task.Delay(200);
        var store = (Campus.Controller.History.InMemoryHistoryStore)cluster.History;
        await using var meter = await ConnectAsync(mosquitto.Host, mosquitto.Port, "m1");
        await meter.PublishAsync(Telemetry("m1", 1, 101));
        await Poll.UntilAsync(async () => (await cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Accepted == 1, "the first reading is stored");

        store.SimulatedOutage = "simulated disk full";
        await meter.PublishAsync(Telemetry("m1", 2, 102));   // mosquitto has it; the controller cannot store it
        await Poll.UntilAsync(() => cluster.Metrics.ReceivedTotal >= 2 && cluster.Services.GetRequiredService<Campus.Controller.Ingestion.IngestionStatus>().InFlight == 0,
            "the second reading was refused");
        store.SimulatedOutage = null;

        // While connected, mosquitto sends an unacknowledged message again only when the session resumes.
        await Poll.UntilAsync(async () => (await cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Accepted == 2, "the refused reading is sent again and stored");
        var stored = await cluster.History.GetTelemetryAsync(new Campus.Controller.History.TelemetryQuery("s01", "m1", DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1)));
        Assert.Equal([1u, 2u], stored.Items.Select(t => t.Record.Seq).Order());
    }
}
