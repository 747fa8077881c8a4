using System.Text.Json;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Testing;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Campus.Controller.Tests.Registry;

/// <summary>The registry's bulk people upsert: each touched shard and school written once, the same outcome as one by one, bad rows named.</summary>
public sealed class BulkPeopleUpsertTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 26, 10, 0, 0, TimeSpan.FromHours(8));
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly PersonRole[] Roles = [PersonRole.Student, PersonRole.Teacher, PersonRole.Staff, PersonRole.Security];

    [Fact]
    public async Task Upserting_2000_people_in_one_call_writes_each_touched_people_shard_and_each_school_once()
    {
        var storage = new CountingStorage();
        await using var cluster = await StartAsync(storage);
        await cluster.AddSchoolAsync("s01");
        await cluster.AddSchoolAsync("s02");
        var people = Enumerable.Range(0, 2000).Select(i => Person(i, i % 3 == 0 ? "s02" : "s01")).ToList();

        storage.Writes.Clear();
        var result = await cluster.Registry.UpsertPeople(people, "admin");

        Assert.Equal((2000, 0), (result.Applied, result.Errors.Count));
        var layout = new RegistryShards<PersonProfile>(storage, new GrainId("registry", IRegistryGrain.RegistryKey), "registry-people", RegistryGrain.PeopleShards);
        var expected = people.Select(p => layout.ShardOf(p.Id)).Distinct().Count();
        var shardWrites = storage.Writes.Where(w => w.State.StartsWith("registry-people-", StringComparison.Ordinal)).GroupBy(w => w.State).ToList();
        Assert.Equal(expected, shardWrites.Count);
        Assert.All(shardWrites, g => Assert.True(g.Count() == 1, $"shard {g.Key} was written {g.Count()} times"));
        Assert.DoesNotContain(storage.Writes, w => w.State == "registry"); // the head document is not touched
        Assert.Equal(["s01", "s02"], storage.Writes.Where(w => w.State == "school").Select(w => w.Key).Order(StringComparer.Ordinal));
        Assert.Equal(2000, storage.All<RegistryShard<PersonProfile>>("registry-people-").Sum(s => s.Value.Items.Count));
        Assert.Equal(667, (await cluster.Registry.ListPeople("s02")).Count);
        var verdict = await cluster.School("s02").DecideAccess("d1", "r1", Card(1998));
        Assert.Equal(people[1998].Id, verdict.Decision.PersonId);
    }

    [Fact]
    public async Task A_bulk_upsert_stores_indexes_and_audits_exactly_what_the_same_people_upserted_one_by_one_do()
    {
        var oneByOneStorage = new CountingStorage();
        var bulkStorage = new CountingStorage();
        await using var oneByOne = await StartAsync(oneByOneStorage);
        await using var bulk = await StartAsync(bulkStorage);
        // Both registries start with the same 100 people in s01; the change updates 60 of them (20 move to
        // s02, 20 get new cards, 20 lose their zone) and adds 200 new ones in both schools.
        var before = Enumerable.Range(0, 100).Select(i => Person(i, "s01")).ToList();
        var change = new List<PersonProfile>();
        for (var i = 0; i < 60; i++)
            change.Add((i % 3) switch
            {
                0 => before[i] with { School = "s02" },
                1 => before[i] with { Cards = [new AccessCard(Card(i), CardStatus.Lost), new AccessCard(Card(5000 + i), CardStatus.Active)] },
                _ => before[i] with { Zones = [] },
            });
        change.AddRange(Enumerable.Range(100, 200).Select(i => Person(i, i % 2 == 0 ? "s01" : "s02")));
        foreach (var cluster in new[] { oneByOne, bulk })
        {
            await cluster.AddSchoolAsync("s01", zones: [new AccessZoneSpec("labs", ["r1"])]);
            await cluster.AddSchoolAsync("s02", zones: [new AccessZoneSpec("labs", ["r1"])]);
            Assert.Equal(100, (await cluster.Registry.UpsertPeople(before, "seed")).Applied);
        }

        foreach (var person in change) await oneByOne.Registry.UpsertPerson(person, "admin");
        var result = await bulk.Registry.UpsertPeople(change, "admin");

        Assert.Equal((change.Count, 0), (result.Applied, result.Errors.Count));
        Assert.Equal(Stored(oneByOneStorage), Stored(bulkStorage));
        foreach (var school in new[] { "s01", "s02" })
        {
            Assert.Equal(Text(await oneByOne.Registry.ListPeople(school)), Text(await bulk.Registry.ListPeople(school)));
            Assert.Equal(SchoolPeople(oneByOneStorage, school), SchoolPeople(bulkStorage, school));
            Assert.Equal(await AuditAsync(oneByOne, school), await AuditAsync(bulk, school));
        }
        Assert.Contains("\"p-0000\"", SchoolPeople(bulkStorage, "s02"), StringComparison.Ordinal); // moved...
        Assert.DoesNotContain("\"p-0000\"", SchoolPeople(bulkStorage, "s01"), StringComparison.Ordinal); // ...and gone from the old school
        foreach (var (school, card) in new[] { ("s01", Card(0)), ("s02", Card(0)), ("s01", Card(1)), ("s01", Card(5001)), ("s01", Card(2)), ("s02", Card(101)) })
            Assert.Equal((await oneByOne.School(school).DecideAccess("d1", "r1", card)).Decision, (await bulk.School(school).DecideAccess("d1", "r1", card)).Decision);
        Assert.Equal(AccessReason.UnknownCard, (await bulk.School("s01").DecideAccess("d1", "r1", Card(0))).Decision.Reason);
        Assert.Equal(AccessReason.CardBlocked, (await bulk.School("s01").DecideAccess("d1", "r1", Card(1))).Decision.Reason);
    }

    [Fact]
    public async Task Each_bad_row_is_refused_with_its_row_and_id_named_and_the_good_rows_are_applied()
    {
        var storage = new CountingStorage();
        await using var cluster = await StartAsync(storage);
        await cluster.AddSchoolAsync("s01");
        PersonProfile[] rows =
        [
            Person(0, "s01"),
            Person(1, "s01") with { Cards = [new AccessCard("04a1b2c3", CardStatus.Active)] },
            Person(2, "s09"),
            Person(3, "s01") with { Id = " " },
            Person(4, "s01"),
            Person(0, "s01") with { Name = "Given twice" },
            null!,
        ];

        var result = await cluster.Registry.UpsertPeople(rows, "admin");

        Assert.Equal(2, result.Applied);
        Assert.Equal(
            [
                new PersonRowError(1, "p-0001", "Card '04a1b2c3' is not a UID of 8 or 14 upper-case hex digits."),
                new PersonRowError(2, "p-0002", "School 's09' is not registered; register the school first."),
                new PersonRowError(3, null, "The person id is empty; give each person an id."),
                new PersonRowError(5, "p-0000", "Person 'p-0000' is also in row 0; give each person once."),
                new PersonRowError(6, null, "The row holds no person."),
            ],
            result.Errors);
        Assert.Equal("Row 1 (person 'p-0001'): Card '04a1b2c3' is not a UID of 8 or 14 upper-case hex digits.", result.Errors[0].ToString());
        Assert.Equal(["p-0000", "p-0004"], (await cluster.Registry.ListPeople("s01")).Select(p => p.Id));
        Assert.Equal(Person(0, "s01").Name, (await cluster.Registry.GetPerson("p-0000"))!.Name);
        Assert.Null(await cluster.Registry.GetPerson("p-0001"));
        Assert.Null(await cluster.Registry.GetPerson("p-0002"));
        var audit = await cluster.History.GetAuditLogAsync(new AuditLogQuery("s01", Page: new PageRequest(100)));
        Assert.Equal(["p-0000", "p-0004"], audit.Items.Where(a => a.Entry.Action == "person.upsert").Select(a => a.Entry.Target).Order(StringComparer.Ordinal));

        // The single upsert refuses the same person with the same words.
        var single = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Registry.UpsertPerson(rows[1]!, "admin"));
        Assert.StartsWith(result.Errors[0].Reason, single.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_of_only_bad_rows_writes_nothing_and_an_oversized_batch_is_refused_whole()
    {
        var storage = new CountingStorage();
        await using var cluster = await StartAsync(storage);
        await cluster.AddSchoolAsync("s01");
        storage.Writes.Clear();

        var result = await cluster.Registry.UpsertPeople([Person(1, "s09"), Person(2, "s01") with { Cards = [new AccessCard("XYZ", CardStatus.Active)] }], "admin");
        Assert.Equal((0, 2), (result.Applied, result.Errors.Count));
        Assert.Empty(storage.Writes);

        var tooMany = Enumerable.Range(0, IRegistryGrain.MaxPeoplePerCall + 1).Select(i => Person(i, "s01")).ToList();
        var e = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Registry.UpsertPeople(tooMany, "admin"));
        Assert.Contains("split the list", e.Message, StringComparison.Ordinal);
        Assert.Empty(storage.Writes);
        Assert.Empty(await cluster.Registry.ListPeople("s01"));
    }

    private static PersonProfile Person(int i, string school) => new(
        $"p-{i:D4}", $"Person {i}", Roles[i % Roles.Length], school,
        [new AccessCard(Card(i), CardStatus.Active)],
        i % 2 == 0 ? [new ZoneGrant("labs", WeeklySchedule.Always)] : []);

    private static string Card(int i) => $"04{i:X6}";

    private static string Text<T>(T value) => JsonSerializer.Serialize(value, Json);

    /// <summary>Every person stored in the registry's shards, by shard and id.</summary>
    private static string Stored(CountingStorage storage) =>
        Text(storage.All<RegistryShard<PersonProfile>>("registry-people-").Select(s => new { s.State, Items = s.Value.Items.OrderBy(p => p.Key, StringComparer.Ordinal).ToList() }).ToList());

    /// <summary>The people the school grain stored (its card index is built from them), by id.</summary>
    private static string SchoolPeople(CountingStorage storage, string school) =>
        Text(storage.Get<SchoolState>("school", school).People.OrderBy(p => p.Key, StringComparer.Ordinal).ToList());

    private static async Task<List<string>> AuditAsync(CampusTestCluster cluster, string school)
    {
        var page = await cluster.History.GetAuditLogAsync(new AuditLogQuery(school, Page: new PageRequest(1000)));
        return [.. page.Items.Select(a => $"{a.Entry.Actor} {a.Entry.Action} {a.Entry.Target}").Order(StringComparer.Ordinal)];
    }

    private static Task<CampusTestCluster> StartAsync(CountingStorage storage) =>
        CampusTestCluster.StartAsync(new FakeTimeProvider(Start), o => o.ConfigureServices = s => s.AddKeyedSingleton<IGrainStorage>(GrainStorageNames.Default, storage));
}
