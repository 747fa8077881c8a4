using System.Globalization;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.Testing;
using Campus.Firmware.Apps.Door;
using Campus.Testing;
using FirmwareJson = Campus.Firmware.Common.JsonNode;

namespace Campus.Firmware.Tests.Apps;

/// <summary>A list the controller builds, as it goes on the wire: the contracts accept it and the door firmware decides like the school.</summary>
public sealed class AllowListFromControllerTests
{
    private const string Card = "04A1B2C3";

    /// <summary>Shanghai local times (+08:00, no daylight saving) and whether the card may enter then.</summary>
    private static readonly (string Local, bool Enters)[] Instants =
    [
        ("2026-11-23T23:30", true),  // Monday night, in Monday 22:00-06:00
        ("2026-11-24T05:30", true),  // Tuesday morning, the same window
        ("2026-11-24T06:30", false), // after it
        ("2026-11-29T23:30", true),  // Sunday night, in Sunday 22:00-06:00 ...
        ("2026-11-30T05:30", true),  // ... which ends on Monday morning
        ("2026-11-30T06:30", false),
        ("2026-11-25T23:30", false), // Wednesday is no start day
        ("2026-11-27T23:30", true),  // Friday 10:00 to Saturday 10:00 (a window whose end is its start)
        ("2026-11-28T05:30", true),
        ("2026-11-28T09:59", true),
        ("2026-11-28T10:00", false),
    ];

    [Fact]
    public async Task A_controller_list_with_overnight_windows_passes_the_contract_and_the_door_decides_like_the_school()
    {
        await using var cluster = await CampusTestCluster.StartAsync();
        await cluster.AddSchoolAsync("s01", "Asia/Shanghai", null, new AccessZoneSpec("night", ["r1"]));
        await cluster.AddRoomAsync("s01", "r1");
        await cluster.AddDeviceAsync("s01", "r1", DeviceKind.Door, "d1");
        var schedule = new WeeklySchedule([TimeWindow.Parse("17", "22:00", "06:00"), TimeWindow.Parse("5", "10:00", "10:00")]);
        var person = new PersonProfile("p1", "Night guard", PersonRole.Staff, "s01", [new AccessCard(Card, CardStatus.Active)], [new ZoneGrant("night", schedule)]);
        await cluster.Registry.UpsertPerson(person, "admin");
        await cluster.School("s01").PushAllowLists();
        var list = cluster.Commands.Where(c => c.Topic.Device == "d1").Select(c => c.Command).OfType<AllowlistCommand>().Last();
        Assert.Contains(Assert.Single(list.Entries).Windows, w => string.CompareOrdinal(w.To, w.From) < 0); // it does hold windows over midnight

        // On the wire: the contracts' validation accepts it ...
        var bytes = PayloadWriter.Write(list);
        var read = PayloadReader.ReadCommand(bytes, CommandNames.Allowlist, DeviceKind.Door);
        Assert.True(read.IsValid, $"{read.Field}: {read.Message}");

        // ... and the door firmware, reading the same bytes, decides like the school.
        var door = AllowList.Parse(FirmwareJson.Parse(bytes));
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        foreach (var (local, enters) in Instants)
        {
            var at = new DateTimeOffset(DateTime.ParseExact(local, "yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture), TimeSpan.FromHours(8));
            var school = AccessPolicy.Decide(person, Card, "s01", ["night"], lockdown: false, at, zone).Granted;
            Assert.True(school == enters, $"at {local} the school says {(school ? "enter" : "no entry")}");
            var decision = door.Decide(Card, at.ToUnixTimeMilliseconds());
            Assert.True(decision == (enters ? "ok" : "outside-schedule"), $"at {local} the door says '{decision}' from its list {System.Text.Encoding.UTF8.GetString(bytes)}");
        }
    }
}
