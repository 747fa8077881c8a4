using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Hosting;
using Campus.Controller.Testing;
using Campus.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Controller.Tests.Registry;

/// <summary>District -> School -> Building -> Room: registration, the per-building aggregate and the seed file.</summary>
public sealed class BuildingTests : IDisposable
{
    private TempDirectory? _temp;

    public void Dispose() => _temp?.Dispose();

    private static readonly DateTimeOffset Start = new(2026, 11, 26, 10, 0, 0, TimeSpan.FromHours(8));

    [Fact]
    public async Task A_room_registered_without_a_building_is_listed_in_the_school_default_building()
    {
        await using var cluster = await CampusTestCluster.StartAsync(new FakeTimeProvider(Start));
        await cluster.AddSchoolAsync("s01");
        await cluster.Registry.UpsertBuilding(new BuildingSpec("s01", "sci", "Science wing"), "admin");
        await cluster.AddRoomAsync("s01", "r101");
        await cluster.Registry.UpsertRoom(new RoomSpec("s01", "lab1", "Lab 1", Building: "sci"), "admin");

        var rooms = await cluster.Registry.ListRooms("s01");
        Assert.Equal([("lab1", "sci"), ("r101", BuildingSpec.DefaultId)], rooms.Select(r => (r.Id, r.Building)));
        var buildings = await cluster.Registry.ListBuildings("s01");
        Assert.Equal([BuildingSpec.Default("s01"), new BuildingSpec("s01", "sci", "Science wing")], buildings);
    }

    [Fact]
    public async Task A_school_whose_rooms_are_all_in_named_buildings_lists_no_default_building()
    {
        await using var cluster = await CampusTestCluster.StartAsync(new FakeTimeProvider(Start));
        await cluster.AddSchoolAsync("s01");
        await cluster.AddSchoolAsync("s02");
        await cluster.Registry.UpsertBuilding(new BuildingSpec("s01", "b1", "North"), "admin");
        await cluster.Registry.UpsertRoom(new RoomSpec("s01", "r1", "R1", Building: "b1"), "admin");
        await cluster.AddRoomAsync("s02", "r1");

        Assert.Equal(["b1"], (await cluster.Registry.ListBuildings("s01")).Select(b => b.Id));
        Assert.Equal([BuildingSpec.DefaultId], (await cluster.Registry.ListBuildings("s02")).Select(b => b.Id));
    }

    [Fact]
    public async Task A_room_in_an_unregistered_building_is_refused_with_a_message_that_says_what_to_do()
    {
        await using var cluster = await CampusTestCluster.StartAsync(new FakeTimeProvider(Start));
        await cluster.AddSchoolAsync("s01");
        await cluster.AddSchoolAsync("s02");
        await cluster.Registry.UpsertBuilding(new BuildingSpec("s02", "b1", "Other school's building"), "admin");

        var e = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Registry.UpsertRoom(new RoomSpec("s01", "r1", "R1", Building: "b1"), "admin"));
        Assert.Contains("register the building first", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => cluster.Registry.UpsertBuilding(new BuildingSpec("s01", "Bad Id", "x"), "admin"));
        await Assert.ThrowsAsync<ArgumentException>(() => cluster.Registry.UpsertBuilding(new BuildingSpec("s09", "b1", "x"), "admin"));
        Assert.Empty(await cluster.Registry.ListRooms("s01"));
    }

    [Fact]
    public async Task The_school_snapshot_sums_its_rooms_per_building_and_follows_a_room_moved_to_another_building()
    {
        await using var cluster = await CampusTestCluster.StartAsync(new FakeTimeProvider(Start));
        await cluster.AddSchoolAsync("s01");
        await cluster.Registry.UpsertBuilding(new BuildingSpec("s01", "sci", "Science wing"), "admin");
        await cluster.Registry.UpsertRoom(new RoomSpec("s01", "lab1", "Lab 1", Building: "sci"), "admin");
        await cluster.Registry.UpsertRoom(new RoomSpec("s01", "lab2", "Lab 2", Building: "sci"), "admin");
        await cluster.AddRoomAsync("s01", "r101");
        var at = Start;
        await cluster.Room("s01", "lab1").Report(new DeviceLive("m1", DeviceKind.Energy, true, 300, 0, null, null, null, at));
        await cluster.Room("s01", "lab2").Report(new DeviceLive("m2", DeviceKind.Energy, true, 200, 0, null, null, null, at));
        await cluster.Room("s01", "r101").Report(new DeviceLive("e1", DeviceKind.Env, true, null, 0, true, 21, null, at));
        // Reports are one way: a call to each room after them returns once the room has told its school.
        foreach (var room in new[] { "lab1", "lab2", "r101" }) await cluster.Room("s01", room).GetSnapshot();

        var snapshot = await cluster.School("s01").GetSnapshot();
        Assert.Equal("sci", snapshot.Rooms.Single(r => r.Room == "lab1").Building);
        var buildings = snapshot.Buildings!;
        Assert.Equal([BuildingSpec.DefaultId, "sci"], buildings.Select(b => b.Building));
        var sci = buildings.Single(b => b.Building == "sci");
        Assert.Equal(("Science wing", 500.0, 0, 2), (sci.Name, sci.PowerW, sci.OccupiedRooms, sci.DevicesOnline));
        Assert.Equal(["lab1", "lab2"], sci.Rooms);
        var main = buildings.Single(b => b.Building == BuildingSpec.DefaultId);
        Assert.Equal((BuildingSpec.DefaultName, 0.0, 1, 1), (main.Name, main.PowerW, main.OccupiedRooms, main.DevicesOnline));

        await cluster.Registry.UpsertRoom(new RoomSpec("s01", "lab2", "Lab 2"), "admin"); // into the default building
        var moved = (await cluster.School("s01").GetSnapshot()).Buildings!;
        Assert.Equal(["lab1"], moved.Single(b => b.Building == "sci").Rooms);
        Assert.Equal(["lab2", "r101"], moved.Single(b => b.Building == BuildingSpec.DefaultId).Rooms);
        Assert.Equal(200.0, moved.Single(b => b.Building == BuildingSpec.DefaultId).PowerW);
    }

    [Fact]
    public async Task A_seed_file_without_buildings_still_loads_with_every_room_in_the_default_building()
    {
        await using var cluster = await CampusTestCluster.StartAsync(new FakeTimeProvider(Start));
        var file = await WriteSeedAsync("""
            {"Schools": [{"Id": "s01", "TimeZoneId": "Europe/Berlin", "Rooms": ["r101", "r102"]}],
             "Devices": [{"Id": "m1", "School": "s01", "Room": "r102", "Kind": "energy", "Password": "pw", "HmacKey": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}
            """);
        await Seeder.ApplyAsync(cluster.Registry, new SeedOptions { File = file });

        Assert.Equal([("r101", "main"), ("r102", "main")], (await cluster.Registry.ListRooms("s01")).Select(r => (r.Id, r.Building)));
        Assert.Equal([BuildingSpec.Default("s01")], await cluster.Registry.ListBuildings("s01"));
        Assert.Equal("r102", (await cluster.Registry.GetDevice("m1"))!.Room);
    }

    [Fact]
    public async Task A_seed_file_with_buildings_registers_them_and_their_rooms_and_a_second_apply_changes_nothing()
    {
        await using var cluster = await CampusTestCluster.StartAsync(new FakeTimeProvider(Start));
        var file = await WriteSeedAsync("""
            {"Schools": [{"Id": "s01", "Rooms": ["r101"],
                          "Buildings": [{"Id": "b1", "Name": "North", "Rooms": ["n1", "n2"]}, {"Id": "b2", "Rooms": ["s1"]}]}],
             "Devices": [{"Id": "m1", "School": "s01", "Room": "n2", "Kind": "energy", "Password": "pw", "HmacKey": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}
            """);
        var seed = new SeedOptions { File = file };
        await Seeder.ApplyAsync(cluster.Registry, seed);
        await Seeder.ApplyAsync(cluster.Registry, seed);

        Assert.Equal([("n1", "b1"), ("n2", "b1"), ("r101", "main"), ("s1", "b2")], (await cluster.Registry.ListRooms("s01")).Select(r => (r.Id, r.Building)));
        Assert.Equal(["North", "b2", BuildingSpec.DefaultName], (await cluster.Registry.ListBuildings("s01")).Select(b => b.Name));
        var audit = await cluster.History.GetAuditLogAsync(new AuditLogQuery("s01", Page: new PageRequest(100)));
        Assert.Equal(2, audit.Items.Count(a => a.Entry.Action == "building.upsert"));
    }

    private async Task<string> WriteSeedAsync(string json)
    {
        _temp ??= TempDirectory.Create("campus-seed-");
        var path = _temp.File("seed.json");
        await File.WriteAllTextAsync(path, json);
        return path;
    }
}
