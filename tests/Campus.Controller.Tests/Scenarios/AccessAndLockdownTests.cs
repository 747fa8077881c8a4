using Campus.Contracts;
using Campus.Controller.Domain;
using WireReason = Campus.Contracts.AccessReason;

namespace Campus.Controller.Tests.Scenarios;

public sealed class AccessAndLockdownTests
{
    [Fact]
    public async Task The_door_answers_an_access_request_on_its_command_topic_with_the_school_decision()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        var before = s.Cluster.Commands.Count;
        await s.EventAsync("d1", "access-request", "\"req\":\"a9\",\"card\":\"04A1B2C3\"");
        var (topic, command) = Assert.Single(s.Cluster.Commands.Skip(before));
        Assert.Equal("campus/v1/s01/r101/door/d1/cmd/access", topic.ToString());
        var access = Assert.IsType<AccessCommand>(command);
        Assert.Equal(("a9", true, WireReason.Ok), (access.Req, access.Grant, access.Reason));

        s.AdvanceToLocal(0, 19); // after the teacher's schedule
        Assert.Equal(WireReason.OutsideSchedule, (await s.PresentCardAsync("d1", "04A1B2C3")).Reason);
        Assert.Equal(WireReason.UnknownCard, (await s.PresentCardAsync("d1", "11223344")).Reason);
    }

    [Fact]
    public async Task A_blocked_card_is_denied_and_the_allow_list_drops_it()
    {
        await using var s = await CampusScenario.StartAsync();
        await s.Cluster.School("s01").PushAllowLists();
        var list = s.Cluster.Commands.Select(c => c.Command).OfType<AllowlistCommand>().Last();
        Assert.Equal("04A1B2C3", Assert.Single(list.Entries).Card);
        Assert.Equal(480, list.TzOffsetMin);

        var person = (await s.Cluster.Registry.GetPerson("p1"))!;
        await s.Cluster.Registry.UpsertPerson(person with { Cards = [new AccessCard("04A1B2C3", CardStatus.Lost)] }, "admin");
        Assert.Equal(WireReason.CardBlocked, (await s.PresentCardAsync("d1", "04A1B2C3")).Reason);
        await s.Cluster.School("s01").PushAllowLists();
        var after = s.Cluster.Commands.Select(c => c.Command).OfType<AllowlistCommand>().Last();
        Assert.Empty(after.Entries);
        Assert.True(after.Version > list.Version);
    }

    [Fact]
    public async Task A_lockdown_goes_to_every_door_and_sign_and_lists_those_that_did_not_acknowledge()
    {
        await using var s = await CampusScenario.StartAsync(CampusScenario.WithoutHeartbeatTimeouts);
        await s.AddDeviceAsync(DeviceKind.Door, "d2");
        var view = await s.Cluster.School("s01").StartLockdown("principal", "Stay in your classroom");
        Assert.True(view.Active);
        Assert.Equal(["d1", "d2", "g1"], view.Targets);
        var sent = s.Cluster.Commands.Where(c => c.Command is LockdownCommand).ToList();
        Assert.Equal(3, sent.Count);
        Assert.All(sent, c => Assert.True(((LockdownCommand)c.Command).Active));

        await s.AckAsync("d1", "lockdown", view.CommandId!);
        await s.AckAsync("g1", "lockdown", view.CommandId!);
        await s.AckAsync("d2", "lockdown", "some-other-command");
        var state = await s.Cluster.School("s01").GetLockdown();
        Assert.Equal(["d2"], state.NotAcknowledged);

        Assert.Equal(WireReason.Lockdown, (await s.PresentCardAsync("d1", "04A1B2C3")).Reason);

        var lifted = await s.Cluster.School("s01").LiftLockdown("principal");
        Assert.False(lifted.Active);
        Assert.Equal(3, lifted.NotAcknowledged.Count);
        Assert.True((await s.PresentCardAsync("d1", "04A1B2C3")).Grant);
        var audit = await s.Cluster.History.GetAuditLogAsync(new Campus.Controller.History.AuditLogQuery("s01"));
        Assert.Contains(audit.Items, a => a.Entry.Action == "lockdown.start" && a.Entry.Actor == "principal");
        Assert.Contains(audit.Items, a => a.Entry.Action == "lockdown.lift");
    }

    [Fact]
    public async Task Alert_handling_is_audited_with_who_and_why()
    {
        await using var s = await CampusScenario.StartAsync();
        await s.EventAsync("d1", "forced");
        var alert = Assert.Single(await s.AlertsAsync());
        await s.Cluster.School("s01").AcknowledgeAlert(alert.Id, "guard-zhang", "checking");
        await s.Cluster.School("s01").ResolveAlert(alert.Id, "guard-zhang", "door was not latched");
        var closed = await s.Cluster.School("s01").CloseAlert(alert.Id, "head-of-security", null);
        Assert.Equal([AlertStatus.Open, AlertStatus.Acknowledged, AlertStatus.Resolved, AlertStatus.Closed], closed.History.Select(h => h.Status));
        var audit = await s.Cluster.History.GetAuditLogAsync(new Campus.Controller.History.AuditLogQuery("s01"));
        Assert.Contains(audit.Items, a => a.Entry.Action == "alert.resolve" && a.Entry.Details == "door was not latched");
        await Assert.ThrowsAsync<AlertLifecycleException>(() => s.Cluster.School("s01").AcknowledgeAlert(alert.Id, "guard", null));
    }

    [Fact]
    public async Task Issuing_and_rotating_device_credentials_returns_the_secret_once_and_is_audited()
    {
        await using var s = await CampusScenario.StartAsync();
        var first = await s.AddDeviceAsync(DeviceKind.Energy, "m9");
        var rotated = await s.Cluster.Registry.RotateCredentials("m9", "admin");
        Assert.NotEqual(first.MqttPassword, rotated.MqttPassword);
        Assert.NotEqual(first.HmacKeyBase64, rotated.HmacKeyBase64);
        var directory = (Campus.Controller.Services.DeviceDirectory)s.Cluster.Services.GetService(typeof(Campus.Controller.Services.DeviceDirectory))!;
        Assert.False(directory.CheckPassword("m9", System.Text.Encoding.UTF8.GetBytes(first.MqttPassword)));
        Assert.True(directory.CheckPassword("m9", System.Text.Encoding.UTF8.GetBytes(rotated.MqttPassword)));
        var audit = await s.Cluster.History.GetAuditLogAsync(new Campus.Controller.History.AuditLogQuery("s01"));
        Assert.Contains(audit.Items, a => a.Entry.Action == "credential.rotate" && a.Entry.Target == "m9");
    }
}
