using System.Text;
using Campus.Contracts;
using Campus.Controller.Ingestion;
using Campus.Controller.Tests.Scenarios;

namespace Campus.Controller.Tests.Ingestion;

public sealed class RejectionTests
{
    private const string Topic = "campus/v1/s01/r101/energy/m1/telemetry";

    public static TheoryData<string, string, string?, string> BadMessages => new()
    {
        { Topic, "{\"v\":1,\"boot\":1,\"seq\":9,\"ts\":0,\"powerW\":1", "m1", "malformed-json" },
        { Topic, "{\"v\":7,\"boot\":1,\"seq\":9,\"ts\":0,\"powerW\":1}", "m1", "unknown-version" },
        { Topic, "{\"v\":1,\"seq\":9,\"ts\":0,\"powerW\":1}", "m1", "missing-field" },
        { Topic, "{\"v\":1,\"boot\":1,\"seq\":9,\"ts\":0,\"powerW\":-5}", "m1", "out-of-range" },
        { Topic, "{\"v\":1,\"boot\":1,\"seq\":9,\"ts\":0,\"powerW\":1," + new string(' ', 9000) + "\"x\":1}", "m1", "oversize" },
        { "campus/v1/s01/r101/energy/zz9/telemetry", "{\"v\":1,\"boot\":1,\"seq\":9,\"ts\":0,\"powerW\":1}", "zz9", "unknown-device" },
        { "campus/v1/s01/r999/energy/m1/telemetry", "{\"v\":1,\"boot\":1,\"seq\":9,\"ts\":0,\"powerW\":1}", "m1", "wrong-location" },
        { Topic, "{\"v\":1,\"boot\":1,\"seq\":9,\"ts\":0,\"powerW\":1}", "e1", "sender-mismatch" },
        { "campus/v1/s01/r101/door/d1/cmd/unlock", "{\"v\":1,\"id\":\"x\",\"ts\":0,\"by\":\"me\"}", "e1", "device-sent-command" },
    };

    [Theory]
    [MemberData(nameof(BadMessages))]
    public async Task Bad_input_is_rejected_with_its_reason_counted_and_changes_no_device(string topic, string payload, string? sender, string reason)
    {
        await using var s = await CampusScenario.StartAsync();
        await s.TelemetryAsync("m1", "\"energyKwh\":10,\"powerW\":100");
        var before = await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot();
        var d = await s.SendRawAsync(topic, Encoding.UTF8.GetBytes(payload), sender);
        Assert.Equal(IngestDisposition.Rejected, d);
        Assert.Equal(1, s.Cluster.Metrics.RejectedFor(reason));
        Assert.Equal(1, s.Cluster.Metrics.RejectedTotal);
        var after = await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot();
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task A_topic_outside_the_scheme_is_rejected_and_counted()
    {
        await using var s = await CampusScenario.StartAsync();
        Assert.Equal(IngestDisposition.Rejected, await s.SendRawAsync("campus/v1/s01/r101/toaster/t1/telemetry", "{}"u8.ToArray(), null));
        Assert.Equal(1, s.Cluster.Metrics.RejectedTotal);
    }

    [Fact]
    public async Task A_redelivered_copy_never_counts_energy_twice()
    {
        await using var s = await CampusScenario.StartAsync();
        var first = "{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":0,\"energyKwh\":100,\"powerW\":500}"u8.ToArray();
        var second = "{\"v\":1,\"boot\":1,\"seq\":2,\"ts\":0,\"energyKwh\":101.5,\"powerW\":500}"u8.ToArray();
        await s.SendRawAsync(Topic, first, "m1");
        await s.SendRawAsync(Topic, second, "m1");
        await s.SendRawAsync(Topic, second, "m1");
        await s.SendRawAsync(Topic, first, "m1");
        var device = await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot();
        Assert.Equal((2L, 2L), (device.Accepted, device.Duplicates));
        Assert.Equal(2, s.Cluster.Metrics.DuplicateTotal);
        var room = await s.Cluster.Room("s01", "r101").GetSnapshot();
        Assert.Equal(1.5, room.EnergyTodayKwh, 6);
    }

    [Fact]
    public async Task A_gap_in_the_sequence_is_counted_as_missed_messages()
    {
        await using var s = await CampusScenario.StartAsync();
        await s.SendRawAsync(Topic, "{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":0,\"powerW\":5}"u8.ToArray(), "m1");
        await s.SendRawAsync(Topic, "{\"v\":1,\"boot\":1,\"seq\":5,\"ts\":0,\"powerW\":5}"u8.ToArray(), "m1");
        Assert.Equal(3, (await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Missed);
        await s.SendRawAsync(Topic, "{\"v\":1,\"boot\":1,\"seq\":3,\"ts\":0,\"powerW\":5}"u8.ToArray(), "m1"); // late, accepted once
        Assert.Equal(2, (await s.Cluster.Device(DeviceKind.Energy, "m1").GetSnapshot()).Missed);
    }
}
