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
        var (device, door, controller) = await OfflineBerlinDoorAsync(NextChange);
        await using var _ = device;
        Assert.Equal(120, door.App.AllowList.NextOffsetMin);

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

    // Berlin's next changes after spring 2026: winter time 2026-10-25 01:00 UTC (+120 -> +60), summer time 2027-03-28 01:00 UTC (+60 -> +120).
    private static readonly DateTime BerlinAutumn = new(2026, 10, 25, 1, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime BerlinSpring2027 = new(2027, 3, 28, 1, 0, 0, DateTimeKind.Utc);

    private static string Changes(params (DateTime At, int Min)[] changes) =>
        "\"offsetChanges\":[" + string.Join(",", changes.Select(c => "{\"at\":" + Ms(c.At).ToString(CultureInfo.InvariantCulture) + ",\"min\":" + c.Min.ToString(CultureInfo.InvariantCulture) + "}")) + "],";

    /// <summary>
    /// A door that starts on Sunday 2026-03-29 00:55 UTC (01:55 in Berlin, +60, five minutes before summer
    /// time), takes the allow-list with <paramref name="members"/> and then loses its uplink.
    /// </summary>
    private static async Task<(DeviceRig Device, DoorRig Door, FakeControllerLink Controller)> OfflineBerlinDoorAsync(string members)
    {
        var mqtt = new FakeMqttClient();
        var device = new DeviceRig("door", "s01-r101-door", mqtt, startUtc: BerlinSpring.AddMinutes(-5));
        try
        {
            var door = new DoorRig(device);
            var controller = new FakeControllerLink(mqtt);
            await door.StartAsync();
            await device.AdvanceUntilAsync(() => device.Runtime!.IsConnected, "online");
            await controller.SendAsync(device.Topics.Command("allowlist"), BerlinList(members), retain: true);
            await device.AdvanceUntilAsync(() => controller.On("/cmd/allowlist/ack").Count == 1, "the allow-list is acknowledged");
            device.Wifi.SetAccessPointAvailable(false);
            await device.AdvanceUntilAsync(() => !device.Runtime!.IsConnected, "offline");
            return (device, door, controller);
        }
        catch
        {
            await device.DisposeAsync();
            throw;
        }
    }

    /// <summary>What the controller sends for Berlin before spring 2026: the next change, and the next three.</summary>
    private static readonly string ThreeChanges = NextChange + Changes((BerlinSpring, 120), (BerlinAutumn, 60), (BerlinSpring2027, 120));

    [Fact]
    public void The_list_follows_each_of_its_offset_changes_by_the_latest_one_passed()
    {
        var list = AllowList.Parse(JsonNode.Parse(BerlinList(ThreeChanges)));
        Assert.Equal(3, list.OffsetChangeCount);
        Assert.Equal((Ms(BerlinAutumn), 60), (list.OffsetChangeAt(1), list.OffsetChangeMin(1)));
        Assert.Equal(60, list.OffsetAt(Ms(BerlinSpring) - 1));
        Assert.Equal(120, list.OffsetAt(Ms(BerlinSpring)));
        Assert.Equal(120, list.OffsetAt(Ms(BerlinAutumn) - 1));
        Assert.Equal(60, list.OffsetAt(Ms(BerlinAutumn)));
        Assert.Equal(60, list.OffsetAt(Ms(BerlinSpring2027) - 1));
        Assert.Equal(120, list.OffsetAt(Ms(BerlinSpring2027)));
        Assert.Equal(120, list.OffsetAt(Ms(BerlinSpring2027.AddYears(1)))); // past the last change it keeps the last offset

        // Sunday 03:00-04:00 local at each change: 02:10 UTC after the autumn change is 03:10 local (inside).
        Assert.Equal("ok", list.Decide(Card, Ms(BerlinSpring)));
        Assert.Equal("ok", list.Decide(Card, Ms(BerlinAutumn.AddMinutes(70))));
        Assert.Equal("outside-schedule", list.Decide(Card, Ms(BerlinSpring2027) - 1)); // 01:59:59.999 local
        Assert.Equal("ok", list.Decide(Card, Ms(BerlinSpring2027)));

        // The same list without offsetChanges knows only the next change: wrong after the second one.
        var nextOnly = AllowList.Parse(JsonNode.Parse(BerlinList(NextChange)));
        Assert.False(nextOnly.HasOffsetChanges);
        Assert.Equal(120, nextOnly.OffsetAt(Ms(BerlinAutumn)));
        Assert.Equal("outside-schedule", nextOnly.Decide(Card, Ms(BerlinAutumn.AddMinutes(70))));

        // An empty array: no change known, the list keeps its offset.
        var none = AllowList.Parse(JsonNode.Parse(BerlinList("\"offsetChanges\":[],")));
        Assert.True(none.HasOffsetChanges);
        Assert.Equal(0, none.OffsetChangeCount);
        Assert.Equal(60, none.OffsetAt(Ms(BerlinSpring2027)));
    }

    public static TheoryData<string, string> BadOffsetChanges => new()
    {
        // members, the start of the message
        { "\"offsetChanges\":{\"at\":1774746000000,\"min\":120},", "offsetChanges must be an array" },
        { Changes((BerlinAutumn, 60), (BerlinSpring, 120)), "offsetChanges[1].at must be after offsetChanges[0].at" },
        { Changes((BerlinSpring, 120), (BerlinSpring, 60)), "offsetChanges[1].at must be after offsetChanges[0].at" },
        { Changes((BerlinSpring, 120), (BerlinAutumn, 900)), "offsetChanges[1].min must be a whole number of minutes" },
        { Changes((BerlinSpring, -841)), "offsetChanges[0].min must be a whole number of minutes" },
        { Changes([.. Enumerable.Range(1, 9).Select(i => (BerlinSpring.AddHours(i), 60))]), "offsetChanges has 9 changes; at most 8" },
        { "\"offsetChanges\":[{\"at\":1774746000000}],", "offsetChanges[0].min is missing" },
        { "\"offsetChanges\":[{\"min\":120}],", "offsetChanges[0].at is missing" },
        { "\"offsetChanges\":[{\"at\":\"soon\",\"min\":120}],", "offsetChanges[0].at must be Unix milliseconds" },
        { "\"offsetChanges\":[{\"at\":1774746000000,\"min\":\"120\"}],", "offsetChanges[0].min must be a whole number of minutes" },
        { "\"offsetChanges\":[120],", "offsetChanges[0] must be an object" },
        { "\"ts\":1774746000000," + Changes((BerlinSpring, 120)), "offsetChanges[0].at must be after the command's ts" },
        { NextChange + Changes((BerlinAutumn, 60)), "nextOffsetAt must equal offsetChanges[0].at" },
        { NextChange + Changes((BerlinSpring, 60)), "nextOffsetMin must equal offsetChanges[0].min" },
    };

    [Theory]
    [MemberData(nameof(BadOffsetChanges))]
    public void Bad_offset_changes_are_refused_with_a_message_naming_the_member(string members, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => AllowList.Parse(JsonNode.Parse(BerlinList(members))));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_door_offline_for_a_year_follows_three_offset_changes_from_one_list()
    {
        var (device, door, controller) = await OfflineBerlinDoorAsync(ThreeChanges);
        await using var _ = device;
        Assert.Equal(3, door.App.AllowList.OffsetChangeCount);

        // Each tap is on a Sunday, checked against Sunday 03:00-04:00 local by the door's own clock.
        var taps = new (DateTime At, bool Opens, string Local)[]
        {
            (BerlinSpring.AddMinutes(-4), false, "01:56 (+60)"),
            (BerlinSpring.AddSeconds(30), true, "03:00 (+120, summer time)"),
            (BerlinAutumn.AddMinutes(70), true, "03:10 (+60, winter time; +120 would be 04:10)"),
            (BerlinSpring2027.AddMinutes(-4), false, "01:56 (+60)"),
            (BerlinSpring2027.AddSeconds(30), true, "03:00 (+120, summer time again)"),
        };
        var opened = 0;
        var refused = 0;
        foreach (var (at, opens, local) in taps)
        {
            // In big steps (nothing happens in between but the door retrying its uplink), landing on the tap's instant.
            await device.AdvanceAsync(at - device.Clock.UtcNow, TimeSpan.FromDays(30));
            Assert.False(device.Runtime!.IsConnected, $"the door is still offline at {device.Clock.UtcNow:O}");
            await door.TapAsync(Card);
            if (opens) opened++;
            else refused++;
            // The decision shows on the door: the strike for a grant, the red LED for a refusal.
            await device.AdvanceUntilAsync(() => door.StrikePulses.Count + door.Gpio.Pulses(door.Board.LedRed).Count == opened + refused,
                $"the door decides the tap at {local}", TimeSpan.FromMilliseconds(50));
            Assert.True(door.StrikePulses.Count == opened, $"at {at:O} ({local}) the door should {(opens ? "open" : "stay shut")}; strike pulses {door.StrikePulses.Count}, expected {opened}");
        }

        device.Wifi.SetAccessPointAvailable(true);
        await device.AdvanceUntilAsync(() => controller.Events("access").Length == taps.Length && device.Runtime!.Pending == 0, "the offline decisions are delivered", TimeSpan.FromMilliseconds(100));
        var decisions = controller.Events("access");
        Assert.Equal(taps.Select(t => t.Opens ? "granted" : "denied"), decisions.Select(d => d.GetProperty("result").GetString()));
        Assert.Equal(taps.Select(t => Ms(t.At) / 60_000), decisions.Select(d => d.GetProperty("ts").GetInt64() / 60_000));
        Assert.All(decisions, d => Assert.Equal("cache", d.GetProperty("source").GetString()));
    }
}
