using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.Testing;
using Campus.Mqtt;
using Campus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Controller.Tests.EndToEnd;

/// <summary>
/// A byte-identical copy of a signed door event over MQTT: with DUP set it is the device's re-send
/// after a missed PUBACK (a silent duplicate); published as a new message it is a replay (an alert).
/// </summary>
public sealed class ReplayOverMqttTests
{
    private const string EventTopic = "campus/v1/s01/r101/door/d1/event";

    private static async Task<(DeviceCredentials Door, byte[] Access)> SetUpAsync(CampusTestCluster cluster)
    {
        // Open around the clock: a granted entry never raises an after-hours alert, whatever the time.
        await cluster.AddSchoolAsync("s01", "Asia/Shanghai", WeeklySchedule.Always, new AccessZoneSpec("all", ["r101"]));
        await cluster.AddRoomAsync("s01", "r101");
        var door = await cluster.AddDeviceAsync("s01", "r101", DeviceKind.Door, "d1");
        var access = EventSigner.Sign("d1", Convert.FromBase64String(door.HmacKeyBase64),
            "{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":0,\"type\":\"access\",\"req\":\"\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"cache\"}"u8);
        return (door, access);
    }

    private static async Task<AlertType[]> AlertTypesAsync(CampusTestCluster cluster) =>
        [.. (await cluster.School("s01").GetAlerts(true)).Select(a => a.Type)];

    [Fact]
    public async Task The_same_signed_access_event_published_again_without_dup_raises_a_replay_alert_and_no_second_entry()
    {
        await using var cluster = await CampusTestCluster.StartAsync();
        var (door, access) = await SetUpAsync(cluster);
        await using var device = await BareMqttClient.ConnectAsync(cluster.MqttHost, cluster.MqttPort, "d1", door.MqttPassword);

        await device.PublishAsync(EventTopic, access, packetId: 1, dup: false);
        Assert.Equal(1, (await cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Entries);

        // Captured bytes sent again as a new publish (a new packet identifier, no DUP).
        await device.PublishAsync(EventTopic, access, packetId: 2, dup: false);
        Assert.Equal([AlertType.ReplayedAccessEvent], await AlertTypesAsync(cluster));
        var snapshot = await cluster.Device(DeviceKind.Door, "d1").GetSnapshot();
        Assert.Equal((1L, 0L), (snapshot.Entries, snapshot.Duplicates));
        Assert.Equal(1, cluster.Metrics.RejectedFor("replayed"));
    }

    [Fact]
    public async Task The_same_signed_access_event_resent_with_dup_after_a_dropped_connection_is_a_silent_duplicate()
    {
        await using var cluster = await CampusTestCluster.StartAsync();
        var (door, access) = await SetUpAsync(cluster);
        await using (var first = await BareMqttClient.ConnectAsync(cluster.MqttHost, cluster.MqttPort, "d1", door.MqttPassword, cleanSession: false))
        {
            await first.PublishAsync(EventTopic, access, packetId: 1, dup: false);
        }
        // The device took the PUBACK for lost with the connection: it re-sends the packet with DUP.
        await using var again = await BareMqttClient.ConnectAsync(cluster.MqttHost, cluster.MqttPort, "d1", door.MqttPassword, cleanSession: false);
        await again.PublishAsync(EventTopic, access, packetId: 1, dup: true);

        Assert.Empty(await AlertTypesAsync(cluster));
        var snapshot = await cluster.Device(DeviceKind.Door, "d1").GetSnapshot();
        Assert.Equal((1L, 1L), (snapshot.Entries, snapshot.Duplicates));
        Assert.Equal(0, cluster.Metrics.RejectedFor("replayed"));
    }

    [Fact]
    public async Task Through_an_external_broker_the_same_signed_access_event_stays_a_duplicate_because_the_device_dup_is_unknown()
    {
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var cluster = await CampusTestCluster.StartAsync(configure: o => o.ExternalBroker = (mosquitto.Host, mosquitto.Port));
        var (_, access) = await SetUpAsync(cluster);
        await Poll.UntilAsync(() => cluster.IngestionReady, "the controller is connected to mosquitto");
        await using var device = new MqttClientFactory().CreateMqttClient();
        await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(mosquitto.Host, mosquitto.Port).WithClientId("d1").Build());
        var message = new MqttApplicationMessageBuilder().WithTopic(EventTopic).WithPayload(access)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        // The controller's subscription follows its CONNACK: publish until the first copy arrives.
        await Poll.UntilAsync(async () =>
        {
            await device.PublishAsync(message);
            return (await cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Entries == 1;
        }, "the first copy reaches the door grain");
        await device.PublishAsync(message);

        await Poll.UntilAsync(async () => (await cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Duplicates >= 1, "the copy is counted as a duplicate");
        Assert.Empty(await AlertTypesAsync(cluster));
        Assert.Equal(1, (await cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Entries);
    }

    [Fact]
    public async Task Through_mosquitto_a_door_event_refused_during_a_storage_outage_is_logged_once_when_it_comes_back_after_a_newer_one()
    {
        await using var mosquitto = await MosquittoServer.StartAsync();
        await using var cluster = await CampusTestCluster.StartAsync(configure: o => o.ExternalBroker = (mosquitto.Host, mosquitto.Port));
        var (door, access) = await SetUpAsync(cluster);
        var key = Convert.FromBase64String(door.HmacKeyBase64);
        byte[] Rex(uint seq) => EventSigner.Sign("d1", key, Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":{seq},\"ts\":0,\"type\":\"rex\"}}"));
        MqttApplicationMessage Message(byte[] payload) => new MqttApplicationMessageBuilder().WithTopic(EventTopic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        async Task<string[]> LogAsync() => [.. (await cluster.History.GetAccessLogAsync(new Campus.Controller.History.AccessLogQuery("s01", DoorId: "d1"))).Items
            .OrderBy(e => e.Entry.Seq).Select(e => $"{e.Entry.Seq}:{e.Entry.EventType}")];
        await Poll.UntilAsync(() => cluster.IngestionReady, "the controller is connected to mosquitto");
        await using var device = new MqttClientFactory().CreateMqttClient();
        await device.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(mosquitto.Host, mosquitto.Port).WithClientId("d1").Build());
        await Poll.UntilAsync(async () =>
        {
            await device.PublishAsync(Message(access));
            return (await cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Entries == 1;
        }, "the first event reaches the door grain");
        var status = cluster.Services.GetRequiredService<Campus.Controller.Ingestion.IngestionStatus>();
        await Poll.UntilAsync(() => status.InFlight == 0, "the copies of the first event are acknowledged");

        var store = (Campus.Controller.History.InMemoryHistoryStore)cluster.History;
        store.SimulatedOutage = "simulated disk full";
        await device.PublishAsync(Message(Rex(2)));   // mosquitto has it; the controller cannot store it
        // A write refused by the store (not a late copy of the first event, which is a duplicate and writes nothing).
        await Poll.UntilAsync(() => cluster.History.Health.Status == Campus.Controller.History.HistoryHealthStatus.Degraded && status.InFlight == 0,
            "the second event was refused");
        store.SimulatedOutage = null;
        // The connection stays up a while (the refused event comes back when the session resumes), so this one
        // is normally accepted first.
        await device.PublishAsync(Message(Rex(3)));

        await Poll.UntilAsync(async () => (await LogAsync()).Length == 3, "the refused event is sent again and logged", TimeSpan.FromSeconds(60));
        Assert.Equal(["1:access", "2:rex", "3:rex"], await LogAsync());
        Assert.Empty(await AlertTypesAsync(cluster));
        Assert.Equal(0, cluster.Metrics.RejectedFor("replayed"));
    }
}

/// <summary>
/// A bare MQTT 3.1.1 client on a socket, so a test sets every flag of a PUBLISH itself (the
/// project's client sets DUP only on its own re-sends). Keep-alive off; QoS 1 only.
/// </summary>
internal sealed class BareMqttClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private BareMqttClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<BareMqttClient> ConnectAsync(string host, int port, string device, string password, bool cleanSession = true)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(host, port);
        var client = new BareMqttClient(tcp);
        var body = new List<byte>();
        AddString(body, "MQTT");
        body.Add(4); // protocol level 3.1.1
        body.Add((byte)(0b1100_0000 | (cleanSession ? 0b10 : 0))); // user name and password
        body.AddRange([0, 0]); // keep-alive off
        AddString(body, device); // client id = user name = device id
        AddString(body, device);
        AddString(body, password);
        await client.SendAsync(0x10, body);
        var (type, connAck) = await client.ReadPacketAsync();
        if (type != 0x20 || connAck[1] != 0) throw new InvalidOperationException($"CONNECT refused: packet type 0x{type:X2}, return code {connAck[1]}.");
        return client;
    }

    /// <summary>A QoS 1 PUBLISH with the given identifier and DUP flag; returns at its PUBACK.</summary>
    public async Task PublishAsync(string topic, byte[] payload, ushort packetId, bool dup)
    {
        var body = new List<byte>();
        AddString(body, topic);
        body.Add((byte)(packetId >> 8));
        body.Add((byte)packetId);
        body.AddRange(payload);
        await SendAsync((byte)(0x32 | (dup ? 0x08 : 0)), body);
        while (true)
        {
            var (type, ack) = await ReadPacketAsync();
            if (type == 0x40 && BinaryPrimitives.ReadUInt16BigEndian(ack) == packetId) return;
        }
    }

    private static void AddString(List<byte> to, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        to.Add((byte)(bytes.Length >> 8));
        to.Add((byte)bytes.Length);
        to.AddRange(bytes);
    }

    private async Task SendAsync(byte header, List<byte> body)
    {
        var packet = new List<byte> { header };
        var length = body.Count;
        do
        {
            var digit = (byte)(length % 128);
            length /= 128;
            packet.Add(length > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (length > 0);
        packet.AddRange(body);
        await _stream.WriteAsync(packet.ToArray()).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    private async Task<(byte Type, byte[] Body)> ReadPacketAsync()
    {
        var header = await ReadExactlyAsync(1);
        int length = 0, shift = 0;
        byte digit;
        do
        {
            digit = (await ReadExactlyAsync(1))[0];
            length |= (digit & 0x7F) << shift;
            shift += 7;
        }
        while ((digit & 0x80) != 0);
        return ((byte)(header[0] & 0xF0), await ReadExactlyAsync(length));
    }

    private async Task<byte[]> ReadExactlyAsync(int count)
    {
        var buffer = new byte[count];
        await _stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        return buffer;
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
