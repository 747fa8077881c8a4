using System.Collections.Concurrent;
using System.Text.Json;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.Services;
using Campus.Controller.Testing;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Controller.Tests.Registry;

/// <summary>How the registry persists: a small head document and shards, so a change writes one shard.</summary>
public sealed class RegistryStorageTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 26, 10, 0, 0, TimeSpan.FromHours(8));

    [Fact]
    public async Task Changing_one_device_of_a_large_registry_writes_one_small_shard_of_the_registry()
    {
        var storage = new CountingStorage();
        await using var cluster = await StartAsync(storage);
        await cluster.AddSchoolAsync("s01");
        await cluster.AddRoomAsync("s01", "r1");
        for (var i = 0; i < 3000; i++)
            await cluster.Registry.ImportDevice(new DeviceSpec("s01", "r1", DeviceKind.Energy, $"m{i}"), "pw", Convert.ToBase64String(new byte[32]), "seed");

        storage.Writes.Clear();
        await cluster.Registry.RotateCredentials("m1234", "admin");
        var registryWrites = storage.Writes.Where(w => w.State.StartsWith("registry", StringComparison.Ordinal)).ToList();
        var write = Assert.Single(registryWrites);
        Assert.StartsWith("registry-devices-", write.State, StringComparison.Ordinal);
        var all = storage.Rows.Where(r => r.Key.State.StartsWith("registry", StringComparison.Ordinal)).Sum(r => r.Value.Json.Length);
        Assert.True(write.Bytes * 100 < all, $"one change wrote {write.Bytes} bytes of a registry of {all} bytes");
        Assert.True(cluster.Services.GetRequiredService<DeviceDirectory>().TryGet("m1234", out _));
    }

    [Fact]
    public async Task A_restarted_registry_reads_its_shards_back_into_the_device_directory_and_its_lists()
    {
        var storage = new CountingStorage();
        var person = new PersonProfile("p1", "Li Wei", PersonRole.Teacher, "s01", [new AccessCard("04A1B2C3", CardStatus.Active)], []);
        await using (var first = await StartAsync(storage))
        {
            await first.AddSchoolAsync("s01");
            await first.Registry.UpsertBuilding(new BuildingSpec("s01", "b1", "North"), "admin");
            await first.Registry.UpsertRoom(new RoomSpec("s01", "r1", "Room 1", Building: "b1"), "admin");
            for (var i = 0; i < 50; i++) await first.AddDeviceAsync("s01", "r1", DeviceKind.Env, $"e{i}");
            await first.Registry.UpsertPerson(person, "admin");
        }

        await using var second = await StartAsync(storage);
        await second.Registry.Load();
        Assert.Equal(50, second.Services.GetRequiredService<DeviceDirectory>().Count);
        Assert.Equal(50, (await second.Registry.ListDevices("s01")).Count);
        Assert.Equal([("r1", "b1")], (await second.Registry.ListRooms("s01")).Select(r => (r.Id, r.Building)));
        Assert.Equal("North", Assert.Single(await second.Registry.ListBuildings("s01")).Name);
        Assert.Equal(person.Name, (await second.Registry.GetPerson("p1"))!.Name);
    }

    [Fact]
    public async Task A_registry_kept_as_one_document_by_an_earlier_version_is_moved_into_shards_at_start()
    {
        var storage = new CountingStorage();
        var old = new RegistryState();
        old.Schools["s01"] = new SchoolSpec("s01", "s01", "Asia/Shanghai", SchoolGrain.DefaultOpeningHours, []);
        old.Rooms["s01/r1"] = new RoomSpec("s01", "r1", "Room 1"); // written before rooms had buildings
        var spec = new DeviceSpec("s01", "r1", DeviceKind.Energy, "m1");
        old.Devices["m1"] = new DeviceRecord(spec, "aGFzaA==", "c2FsdA==", Convert.ToBase64String(new byte[32]), Start);
        old.People["p1"] = new PersonProfile("p1", "Li Wei", PersonRole.Teacher, "s01", [], []);
        await using (var earlier = await StartAsync(storage))
            await earlier.AddSchoolAsync("s01"); // only to learn where the registry's head document is kept
        storage.Put("registry", storage.Rows.Keys.Single(k => k.State == "registry").Id, old);

        await using var cluster = await StartAsync(storage);
        await cluster.Registry.Load();
        Assert.Equal(spec, await cluster.Registry.GetDevice("m1"));
        Assert.Equal([("r1", BuildingSpec.DefaultId)], (await cluster.Registry.ListRooms("s01")).Select(r => (r.Id, r.Building)));
        Assert.NotNull(await cluster.Registry.GetPerson("p1"));
        Assert.True(cluster.Services.GetRequiredService<DeviceDirectory>().TryGet("m1", out _));
        var head = storage.Get<RegistryState>("registry");
        Assert.Empty(head.Devices);
        Assert.Single(head.Schools);
        Assert.Contains(storage.Rows.Keys, k => k.State.StartsWith("registry-devices-", StringComparison.Ordinal));
    }

    private static Task<CampusTestCluster> StartAsync(CountingStorage storage) =>
        CampusTestCluster.StartAsync(new FakeTimeProvider(Start), o => o.ConfigureServices = s => s.AddKeyedSingleton<IGrainStorage>(GrainStorageNames.Default, storage));
}
