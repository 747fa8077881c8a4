using System.Globalization;
using Campus.Firmware.Apps.Door;
using Campus.Firmware.Common;

namespace Campus.Firmware.Tests.Apps;

/// <summary>The door's cached allow-list: windows over midnight, and the school's next UTC offset change applied by the door's own clock.</summary>
public sealed class AllowListTests
{
    private const string Card = "04A1B2C3";

    // Europe/Berlin goes to summer time on Sunday 2026-03-29 at 01:00 UTC: +60 -> +120 minutes (02:00 local becomes 03:00).
    private static readonly DateTime BerlinSpring = new(2026, 3, 29, 1, 0, 0, DateTimeKind.Utc);
    private static long Ms(DateTime utc) => new DateTimeOffset(utc).ToUnixTimeMilliseconds();

    /// <summary>Sunday 03:00-04:00 local: after the change 01:00 UTC is 03:00 (inside); with the old offset it is 02:00 (outside).</summary>
    private static string BerlinList(string nextMembers) =>
        "{\"v\":1,\"id\":\"al-9\",\"version\":9,\"tzOffsetMin\":60," + nextMembers +
        "\"entries\":[{\"card\":\"" + Card + "\",\"windows\":[{\"days\":\"7\",\"from\":\"03:00\",\"to\":\"04:00\"}]}]}";

    private static readonly string NextChange = "\"nextOffsetAt\":" + Ms(BerlinSpring).ToString(CultureInfo.InvariantCulture) + ",\"nextOffsetMin\":120,";

    [Theory]
    [InlineData("2026-11-23T23:30", "ok")]               // Monday night, inside Monday 22:00-06:00
    [InlineData("2026-11-24T05:30", "ok")]               // ... which ends Tuesday morning
    [InlineData("2026-11-24T06:30", "outside-schedule")] // the end is exclusive and past
    [InlineData("2026-11-23T21:59", "outside-schedule")]
    [InlineData("2026-11-23T05:30", "ok")]               // Monday morning: the end of Sunday's night
    [InlineData("2026-11-29T23:30", "ok")]               // Sunday night ...
    [InlineData("2026-11-30T05:59", "ok")]               // ... wraps to Monday morning
    [InlineData("2026-11-25T23:30", "outside-schedule")] // Wednesday is no start day
    [InlineData("2026-11-26T05:30", "outside-schedule")]
    public void A_window_over_midnight_runs_from_its_start_day_into_the_next_morning(string local, string expected)
    {
        var list = AllowList.Parse(JsonNode.Parse("""
            {"v":1,"version":1,"tzOffsetMin":480,"entries":[{"card":"04A1B2C3","windows":[{"days":"17","from":"22:00","to":"06:00"}]}]}
            """));
        var at = DateTimeOffset.ParseExact(local, "yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).AddMinutes(-480);
        Assert.Equal(expected, list.Decide(Card, at.ToUnixTimeMilliseconds()));
    }

    [Fact]
    public void The_list_switches_to_the_next_offset_at_its_instant()
    {
        var list = AllowList.Parse(JsonNode.Parse(BerlinList(NextChange)));
        var change = Ms(BerlinSpring);
        Assert.Equal((60, change, 120), (list.TzOffsetMin, list.NextOffsetAt, list.NextOffsetMin));
        Assert.Equal(60, list.OffsetAt(change - 1));
        Assert.Equal(120, list.OffsetAt(change));
        Assert.Equal("outside-schedule", list.Decide(Card, change - 1)); // 01:59:59.999 local
        Assert.Equal("ok", list.Decide(Card, change));                   // 03:00 local
        Assert.Equal("ok", list.Decide(Card, change + (59 * 60_000)));  // 03:59 local
        Assert.Equal("outside-schedule", list.Decide(Card, change + (60 * 60_000)));

        // Without the next change (an older controller) the list keeps its offset: 01:00 UTC reads as 02:00.
        var old = AllowList.Parse(JsonNode.Parse(BerlinList("")));
        Assert.Equal(0, old.NextOffsetAt);
        Assert.Equal(60, old.OffsetAt(change));
        Assert.Equal("outside-schedule", old.Decide(Card, change));
        Assert.Equal("ok", old.Decide(Card, change + (60 * 60_000)));
    }

    [Theory]
    [InlineData("\"nextOffsetAt\":1774746000000,", "nextOffsetMin")]
    [InlineData("\"nextOffsetAt\":1774746000000,\"nextOffsetMin\":null,", "nextOffsetMin")]
    [InlineData("\"nextOffsetMin\":120,", "nextOffsetAt")]
    [InlineData("\"nextOffsetAt\":1774746000000,\"nextOffsetMin\":900,", "nextOffsetMin")]
    [InlineData("\"nextOffsetAt\":1774746000000,\"nextOffsetMin\":\"120\",", "nextOffsetMin")]
    [InlineData("\"nextOffsetAt\":-5,\"nextOffsetMin\":120,", "nextOffsetAt")]
    [InlineData("\"nextOffsetAt\":\"soon\",\"nextOffsetMin\":120,", "nextOffsetAt")]
    public void A_half_or_bad_next_offset_change_is_refused_naming_the_member(string members, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => AllowList.Parse(JsonNode.Parse(BerlinList(members))));
        Assert.StartsWith(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_offline_door_switches_to_the_next_offset_at_the_instant_without_a_new_list()
    {
        var mqtt = new FakeMqttClient();
        // Sunday 2026-03-29 00:55 UTC = 01:55 in Berlin (+60), five minutes before summer time.
        var device = new DeviceRig("door", "s01-r101-door", mqtt, startUtc: BerlinSpring.AddMinutes(-5));
        await using var _ = device;
        var door = new DoorRig(device);
        var controller = new FakeControllerLink(mqtt);
        await door.StartAsync();
        await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
        await controller.SendAsync(device.Topics.Command("allowlist"), BerlinList(NextChange), retain: true);
        await device.AdvanceUntilAsync(() => controller.On("/cmd/allowlist/ack").Count == 1, "the allow-list is acknowledged");
        Assert.Equal(120, door.App.AllowList.NextOffsetMin);
        device.Wifi.SetAccessPointAvailable(false);
        await device.AdvanceUntilAsync(() => !device.Runtime!.IsConnected, "offline");

        Assert.True(device.Clock.UtcNow < BerlinSpring, $"the first tap is before the change ({device.Clock.UtcNow:O})");
        var pending = device.Runtime!.Pending;
        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => device.Runtime!.Pending > pending, "the first decision is queued", TimeSpan.FromMilliseconds(50));
        Assert.Empty(door.StrikePulses); // 01:5x local: outside Sunday 03:00-04:00

        await device.AdvanceAsync(BerlinSpring - device.Clock.UtcNow + TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        Assert.True(device.Clock.UtcNow >= BerlinSpring, $"the second tap is after the change ({device.Clock.UtcNow:O})");
        await door.TapAsync(Card);
        await device.AdvanceUntilAsync(() => door.StrikePulses.Count == 1, "the door opens at 03:00 local by its own clock", TimeSpan.FromMilliseconds(50));

        device.Wifi.SetAccessPointAvailable(true);
        await device.AdvanceUntilAsync(() => controller.Events("access").Length == 2 && device.Runtime!.Pending == 0, "the offline decisions are delivered", TimeSpan.FromMilliseconds(100));
        var decisions = controller.Events("access");
        Assert.Equal(["denied", "granted"], decisions.Select(d => d.GetProperty("result").GetString()));
        Assert.Equal(["outside-schedule", "ok"], decisions.Select(d => d.GetProperty("reason").GetString()));
        Assert.All(decisions, d => Assert.Equal("cache", d.GetProperty("source").GetString()));
    }
}
