using System.Globalization;
using System.Text;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.Ingestion;
using Campus.Controller.Testing;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Controller.Tests.Scenarios;

/// <summary>
/// A scripted school for scenario tests: school s01 (Asia/Shanghai, open Mon-Fri 07:00-18:00,
/// zone "labs" = r101), room r101 with door d1, meter m1, environment node e1 and class sign g1,
/// and teacher p1 (card 04A1B2C3, labs Mon-Fri 07:00-18:00). Devices "send" through the
/// ingestor exactly as the broker hook would. Time is a FakeTimeProvider starting on
/// Thursday 2026-11-26 at 10:00 local.
/// </summary>
internal sealed class CampusScenario : IAsyncDisposable
{
    public const string School = "s01";
    public const string Room = "r101";
    public const string TeacherCard = "04A1B2C3";

    private readonly Dictionary<string, uint> _seq = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (DeviceKind Kind, string Room)> _devices = new(StringComparer.Ordinal);

    private CampusScenario(CampusTestCluster cluster, FakeTimeProvider time)
    {
        Cluster = cluster;
        Time = time;
    }

    public CampusTestCluster Cluster { get; }
    public FakeTimeProvider Time { get; }
    public TimeZoneInfo Zone { get; } = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
    public uint Boot { get; set; } = 1;

    public static async Task<CampusScenario> StartAsync(Action<CampusTestClusterOptions>? configure = null, DateTimeOffset? start = null)
    {
        var time = new FakeTimeProvider(start ?? new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.FromHours(8)));
        var cluster = await CampusTestCluster.StartAsync(time, configure);
        var s = new CampusScenario(cluster, time);
        await cluster.AddSchoolAsync(School, "Asia/Shanghai", null, new AccessZoneSpec("labs", [Room]));
        await cluster.AddRoomAsync(School, Room);
        await s.AddDeviceAsync(DeviceKind.Door, "d1");
        await s.AddDeviceAsync(DeviceKind.Energy, "m1");
        await s.AddDeviceAsync(DeviceKind.Env, "e1");
        await s.AddDeviceAsync(DeviceKind.Sign, "g1");
        await cluster.Registry.UpsertPerson(new PersonProfile("p1", "Li Wei", PersonRole.Teacher, School,
            [new AccessCard(TeacherCard, CardStatus.Active)],
            [new ZoneGrant("labs", new WeeklySchedule([TimeWindow.Parse("12345", "07:00", "18:00")]))]), "admin");
        return s;
    }

    /// <summary>Starts the scenario, without heartbeat timeouts, on <paramref name="storage"/> as its grain storage.</summary>
    public static Task<CampusScenario> StartOnAsync(IGrainStorage storage) => StartAsync(o =>
    {
        WithoutHeartbeatTimeouts(o);
        o.ConfigureServices = services => services.AddKeyedSingleton(GrainStorageNames.Default, storage);
    });

    /// <summary>The event topic of a door of the scenario's room.</summary>
    public static string DoorEventTopic(string door) => DeviceTopic.Event(School, Room, DeviceKind.Door, door).ToString();

    public async Task<DeviceCredentials> AddDeviceAsync(DeviceKind kind, string id, string room = Room)
    {
        var credentials = await Cluster.AddDeviceAsync(School, room, kind, id);
        _keys[id] = Convert.FromBase64String(credentials.HmacKeyBase64);
        _devices[id] = (kind, room);
        return credentials;
    }

    public DateTimeOffset Now => Time.GetUtcNow();

    /// <summary>For scenarios that jump hours ahead without heartbeats: devices never time out.</summary>
    public static void WithoutHeartbeatTimeouts(CampusTestClusterOptions o)
    {
        foreach (var kind in new[] { "energy", "env", "door", "sign", "maker" })
            o.Settings[$"Campus:Controller:OfflineAfter:{kind}"] = "60.00:00:00";
    }

    /// <summary>Moves the clock to a local time on a day relative to the start (0 = Thursday 26 Nov).</summary>
    public void AdvanceToLocal(int dayOffset, int hour, int minute = 0)
    {
        var local = new DateTime(2026, 11, 26, hour, minute, 0).AddDays(dayOffset);
        var target = new DateTimeOffset(local, Zone.GetUtcOffset(local));
        if (target < Now) throw new InvalidOperationException($"The clock is at {Now}; cannot go back to {target}.");
        Time.Advance(target - Now);
    }

    public uint NextSeq(string device)
    {
        var n = _seq.GetValueOrDefault(device) + 1;
        _seq[device] = n;
        return n;
    }

    private string Common(string device, uint? seq = null) =>
        string.Create(CultureInfo.InvariantCulture, $"\"v\":1,\"boot\":{Boot},\"seq\":{seq ?? NextSeq(device)},\"ts\":{Now.ToUnixTimeMilliseconds()}");

    public Task<IngestDisposition> SendAsync(string device, TopicStream stream, string body, string? commandName = null, string? sender = null)
    {
        var (kind, room) = _devices[device];
        var topic = stream switch
        {
            TopicStream.Telemetry => DeviceTopic.Telemetry(School, room, kind, device),
            TopicStream.Status => DeviceTopic.Status(School, room, kind, device),
            TopicStream.Event => DeviceTopic.Event(School, room, kind, device),
            _ => DeviceTopic.CommandAck(School, room, kind, device, commandName!),
        };
        return SendRawAsync(topic.ToString(), Encoding.UTF8.GetBytes(body), sender ?? device);
    }

    /// <summary>
    /// Bytes as the broker hook hands them over; <paramref name="dup"/> is the PUBLISH's DUP flag (a device's
    /// re-send). Returns once the device's room has also taken the device's report (reports are one way).
    /// </summary>
    public async Task<IngestDisposition> SendRawAsync(string topic, byte[] payload, string? sender, bool dup = false)
    {
        var disposition = await Cluster.Ingestor.IngestAsync(topic, payload, sender, possibleRedelivery: dup);
        if (DeviceTopic.TryParse(topic.AsSpan(), out var parsed, out _) && _devices.TryGetValue(parsed.Device, out var device))
            await Cluster.Room(School, device.Room).GetSnapshot();
        return disposition;
    }

    /// <summary>Waits until every room of the scenario has taken the reports sent to it so far.</summary>
    public async Task SettleRoomsAsync()
    {
        foreach (var room in _devices.Values.Select(d => d.Room).Distinct(StringComparer.Ordinal))
            await Cluster.Room(School, room).GetSnapshot();
    }

    public Task<IngestDisposition> TelemetryAsync(string device, string fields) =>
        SendAsync(device, TopicStream.Telemetry, "{" + Common(device) + (fields.Length > 0 ? "," + fields : "") + "}");

    public Task<IngestDisposition> OnlineAsync(string device) =>
        SendAsync(device, TopicStream.Status, "{" + Common(device) + ",\"state\":\"online\",\"fw\":\"1.0.0\"}");

    public Task<IngestDisposition> LastWillAsync(string device) =>
        SendAsync(device, TopicStream.Status, "{\"v\":1,\"state\":\"offline\"}");

    /// <summary>An event; door events are signed with the door's key (or <paramref name="key"/>).</summary>
    public Task<IngestDisposition> EventAsync(string device, string type, string fields = "", uint? seq = null, byte[]? key = null) =>
        SendAsync(device, TopicStream.Event, Encoding.UTF8.GetString(EventBytes(device, type, fields, seq, key)));

    public byte[] EventBytes(string device, string type, string fields = "", uint? seq = null, byte[]? key = null)
    {
        var body = "{" + Common(device, seq) + ",\"type\":\"" + type + "\"" + (fields.Length > 0 ? "," + fields : "") + "}";
        var bytes = Encoding.UTF8.GetBytes(body);
        return _devices[device].Kind == DeviceKind.Door ? EventSigner.Sign(device, key ?? _keys[device], bytes) : bytes;
    }

    public Task<IngestDisposition> AckAsync(string device, string command, string id, bool ok = true) =>
        SendAsync(device, TopicStream.CommandAck, "{" + Common(device) + ",\"id\":\"" + id + "\",\"ok\":" + (ok ? "true" : "false") + ",\"error\":null}", command);

    /// <summary>A card at the door: access-request, the controller's answer, then the reader's access event.</summary>
    public async Task<AccessCommand> PresentCardAsync(string door, string card)
    {
        var before = Cluster.Commands.Count;
        await EventAsync(door, "access-request", $"\"req\":\"r{before}\",\"card\":\"{card}\"");
        var answer = Cluster.Commands.Skip(before).Select(c => c.Command).OfType<AccessCommand>().Single();
        await EventAsync(door, "access", $"\"req\":\"r{before}\",\"card\":\"{card}\",\"result\":\"{(answer.Grant ? "granted" : "denied")}\",\"reason\":\"{answer.Reason.ToWire()}\",\"source\":\"controller\"");
        return answer;
    }

    public async Task<IReadOnlyList<AlertView>> AlertsAsync(bool includeClosed = true) =>
        await Cluster.School(School).GetAlerts(includeClosed);

    public async Task<AlertType[]> AlertTypesAsync() => [.. (await AlertsAsync()).Select(a => a.Type).Distinct().Order()];

    /// <summary>Advances the clock and runs the device watch, in steps of at most a minute.</summary>
    public async Task PassAsync(TimeSpan span)
    {
        var end = Now + span;
        while (Now < end)
        {
            var step = end - Now < TimeSpan.FromMinutes(1) ? end - Now : TimeSpan.FromMinutes(1);
            Time.Advance(step);
            await Cluster.TickAsync();
            await SettleRoomsAsync();
        }
    }

    public ValueTask DisposeAsync() => Cluster.DisposeAsync();
}
