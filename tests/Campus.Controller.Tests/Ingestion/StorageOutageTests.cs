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

/// <summary>A message whose effect could not be stored is not acknowledged, and its re-send is stored.</summary>
public sealed class StorageOutageTests
{
    private const string MeterTopic = "campus/v1/s01/r101/energy/m1/telemetry";

    [Fact]
    public async Task A_reading_refused_during_a_storage_outage_is_stored_and_counted_when_the_device_sends_it_again()
    {
        await using var s = await CampusScenario.StartAsync();
        var store = (InMemoryHistoryStore)s.Cluster.History;
        var first = "{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":0,\"energyKwh\":100,\"powerW\":500}"u8.ToArray();
        var second = "{\"v\":1,\"boot\":1,\"seq\":2,\"ts\":0,\"energyKwh\":101.5,\"powerW\":500}"u8.ToArray();
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(MeterTopic, first, "m1"));

        store.SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(MeterTopic, second, "m1"));
        store.SimulatedOutage = null;
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(MeterTopic, second, "m1", dup: true));

        var device = await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot();
        Assert.Equal((2L, 0L, 2u), (device.Accepted, device.Duplicates, device.LastSeq));
        var stored = await s.Cluster.History.GetTelemetryAsync(new TelemetryQuery("s01", "m1", s.Now.AddHours(-1), s.Now.AddHours(1)));
        Assert.Equal([2u, 1u], stored.Items.Select(t => t.Record.Seq));
        Assert.Equal(1.5, (await s.Cluster.Room("s01", "r101").GetSnapshot()).EnergyTodayKwh, 6);
    }

    [Fact]
    public async Task A_reading_that_filled_a_gap_and_was_refused_fills_it_when_sent_again()
    {
        await using var s = await CampusScenario.StartAsync();
        var store = (InMemoryHistoryStore)s.Cluster.History;
        byte[] Reading(uint seq, double kwh) => System.Text.Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":{seq},\"ts\":0,\"energyKwh\":{kwh},\"powerW\":500}}");
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(MeterTopic, Reading(1, 100), "m1"));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(MeterTopic, Reading(4, 103), "m1"));   // 2 and 3 missing

        store.SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(MeterTopic, Reading(2, 101), "m1"));
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(MeterTopic, Reading(5, 104), "m1"));
        store.SimulatedOutage = null;
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(MeterTopic, Reading(2, 101), "m1", dup: true));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(MeterTopic, Reading(5, 104), "m1", dup: true));

        var device = await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot();
        Assert.Equal((4L, 0L, 5u, 1L), (device.Accepted, device.Duplicates, device.LastSeq, device.Missed));
        var stored = await s.Cluster.History.GetTelemetryAsync(new TelemetryQuery("s01", "m1", s.Now.AddHours(-1), s.Now.AddHours(1)));
        Assert.Equal([1u, 2u, 4u, 5u], stored.Items.Select(t => t.Record.Seq).Order());
    }

    [Fact]
    public async Task A_device_whose_stored_state_changed_behind_it_starts_again_from_the_store_instead_of_failing_every_write()
    {
        var storage = new CountingStorage();
        await using var s = await CampusScenario.StartOnAsync(storage);
        var topic = CampusScenario.DoorEventTopic("d1");
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, s.EventBytes("d1", "rex"), "d1"));

        // A write whose commit went through while its answer was lost: the store holds a version this activation never saw.
        var key = ("device", s.Cluster.Device(DeviceKind.Door, "d1").GetGrainId());
        storage.ChangeVersionBehind(key.Item1, key.Item2);
        var second = s.EventBytes("d1", "rex");
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(topic, second, "d1"));

        // Not acknowledged, so sent again: a new activation reads the stored version and the write succeeds.
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, second, "d1", dup: true));
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, s.EventBytes("d1", "rex"), "d1"));
        var log = (await s.Cluster.History.GetAccessLogAsync(new AccessLogQuery(CampusScenario.School, DoorId: "d1"))).Items;
        Assert.Equal([1u, 2u, 3u], log.Select(e => e.Entry.Seq ?? 0).Order());
        Assert.NotEqual(CountingStorage.VersionChangedBehind, storage.Rows[key].ETag);
    }

    private static async Task<StoredAlertSnapshot[]> TrailAsync(CampusScenario s) =>
        [.. (await s.Cluster.History.GetAlertHistoryAsync(new AlertHistoryQuery(CampusScenario.School))).Items];

    private static async Task<SchoolState> PersistedSchoolAsync(CampusScenario s)
    {
        var storage = s.Cluster.Services.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        var state = new GrainState<SchoolState>(new SchoolState());
        await storage.ReadStateAsync("school", s.Cluster.School(CampusScenario.School).GetGrainId(), state);
        return state.State;
    }

    /// <summary>Moves the clock one retry period on, then waits (in real time only) for the timer's work to show.</summary>
    private static async Task OneRetryAsync(CampusScenario s, Func<Task<bool>> done, string what)
    {
        await s.PassAsync(SchoolGrain.TrailRetry);
        await Poll.UntilAsync(done, what, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_door_forced_alert_whose_history_row_was_refused_is_kept_with_the_schools_state_and_appended_once_storage_is_back()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var store = (InMemoryHistoryStore)s.Cluster.History;
        var topic = CampusScenario.DoorEventTopic("d1");

        // The event's log entry and the school's state are stored; only the alert's row in the alert history is
        // refused. The change is durable with the row kept in the state, so the message is acknowledged.
        store.SimulatedOutageFor = WriteKind.Alert;
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, s.EventBytes("d1", "forced"), "d1"));
        Assert.Equal([AlertType.DoorForced], await s.AlertTypesAsync());
        Assert.Equal(["DoorForced"], (await PersistedSchoolAsync(s)).UnwrittenTrail.Select(r => r.Type));
        // A later change waits behind it, in order.
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, s.EventBytes("d1", "tamper", "\"state\":\"open\""), "d1"));
        await s.PassAsync(SchoolGrain.TrailRetry);
        Assert.Empty(await TrailAsync(s));
        Assert.Equal(2, (await PersistedSchoolAsync(s)).UnwrittenTrail.Count);

        store.SimulatedOutageFor = null;
        await OneRetryAsync(s, async () => (await PersistedSchoolAsync(s)).UnwrittenTrail.Count == 0, "the kept rows are appended and the state written without them");
        var trail = await TrailAsync(s);
        Assert.Equal(["DoorForced", "Tamper"], trail.OrderBy(r => r.Id).Select(r => r.Snapshot.Type));
        Assert.Equal(1, trail[0].Snapshot.Count);
        var log = (await s.Cluster.History.GetAccessLogAsync(new AccessLogQuery(CampusScenario.School, DoorId: "d1"))).Items;
        Assert.Equal(["forced", "tamper"], log.OrderBy(e => e.Entry.Seq).Select(e => e.Entry.EventType));
    }

    [Fact]
    public async Task Acknowledging_an_alert_while_the_history_store_is_down_succeeds_and_its_audit_entry_and_trail_row_follow()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var store = (InMemoryHistoryStore)s.Cluster.History;
        var topic = CampusScenario.DoorEventTopic("d1");
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, s.EventBytes("d1", "forced"), "d1"));
        var alert = Assert.Single(await s.AlertsAsync());

        store.SimulatedOutage = "simulated disk full";
        var view = await s.Cluster.School(CampusScenario.School).AcknowledgeAlert(alert.Id, "guard1", "checked the door");
        Assert.Equal(AlertStatus.Acknowledged, view.Status);
        var kept = await PersistedSchoolAsync(s);
        Assert.Equal(("alert.acknowledge", "guard1"), (Assert.Single(kept.UnwrittenAudit).Action, kept.UnwrittenAudit[0].Actor));
        Assert.Equal("acknowledged", Assert.Single(kept.UnwrittenTrail).State);
        store.SimulatedOutage = null;

        await OneRetryAsync(s, async () => (await PersistedSchoolAsync(s)) is { UnwrittenAudit.Count: 0, UnwrittenTrail.Count: 0 }, "the kept entry and row are appended");
        var audit = (await s.Cluster.History.GetAuditLogAsync(new AuditLogQuery(CampusScenario.School))).Items;
        Assert.Single(audit, e => e.Entry is { Action: "alert.acknowledge", Actor: "guard1", Target: var t } && t == alert.Id);
        Assert.Equal(["open", "acknowledged"], (await TrailAsync(s)).OrderBy(r => r.Id).Select(r => r.Snapshot.State));
    }

    [Fact]
    public async Task A_school_whose_stored_state_changed_behind_it_starts_again_from_the_store_instead_of_failing_every_write()
    {
        var storage = new CountingStorage();
        await using var s = await CampusScenario.StartOnAsync(storage);
        var topic = CampusScenario.DoorEventTopic("d1");
        // A write whose commit went through while its answer was lost: the store holds a version the school never saw.
        var key = ("school", s.Cluster.School(CampusScenario.School).GetGrainId());
        storage.ChangeVersionBehind(key.Item1, key.Item2);
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(topic, s.EventBytes("d1", "forced"), "d1"));

        // The next alert goes to a new activation, which read the stored version: its write succeeds.
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, s.EventBytes("d1", "tamper", "\"state\":\"open\""), "d1"));
        Assert.Contains("Tamper", (await PersistedSchoolAsync(s)).Alerts.Alerts.Select(a => a.Type.ToString()));
        Assert.NotEqual(CountingStorage.VersionChangedBehind, storage.Rows[key].ETag);
    }

    [Fact]
    public async Task A_door_forced_alert_the_school_lost_is_raised_once_when_the_door_sends_its_event_again()
    {
        var storage = new CountingStorage();
        await using var s = await CampusScenario.StartOnAsync(storage);
        var topic = CampusScenario.DoorEventTopic("d1");
        // The event's log entry is stored, but the school's write meets a version changed behind it: the school starts
        // again from what is stored, and the alert it had raised in memory is gone.
        var key = ("school", s.Cluster.School(CampusScenario.School).GetGrainId());
        storage.ChangeVersionBehind(key.Item1, key.Item2);
        var forced = s.EventBytes("d1", "forced");
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(topic, forced, "d1"));
        Assert.Empty(await s.AlertsAsync());
        var kept = Assert.Single(storage.Get<DoorGrainState>("device", "d1").PendingSignals);
        Assert.Equal((AlertType.DoorForced, AlertSeverity.Critical, (1L << 32) | 1), (kept.Type, kept.Severity, kept.Order));
        Assert.Contains("forced", kept.Message, StringComparison.Ordinal);

        // The re-send meets the stored log entry; the door sends the kept signal first.
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, forced, "d1", dup: true));
        var alert = Assert.Single(await s.AlertsAsync());
        Assert.Equal((AlertType.DoorForced, 1), (alert.Type, alert.Count));
        Assert.Empty(storage.Get<DoorGrainState>("device", "d1").PendingSignals);
        var log = (await s.Cluster.History.GetAccessLogAsync(new AccessLogQuery(CampusScenario.School, DoorId: "d1"))).Items;
        Assert.Equal("forced", Assert.Single(log).Entry.EventType);
    }

    [Fact]
    public async Task An_alert_whose_school_state_could_not_be_written_is_written_and_in_the_trail_once_the_grain_storage_is_back()
    {
        var storage = new CountingStorage();
        await using var s = await CampusScenario.StartOnAsync(storage);
        var topic = CampusScenario.DoorEventTopic("d1");
        var school = s.Cluster.School(CampusScenario.School).GetGrainId();
        var forced = s.EventBytes("d1", "forced");
        storage.Refuse = (state, id) => id == school;
        // The school's state cannot be written: the caller gets the error and the door's message is not acknowledged.
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(topic, forced, "d1"));
        Assert.Equal([AlertType.DoorForced], await s.AlertTypesAsync());
        Assert.Empty((await PersistedSchoolAsync(s)).Alerts.Alerts);
        Assert.Empty(await TrailAsync(s));

        storage.Refuse = null;
        await OneRetryAsync(s, async () => (await TrailAsync(s)).Length > 0, "the timer writes the state and appends the row");
        Assert.Equal(["DoorForced"], (await PersistedSchoolAsync(s)).Alerts.Alerts.Select(a => a.Type.ToString()));
        // The door's re-send meets its stored log entry: nothing is raised or written twice.
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, forced, "d1", dup: true));
        Assert.Equal(1, Assert.Single(await TrailAsync(s)).Snapshot.Count);
        Assert.Equal(1, Assert.Single(await s.AlertsAsync()).Count);
    }

    [Fact]
    public async Task A_signed_door_event_refused_during_a_storage_outage_is_logged_when_the_door_sends_it_again()
    {
        await using var s = await CampusScenario.StartAsync();
        var store = (InMemoryHistoryStore)s.Cluster.History;
        var topic = CampusScenario.DoorEventTopic("d1");
        var rex = s.EventBytes("d1", "rex");

        store.SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Retry, await s.SendRawAsync(topic, rex, "d1"));
        store.SimulatedOutage = null;
        Assert.Equal(IngestDisposition.Done, await s.SendRawAsync(topic, rex, "d1", dup: true));

        var log = await s.Cluster.History.GetAccessLogAsync(new AccessLogQuery(CampusScenario.School, DoorId: "d1"));
        Assert.Equal(["rex"], log.Items.Select(e => e.Entry.EventType));
        Assert.Empty(await s.AlertsAsync());   // not taken for a replay
    }

    [Fact]
    public async Task A_last_will_during_a_storage_outage_takes_the_device_offline_and_its_alert_reaches_the_trail_afterwards()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var store = (InMemoryHistoryStore)s.Cluster.History;
        await s.TelemetryAsync("m1", "\"energyKwh\":100,\"powerW\":800");

        // Presence and the alert are in the grains' states; only the alert's history row waits for the store.
        store.SimulatedOutage = "simulated disk full";
        Assert.Equal(IngestDisposition.Done, await s.LastWillAsync("m1"));
        Assert.Equal(["DeviceOffline"], (await PersistedSchoolAsync(s)).UnwrittenTrail.Select(r => r.Type));
        store.SimulatedOutage = null;
        await OneRetryAsync(s, async () => (await TrailAsync(s)).Length > 0, "the kept row is appended");

        Assert.Equal("DeviceOffline", Assert.Single(await TrailAsync(s)).Snapshot.Type);
        Assert.False((await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Online);
        Assert.Contains(Campus.Controller.Domain.AlertType.DeviceOffline, await s.AlertTypesAsync());
        Assert.Equal(0, (await s.Cluster.Room(CampusScenario.School, CampusScenario.Room).GetSnapshot()).PowerW);
    }
}
