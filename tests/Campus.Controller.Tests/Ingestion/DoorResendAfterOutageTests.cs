using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Ingestion;
using Campus.Controller.Tests.Registry;
using Campus.Controller.Tests.Scenarios;
using Campus.Grains;
using Campus.Grains.Storage;
using Campus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Controller.Tests.Ingestion;

/// <summary>
/// A signed door event refused during a storage outage is sent again later, possibly after newer events were
/// accepted (through an external broker later messages keep flowing): it is stored once and is no replay, while
/// true replays are still caught; an access request sent again is not decided a second time.
/// </summary>
public sealed class DoorResendAfterOutageTests
{
    private static readonly string Topic = DeviceTopic.Event(CampusScenario.School, CampusScenario.Room, DeviceKind.Door, "d1").ToString();

    private const string CacheGrant = "\"req\":\"\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"cache\"";

    private static InMemoryHistoryStore Store(CampusScenario s) => (InMemoryHistoryStore)s.Cluster.History;

    private static async Task<string[]> LogAsync(CampusScenario s) =>
        [.. (await s.Cluster.History.GetAccessLogAsync(new AccessLogQuery(CampusScenario.School, DoorId: "d1"))).Items
            .OrderBy(e => e.Entry.Seq).Select(e => $"{e.Entry.Seq}:{e.Entry.EventType}")];

    private static async Task<DoorGrainState> PersistedDoorAsync(CampusScenario s)
    {
        var storage = s.Cluster.Services.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        var state = new GrainState<DoorGrainState>(new DoorGrainState());
        await storage.ReadStateAsync("device", s.Cluster.Device(DeviceKind.Door, "d1").GetGrainId(), state);
        return state.State;
    }

    /// <summary>Event 1 accepted, event 2 refused during an outage, event 3 accepted, then event 2's re-send (DUP).</summary>
    private static async Task<(byte[] E1, byte[] E2, byte[] E3)> RefuseTheSecondAndAcceptTheThirdAsync(CampusScenario s)
    {
        var e1 = s.EventBytes("d1", "access", CacheGrant);
        var e2 = s.EventBytes("d1", "rex");
        var e3 = s.EventBytes("d1", "door", "\"state\":\"closed\"");
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, e1, "d1"));
        Store(s).SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, e2, "d1"));
        Store(s).SimulatedOutage = null;
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, e3, "d1"));
        return (e1, e2, e3);
    }

    [Fact]
    public async Task A_refused_door_event_sent_again_after_a_newer_event_was_accepted_is_logged_once_and_raises_no_replay_alert()
    {
        await using var s = await CampusScenario.StartAsync();
        var (_, e2, _) = await RefuseTheSecondAndAcceptTheThirdAsync(s);
        // The refused event is remembered with the guard's persisted state (it survives a reactivation).
        Assert.Equal([2u], (await PersistedDoorAsync(s)).Guard.TakenBack.Select(t => t.Seq));

        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, e2, "d1", dup: true));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, e2, "d1", dup: true));   // a second re-send: a duplicate

        Assert.Equal(["1:access", "2:rex", "3:door"], await LogAsync(s));
        Assert.Empty(await s.AlertsAsync());
        var door = await s.Cluster.Device(DeviceKind.Door, "d1").GetSnapshot();
        Assert.Equal((3L, 1L, 0L, 3u), (door.Accepted, door.Duplicates, door.Missed, door.LastSeq));
        Assert.Equal(0, s.Cluster.Metrics.RejectedFor("replayed"));
        Assert.Empty((await PersistedDoorAsync(s)).Guard.TakenBack);
    }

    [Fact]
    public async Task A_byte_identical_copy_of_an_event_accepted_late_is_a_replay_when_published_again_without_dup()
    {
        await using var s = await CampusScenario.StartAsync();
        var (_, e2, e3) = await RefuseTheSecondAndAcceptTheThirdAsync(s);
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, e2, "d1", dup: true));
        Assert.Empty(await s.AlertsAsync());

        // Captured bytes published as new messages: the late event and the newer one alike.
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync(Topic, e2, "d1"));
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync(Topic, e3, "d1"));

        Assert.Equal([AlertType.ReplayedAccessEvent], await s.AlertTypesAsync());
        Assert.Equal(2, s.Cluster.Metrics.RejectedFor("replayed"));
        Assert.Equal(["1:access", "2:rex", "3:door"], await LogAsync(s));
    }

    [Fact]
    public async Task A_replay_of_an_old_accepted_event_after_a_refused_event_was_filled_raises_a_replay_alert()
    {
        await using var s = await CampusScenario.StartAsync();
        var (e1, e2, _) = await RefuseTheSecondAndAcceptTheThirdAsync(s);
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, e2, "d1", dup: true));
        Assert.Empty(await s.AlertsAsync());

        await s.PassAsync(TimeSpan.FromMinutes(1));
        // Validly signed, old (boot, seq), other bytes (a new time stamp): the accepted entry and the filled one.
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync(Topic, s.EventBytes("d1", "access", CacheGrant, seq: 1), "d1", dup: true));
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex", seq: 2), "d1", dup: true));
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync(Topic, e1, "d1"));

        Assert.Equal([AlertType.ReplayedAccessEvent], await s.AlertTypesAsync());
        Assert.Equal(3, s.Cluster.Metrics.RejectedFor("replayed"));
        Assert.Equal(["1:access", "2:rex", "3:door"], await LogAsync(s));
        Assert.Equal(1, (await s.Cluster.Device(DeviceKind.Door, "d1").GetSnapshot()).Entries);
    }

    [Fact]
    public async Task A_signed_event_below_the_last_one_that_was_never_refused_is_a_replay_even_when_sent_with_dup()
    {
        await using var s = await CampusScenario.StartAsync();
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex", seq: 1), "d1"));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex", seq: 3), "d1"));
        // Seq 2 never reached the controller and was never refused: arriving now, it is not a late re-send.
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex", seq: 2), "d1", dup: true));

        Assert.Equal([AlertType.ReplayedAccessEvent], await s.AlertTypesAsync());
        Assert.Equal(["1:rex", "3:rex"], await LogAsync(s));
    }

    [Fact]
    public async Task An_access_request_sent_again_after_a_storage_outage_keeps_its_first_answer_sent_once_and_logged_once()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var decidedAt = s.Now;
        var request = s.EventBytes("d1", "access-request", "\"req\":\"r1\",\"card\":\"04A1B2C3\"");

        Store(s).SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, request, "d1"));
        // The reader got its answer at once, though the request could not be logged.
        var answer = Assert.Single(s.Cluster.Commands.Select(c => c.Command).OfType<AccessCommand>());
        Assert.Equal(("r1", true), (answer.Req, answer.Grant));
        Store(s).SimulatedOutage = null;

        // Meanwhile the card is reported lost: a second decision would now deny it.
        var person = (await s.Cluster.Registry.GetPerson("p1"))!;
        await s.Cluster.Registry.UpsertPerson(person with { Cards = [new AccessCard(CampusScenario.TeacherCard, CardStatus.Lost)] }, "admin");
        await s.PassAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, request, "d1", dup: true));

        Assert.Single(s.Cluster.Commands.Select(c => c.Command).OfType<AccessCommand>());
        var log = (await s.Cluster.History.GetAccessLogAsync(new AccessLogQuery(CampusScenario.School, DoorId: "d1"))).Items;
        var entry = Assert.Single(log).Entry;
        Assert.Equal(("access-request", "granted", "ok", "p1", decidedAt), (entry.EventType, entry.Result, entry.Reason, entry.PersonId, entry.OccurredAt));
        Assert.Empty((await PersistedDoorAsync(s)).Answers.Pending);
    }

    [Fact]
    public async Task An_access_request_sent_again_after_the_readers_newer_events_does_not_authorize_the_door_again()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        await s.OnlineAsync("d1");
        var request = s.EventBytes("d1", "access-request", "\"req\":\"r1\",\"card\":\"04A1B2C3\"");
        Store(s).SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, request, "d1"));
        Store(s).SimulatedOutage = null;
        await s.EventAsync("d1", "access", "\"req\":\"r1\",\"card\":\"04A1B2C3\",\"result\":\"granted\",\"reason\":\"ok\",\"source\":\"controller\"");
        var keptWithTheDoor = (await PersistedDoorAsync(s)).Answers.Pending.Select(a => a.Req).ToArray();
        await s.EventAsync("d1", "door", "\"state\":\"open\"");   // the teacher walks in on the grant
        await s.EventAsync("d1", "door", "\"state\":\"closed\"");
        Assert.Empty(await s.AlertsAsync());

        await s.PassAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, request, "d1", dup: true));   // the late re-send
        await s.EventAsync("d1", "door", "\"state\":\"open\"");   // nobody was granted just now

        Assert.Equal([AlertType.DoorForced], await s.AlertTypesAsync());
        Assert.Single(s.Cluster.Commands.Select(c => c.Command).OfType<AccessCommand>());
        Assert.Equal(["2:access-request", "3:access", "4:door", "5:door", "6:door"], await LogAsync(s));
        var door = await s.Cluster.Device(DeviceKind.Door, "d1").GetSnapshot();
        Assert.Equal((0L, 0L), (door.Duplicates, door.Missed));
        // The answer waiting for its re-send was kept with the door's state (written with the reader's next event).
        Assert.Equal(["r1"], keptWithTheDoor);
    }

    [Fact]
    public async Task Every_access_request_refused_in_one_outage_keeps_its_first_answer_when_sent_again_after_newer_events()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        await s.OnlineAsync("d1");
        var requests = Enumerable.Range(1, ReplayGuard.TakenBackCount)
            .Select(i => s.EventBytes("d1", "access-request", $"\"req\":\"r{i}\",\"card\":\"04A1B2C3\"")).ToArray();
        Store(s).SimulatedOutage = "simulated disk full";
        foreach (var request in requests) Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, request, "d1"));
        Store(s).SimulatedOutage = null;
        await s.EventAsync("d1", "door", "\"state\":\"closed\"");

        // The card is reported lost meanwhile: any request decided a second time would now be denied.
        var person = (await s.Cluster.Registry.GetPerson("p1"))!;
        await s.Cluster.Registry.UpsertPerson(person with { Cards = [new AccessCard(CampusScenario.TeacherCard, CardStatus.Lost)] }, "admin");
        await s.PassAsync(TimeSpan.FromMinutes(1));
        foreach (var request in requests) Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, request, "d1", dup: true));

        var answers = s.Cluster.Commands.Select(c => c.Command).OfType<AccessCommand>().ToArray();
        Assert.Equal(requests.Length, answers.Length);
        Assert.All(answers, a => Assert.True(a.Grant));
        var log = (await s.Cluster.History.GetAccessLogAsync(new AccessLogQuery(CampusScenario.School, DoorId: "d1", Page: new PageRequest(100)))).Items;
        Assert.Equal(requests.Length, log.Count(e => e.Entry.EventType == "access-request" && e.Entry.Result == "granted"));
        Assert.Empty(await s.AlertsAsync());
        Assert.Empty((await PersistedDoorAsync(s)).Answers.Pending);
    }

    [Fact]
    public async Task What_a_refused_event_leaves_for_its_resend_is_written_with_the_doors_state_at_once()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex"), "d1"));
        var refused = s.EventBytes("d1", "rex");
        Store(s).SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, refused, "d1"));
        Store(s).SimulatedOutage = null;

        // Written before anything else happens: a host that dies now still knows the re-send when it comes back.
        Assert.Equal([2u], (await PersistedDoorAsync(s)).Guard.TakenBack.Select(t => t.Seq));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex"), "d1"));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, refused, "d1", dup: true));
        Assert.Equal(["1:rex", "2:rex", "3:rex"], await LogAsync(s));
        Assert.Empty(await s.AlertsAsync());
        Assert.Empty((await PersistedDoorAsync(s)).Guard.TakenBack);
    }

    [Fact]
    public async Task The_answer_to_an_access_request_whose_log_was_refused_is_written_with_the_doors_state_at_once()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var request = s.EventBytes("d1", "access-request", "\"req\":\"r1\",\"card\":\"04A1B2C3\"");
        Store(s).SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, request, "d1"));
        Store(s).SimulatedOutage = null;

        var persisted = await PersistedDoorAsync(s);
        var kept = Assert.Single(persisted.Answers.Pending);
        Assert.Equal((1u, "r1", true, true), (kept.Seq, kept.Req, kept.Granted, kept.Published));
        Assert.Equal([1u], persisted.Guard.TakenBack.Select(t => t.Seq));
    }

    [Fact]
    public async Task What_a_refused_event_leaves_is_written_later_when_the_grain_storage_is_down_as_well()
    {
        var storage = new CountingStorage();
        await using var s = await CampusScenario.StartOnAsync(storage);
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex"), "d1"));
        var refused = s.EventBytes("d1", "rex");
        var door = s.Cluster.Device(DeviceKind.Door, "d1").GetGrainId();
        storage.Refuse = (_, id) => id == door;
        Store(s).SimulatedOutage = "simulated disk full";
        // The grain storage's failure is logged; the device still gets the history store's refusal, and sends again.
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, refused, "d1"));
        Store(s).SimulatedOutage = null;
        storage.Refuse = null;
        Assert.Equal(1, storage.Refused);
        Assert.Empty((await PersistedDoorAsync(s)).Guard.TakenBack);

        // Idle long enough to be collected: the deactivation writes what the refused message left behind.
        await Poll.UntilAsync(async () =>
        {
            await s.PassAsync(TimeSpan.FromMinutes(20));
            return (await PersistedDoorAsync(s)).Guard.TakenBack.Count > 0;
        }, "the door's grain is collected and writes its state", TimeSpan.FromSeconds(30));

        Assert.Equal([2u], (await PersistedDoorAsync(s)).Guard.TakenBack.Select(t => t.Seq));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex"), "d1"));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, refused, "d1", dup: true));
        Assert.Equal(["1:rex", "2:rex", "3:rex"], await LogAsync(s));
        Assert.Empty(await s.AlertsAsync());
    }

    [Fact]
    public async Task A_refused_first_event_of_the_door_is_logged_once_when_sent_again_after_a_newer_one()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var first = s.EventBytes("d1", "rex");
        Store(s).SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, first, "d1"));
        Store(s).SimulatedOutage = null;
        // Nothing of this boot was seen before seq 2, so the sequence check alone would take seq 1 for old.
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex"), "d1"));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, first, "d1", dup: true));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, first, "d1", dup: true));   // once more: a duplicate now

        Assert.Equal(["1:rex", "2:rex"], await LogAsync(s));
        Assert.Empty(await s.AlertsAsync());
        var door = await s.Cluster.Device(DeviceKind.Door, "d1").GetSnapshot();
        Assert.Equal((2L, 1L), (door.Accepted, door.Duplicates));
    }

    [Fact]
    public async Task A_refused_event_sent_again_after_the_door_restarted_is_logged_once()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex", seq: 1), "d1"));
        var refused = s.EventBytes("d1", "rex", seq: 2);
        Store(s).SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(Topic, refused, "d1"));
        Store(s).SimulatedOutage = null;
        // The door restarts (boot 2) and sends its kept message after its first new one.
        s.Boot = 2;
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, s.EventBytes("d1", "rex", seq: 1), "d1"));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(Topic, refused, "d1", dup: true));

        var log = (await s.Cluster.History.GetAccessLogAsync(new AccessLogQuery(CampusScenario.School, DoorId: "d1"))).Items;
        Assert.Equal(["1/1", "1/2", "2/1"], log.Select(e => $"{e.Entry.Boot}/{e.Entry.Seq}").Order().ToArray());
        Assert.Empty(await s.AlertsAsync());
    }
}
