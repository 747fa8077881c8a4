using Campus.Dashboard.Accounts;
using Campus.Testing;

namespace Campus.Dashboard.Tests;

/// <summary>
/// The account store's contract, run against every implementation: in memory, SQLite (a file)
/// and a real PostgreSQL. Each derived class gives a fresh, empty store.
/// </summary>
public abstract class UserStoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset Created = new(2026, 3, 1, 8, 30, 15, 123, TimeSpan.Zero);

    protected IUserStore Store { get; private set; } = default!;

    protected abstract Task<IUserStore> CreateStoreAsync();

    public async Task InitializeAsync()
    {
        Store = await CreateStoreAsync();
        await Store.InitializeAsync();
    }

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private static DashboardUser User(string name, string? school = "s01", DashboardRole role = DashboardRole.Teacher, bool disabled = false) =>
        new(name, "Display of " + name, role, school, "hash-of-" + name, disabled, Created);

    [Fact]
    public async Task An_unknown_user_is_not_found()
    {
        Assert.Null(await Store.FindAsync("nobody"));
    }

    [Fact]
    public async Task A_saved_user_reads_back_with_every_field()
    {
        var guard = new DashboardUser("guard-1", "王保安 (night shift)", DashboardRole.Security, "s01", "AQAAAAIAAYagAAAAE+/x==", Disabled: true, Created);
        var admin = new DashboardUser("admin", "District Admin", DashboardRole.DistrictAdmin, null, "h", Disabled: false, Created);
        await Store.UpsertAsync(guard);
        await Store.UpsertAsync(admin);

        Assert.Equal(guard, await Store.FindAsync("guard-1"));
        Assert.Equal(admin, await Store.FindAsync("admin"));
    }

    [Fact]
    public async Task Every_role_survives_the_round_trip()
    {
        foreach (var role in Enum.GetValues<DashboardRole>())
        {
            var name = "role-" + (int)role;
            await Store.UpsertAsync(User(name, role == DashboardRole.DistrictAdmin ? null : "s01", role));
            Assert.Equal(role, (await Store.FindAsync(name))!.Role);
        }
    }

    [Fact]
    public async Task Saving_again_changes_the_account_but_keeps_its_creation_time()
    {
        await Store.UpsertAsync(User("t-1"));
        await Store.UpsertAsync(new DashboardUser("t-1", "Renamed", DashboardRole.SchoolAdmin, "s02", "new-hash", Disabled: true, Created.AddDays(5)));

        var user = await Store.FindAsync("t-1");
        Assert.Equal(new DashboardUser("t-1", "Renamed", DashboardRole.SchoolAdmin, "s02", "new-hash", true, Created), user);
        Assert.Single(await Store.ListAsync(null, 0, 10));
    }

    [Fact]
    public async Task User_names_are_case_sensitive()
    {
        await Store.UpsertAsync(User("teacher"));
        Assert.Null(await Store.FindAsync("TEACHER"));
        Assert.Null(await Store.FindAsync("Teacher"));
    }

    [Fact]
    public async Task The_list_of_a_school_has_only_its_users_in_ordinal_name_order()
    {
        // Code point order: '-' before digits before capitals before small letters; a linguistic collation puts "a1" before "B1".
        string[] names = ["b-2", "b2", "a-b", "ab", "a1", "zz", "aa", "B1", "Ab"];
        foreach (var n in names) await Store.UpsertAsync(User(n));
        await Store.UpsertAsync(User("other", "s02"));
        await Store.UpsertAsync(User("admin", null, DashboardRole.DistrictAdmin));

        var list = await Store.ListAsync("s01", 0, 100);

        Assert.Equal(names.Order(StringComparer.Ordinal), list.Select(u => u.UserName));
        Assert.All(list, u => Assert.Equal("s01", u.School));
    }

    [Fact]
    public async Task The_district_wide_list_has_every_user_including_those_without_a_school()
    {
        await Store.UpsertAsync(User("x-1", "s01"));
        await Store.UpsertAsync(User("x-2", "s02"));
        await Store.UpsertAsync(User("x-0", null, DashboardRole.DistrictAdmin));

        Assert.Equal(["x-0", "x-1", "x-2"], (await Store.ListAsync(null, 0, 10)).Select(u => u.UserName));
    }

    [Fact]
    public async Task Pages_of_the_list_follow_each_other_without_gaps_or_repeats()
    {
        var names = Enumerable.Range(0, 23).Select(i => $"p{i:00}").ToList();
        foreach (var n in names.AsEnumerable().Reverse()) await Store.UpsertAsync(User(n));

        var seen = new List<string>();
        for (var offset = 0; ; offset += 5)
        {
            var page = await Store.ListAsync("s01", offset, 5);
            Assert.True(page.Count <= 5, $"page at {offset} has {page.Count} users");
            if (page.Count == 0) break;
            seen.AddRange(page.Select(u => u.UserName));
        }

        Assert.Equal(names, seen);
        Assert.Empty(await Store.ListAsync("s01", 100, 5));
        Assert.Empty(await Store.ListAsync("s99", 0, 5));
    }

    [Fact]
    public async Task Initializing_an_existing_store_again_keeps_its_accounts()
    {
        await Store.UpsertAsync(User("kept"));
        await Store.InitializeAsync();
        Assert.NotNull(await Store.FindAsync("kept"));
    }

    [Fact]
    public async Task Concurrent_saves_of_different_users_all_land()
    {
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Store.UpsertAsync(User($"c{i:00}"))));
        Assert.Equal(20, (await Store.ListAsync("s01", 0, 100)).Count);
    }
}

public sealed class InMemoryUserStoreTests : UserStoreContract
{
    protected override Task<IUserStore> CreateStoreAsync() => Task.FromResult<IUserStore>(new InMemoryUserStore());
}

public sealed class SqliteUserStoreTests : UserStoreContract
{
    private readonly string _folder = Directory.CreateTempSubdirectory("campus-users-").FullName;

    protected override Task<IUserStore> CreateStoreAsync() =>
        Task.FromResult<IUserStore>(SqlUserStore.Sqlite($"Data Source={Path.Combine(_folder, "campus.db")};Pooling=False"));

    public override Task DisposeAsync()
    {
        TempDirectory.Delete(_folder);
        return Task.CompletedTask;
    }
}

public sealed class PostgresUserStoreTests : UserStoreContract
{
    protected override async Task<IUserStore> CreateStoreAsync() =>
        SqlUserStore.Postgres(await (await PostgresServer.GetAsync()).CreateDatabaseAsync("users"));
}

/// <summary>
/// PostgreSQL with a linguistic default collation (ICU "en-US", as on servers set up in an English
/// locale), where "a1" sorts before "B1": the store still sorts by code point, as in memory and SQLite.
/// </summary>
public sealed class PostgresLinguisticCollationUserStoreTests : UserStoreContract
{
    protected override async Task<IUserStore> CreateStoreAsync()
    {
        var plain = new Npgsql.NpgsqlConnectionStringBuilder(await (await PostgresServer.GetAsync()).CreateDatabaseAsync("users_icu"));
        var name = plain.Database![..Math.Min(plain.Database!.Length, 55)] + "_icu";
        await using (var c = new Npgsql.NpgsqlConnection(plain.ConnectionString))
        {
            await c.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand($"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'", c);
            await cmd.ExecuteNonQueryAsync();
        }
        return SqlUserStore.Postgres(new Npgsql.NpgsqlConnectionStringBuilder(plain.ConnectionString) { Database = name }.ConnectionString);
    }
}
