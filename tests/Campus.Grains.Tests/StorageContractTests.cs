using Campus.Grains.Reminders;
using Campus.Grains.Storage;

namespace Campus.Grains.Tests;

/// <summary>
/// The contract every grain storage and reminder table keeps. Derived classes run it against
/// memory, a SQLite file and a PostgreSQL database.
/// </summary>
public abstract class StorageContractTests : IAsyncLifetime
{
    private static readonly GrainStorageOptions Options = new();

    protected IGrainStorage Storage { get; private set; } = null!;
    protected IReminderTable Reminders { get; private set; } = null!;

    protected abstract Task<(IGrainStorage Storage, IReminderTable Reminders)> CreateAsync(GrainStorageOptions options);

    public async Task InitializeAsync() => (Storage, Reminders) = await CreateAsync(Options);

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private static GrainId NewId() => new("device", Keys.New("d"));

    private static GrainState<DeviceState> Fresh() => new(new DeviceState());

    [Fact]
    public async Task Reading_a_missing_record_gives_a_fresh_state_and_no_etag()
    {
        var state = new GrainState<DeviceState>(new DeviceState { Name = "stale" }) { ETag = "7", RecordExists = true };
        await Storage.ReadStateAsync("device", NewId(), state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal("", state.State.Name);
    }

    [Fact]
    public async Task Written_state_reads_back_with_the_same_etag()
    {
        var id = NewId();
        var written = Fresh();
        written.State.Name = "meter 1";
        written.State.Values.AddRange([1.5, 2.5]);
        await Storage.WriteStateAsync("device", id, written);
        Assert.NotNull(written.ETag);
        Assert.True(written.RecordExists);

        var read = Fresh();
        await Storage.ReadStateAsync("device", id, read);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal("meter 1", read.State.Name);
        Assert.Equal([1.5, 2.5], read.State.Values);

        read.State.Readings = 3;
        await Storage.WriteStateAsync("device", id, read);
        Assert.NotEqual(written.ETag, read.ETag);
    }

    [Fact]
    public async Task States_are_kept_apart_by_state_name_and_grain()
    {
        var id = NewId();
        var a = Fresh();
        a.State.Name = "a";
        await Storage.WriteStateAsync("one", id, a);

        var other = Fresh();
        await Storage.ReadStateAsync("two", id, other);
        Assert.False(other.RecordExists);
        await Storage.ReadStateAsync("one", NewId(), other);
        Assert.False(other.RecordExists);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_throws_InconsistentStateException()
    {
        var id = NewId();
        var first = Fresh();
        await Storage.WriteStateAsync("device", id, first);
        var second = Fresh();
        await Storage.ReadStateAsync("device", id, second);

        first.State.Name = "first";
        await Storage.WriteStateAsync("device", id, first);

        second.State.Name = "second";
        var ex = await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync("device", id, second));
        Assert.Equal(first.ETag, ex.StoredEtag);
        Assert.Contains(id.ToString(), ex.Message, StringComparison.Ordinal);

        var read = Fresh();
        await Storage.ReadStateAsync("device", id, read);
        Assert.Equal("first", read.State.Name);
    }

    [Fact]
    public async Task Inserting_when_a_record_already_exists_is_a_conflict()
    {
        var id = NewId();
        await Storage.WriteStateAsync("device", id, Fresh());

        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.WriteStateAsync("device", id, Fresh()));
    }

    [Fact]
    public async Task Clear_removes_the_record_and_checks_the_etag()
    {
        var id = NewId();
        var state = Fresh();
        state.State.Name = "gone soon";
        await Storage.WriteStateAsync("device", id, state);
        var stale = Fresh();
        await Storage.ReadStateAsync("device", id, stale);
        await Storage.WriteStateAsync("device", id, state);

        await Assert.ThrowsAsync<InconsistentStateException>(() => Storage.ClearStateAsync("device", id, stale));

        await Storage.ClearStateAsync("device", id, state);
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal("", state.State.Name);

        var read = Fresh();
        await Storage.ReadStateAsync("device", id, read);
        Assert.False(read.RecordExists);

        // After a clear, the record can be written again from scratch.
        await Storage.WriteStateAsync("device", id, state);
        Assert.True(state.RecordExists);
    }

    [Fact]
    public async Task Of_concurrent_writers_holding_the_same_etag_exactly_one_wins()
    {
        var id = NewId();
        var seed = Fresh();
        await Storage.WriteStateAsync("device", id, seed);

        var writers = Enumerable.Range(0, 8).Select(i => new GrainState<DeviceState>(new DeviceState { Name = "w" + i }) { ETag = seed.ETag, RecordExists = true }).ToList();
        var outcomes = await Task.WhenAll(writers.Select(async w =>
        {
            try
            {
                await Storage.WriteStateAsync("device", id, w);
                return true;
            }
            catch (InconsistentStateException)
            {
                return false;
            }
        }));

        Assert.Single(outcomes, o => o);
        var winner = writers[Array.IndexOf(outcomes, true)];
        var read = Fresh();
        await Storage.ReadStateAsync("device", id, read);
        Assert.Equal(winner.State.Name, read.State.Name);
        Assert.Equal(winner.ETag, read.ETag);
    }

    [Fact]
    public async Task Large_state_round_trips_intact()
    {
        var id = NewId();
        var state = Fresh();
        state.State.Name = new string('x', 100_000);
        state.State.Values.AddRange(Enumerable.Range(0, 50_000).Select(i => i * 0.25));
        await Storage.WriteStateAsync("device", id, state);

        var read = Fresh();
        await Storage.ReadStateAsync("device", id, read);
        Assert.Equal(state.State.Name, read.State.Name);
        Assert.Equal(state.State.Values, read.State.Values);
    }

    [Fact]
    public async Task Reminder_rows_are_upserted_read_and_removed_by_etag()
    {
        var id = NewId();
        var start = new DateTime(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);
        var etag1 = await Reminders.UpsertRowAsync(new ReminderEntry { GrainId = id, ReminderName = "rollup", StartAt = start, Period = TimeSpan.FromHours(1) });
        var etag2 = await Reminders.UpsertRowAsync(new ReminderEntry { GrainId = id, ReminderName = "rollup", StartAt = start.AddMinutes(5), Period = TimeSpan.FromMinutes(30) });
        await Reminders.UpsertRowAsync(new ReminderEntry { GrainId = id, ReminderName = "other", StartAt = start, Period = TimeSpan.FromDays(1) });
        Assert.NotEqual(etag1, etag2);

        var row = await Reminders.ReadRowAsync(id, "rollup");
        Assert.NotNull(row);
        Assert.Equal(start.AddMinutes(5), row.StartAt);
        Assert.Equal(DateTimeKind.Utc, row.StartAt.Kind);
        Assert.Equal(TimeSpan.FromMinutes(30), row.Period);
        Assert.Equal(etag2, row.ETag);

        Assert.Equal(["other", "rollup"], (await Reminders.ReadRowsAsync(id)).Select(r => r.ReminderName).Order());
        Assert.Contains(await Reminders.ReadAllRowsAsync(), r => r.GrainId == id && r.ReminderName == "other");

        Assert.False(await Reminders.RemoveRowAsync(id, "rollup", etag1));
        Assert.True(await Reminders.RemoveRowAsync(id, "rollup", etag2));
        Assert.Null(await Reminders.ReadRowAsync(id, "rollup"));
        Assert.Null(await Reminders.ReadRowAsync(NewId(), "rollup"));
    }
}

public sealed class MemoryStorageContractTests : StorageContractTests
{
    protected override Task<(IGrainStorage, IReminderTable)> CreateAsync(GrainStorageOptions options) =>
        Task.FromResult<(IGrainStorage, IReminderTable)>((new MemoryGrainStorage(options), new MemoryReminderTable()));
}

public sealed class SqliteStorageContractTests : StorageContractTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("campus-grains-").FullName;

    protected override Task<(IGrainStorage, IReminderTable)> CreateAsync(GrainStorageOptions options)
    {
        var cs = $"Data Source={Path.Combine(_dir, "grains.db")}";
        return Task.FromResult<(IGrainStorage, IReminderTable)>((new SqliteGrainStorage(cs, options), new SqliteReminderTable(cs)));
    }

    public override Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        TempDirectory.Delete(_dir);
        return Task.CompletedTask;
    }
}

public sealed class PostgresStorageContractTests : StorageContractTests
{
    private Npgsql.NpgsqlDataSource? _source;

    protected override async Task<(IGrainStorage, IReminderTable)> CreateAsync(GrainStorageOptions options)
    {
        var server = await PostgresServer.GetAsync();
        _source = Npgsql.NpgsqlDataSource.Create(await server.CreateDatabaseAsync("grains"));
        return (new PostgresGrainStorage(_source, options), new PostgresReminderTable(_source));
    }

    public override async Task DisposeAsync()
    {
        if (_source is not null) await _source.DisposeAsync();
    }
}
