using Campus.Grains.Storage;
using Npgsql;

namespace Campus.Grains.Tests;

/// <summary>
/// The coalesced write path of the PostgreSQL grain storage, against a real server. Several tests hold
/// the writer loop's round trip on a table lock, queue writes behind it and release it, so that the
/// queued writes go out together in the next batch.
/// </summary>
public sealed class PostgresGrainStorageTests : IAsyncLifetime
{
    private const string StateName = "device";
    private string _database = "";
    private NpgsqlDataSource _source = null!;
    private PostgresGrainStorage _storage = null!;

    public async Task InitializeAsync()
    {
        _database = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("grainwrites");
        _source = NpgsqlDataSource.Create(_database);
        _storage = new PostgresGrainStorage(_source, new GrainStorageOptions());
    }

    public async Task DisposeAsync()
    {
        await _storage.DisposeAsync();
        await _source.DisposeAsync();
    }

    private static GrainId NewId() => new("device", Keys.New("d"));

    private static GrainState<DeviceState> State(string name, string? etag = null) =>
        new(new DeviceState { Name = name }) { ETag = etag, RecordExists = etag is not null };

    private async Task<GrainState<DeviceState>> SeedAsync(GrainId id, string name = "seed")
    {
        var state = State(name);
        await _storage.WriteStateAsync(StateName, id, state);
        return state;
    }

    private async Task<GrainState<DeviceState>> ReadAsync(GrainId id)
    {
        var state = State("");
        await _storage.ReadStateAsync(StateName, id, state);
        return state;
    }

    [Fact]
    public async Task Many_concurrent_writers_all_succeed_and_each_state_holds_its_last_write()
    {
        // A small batch bound, so that full batches and writes held for the next batch happen too.
        await using var storage = new PostgresGrainStorage(_source, new GrainStorageOptions(), maxBatchSize: 16);
        var ids = Enumerable.Range(0, 200).Select(_ => NewId()).ToArray();
        await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            var state = State("");
            for (var i = 1; i <= 20; i++)
            {
                state.State.Name = id.Key + " write " + i;
                state.State.Readings = i;
                await storage.WriteStateAsync(StateName, id, state);
                Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), state.ETag);
            }
        })));

        foreach (var id in ids)
        {
            var read = await ReadAsync(id);
            Assert.Equal("20", read.ETag);
            Assert.Equal(id.Key + " write 20", read.State.Name);
            Assert.Equal(20, read.State.Readings);
        }
    }

    [Fact]
    public async Task A_stale_etag_in_a_batch_fails_alone_while_the_other_writes_of_the_batch_are_stored()
    {
        var ids = Enumerable.Range(0, 5).Select(_ => NewId()).ToArray();
        var seeds = new List<GrainState<DeviceState>>();
        foreach (var id in ids) seeds.Add(await SeedAsync(id));
        // ids[2] moves on to version 2 behind the back of the writer that still holds version 1.
        await _storage.WriteStateAsync(StateName, ids[2], State("moved on", "1"));
        var existing = NewId();
        await SeedAsync(existing, "existing");
        var fresh = NewId();

        await using var hold = await WriteHold.StartAsync(_database, _storage);
        var before = _storage.Batches;
        var writes = ids.Select((id, i) => State("batch " + i, "1")).ToArray();
        var tasks = ids.Select((id, i) => _storage.WriteStateAsync(StateName, id, writes[i])).ToList();
        var freshState = State("fresh");
        var freshWrite = _storage.WriteStateAsync(StateName, fresh, freshState);
        var insertOverExisting = _storage.WriteStateAsync(StateName, existing, State("insert over existing"));
        await hold.ReleaseAsync();

        for (var i = 0; i < ids.Length; i++)
        {
            if (i == 2)
            {
                var ex = await Assert.ThrowsAsync<InconsistentStateException>(() => tasks[i]);
                Assert.Equal("2", ex.StoredEtag);
                Assert.Equal("1", ex.CurrentEtag);
                Assert.Contains(ids[2].ToString(), ex.Message, StringComparison.Ordinal);
                Assert.Equal("moved on", (await ReadAsync(ids[i])).State.Name);
                continue;
            }
            await tasks[i];
            Assert.Equal("2", writes[i].ETag);
            var read = await ReadAsync(ids[i]);
            Assert.Equal("2", read.ETag);
            Assert.Equal("batch " + i, read.State.Name);
        }
        await freshWrite;
        Assert.Equal("1", freshState.ETag);
        Assert.True(freshState.RecordExists);
        Assert.Equal("fresh", (await ReadAsync(fresh)).State.Name);
        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => insertOverExisting);
        Assert.Equal("1", conflict.StoredEtag);
        Assert.Null(conflict.CurrentEtag);
        Assert.Equal("existing", (await ReadAsync(existing)).State.Name);
        Assert.Equal(1, _storage.Batches - before);
    }

    [Fact]
    public async Task Of_two_writes_of_one_state_with_the_same_etag_queued_together_the_first_wins()
    {
        var id = NewId();
        await SeedAsync(id);
        var other = NewId();
        await SeedAsync(other);

        await using var hold = await WriteHold.StartAsync(_database, _storage);
        var before = _storage.Batches;
        var first = State("first", "1");
        var second = State("second", "1");
        var firstWrite = _storage.WriteStateAsync(StateName, id, first);
        var secondWrite = _storage.WriteStateAsync(StateName, id, second);
        var otherState = State("other", "1");
        var otherWrite = _storage.WriteStateAsync(StateName, other, otherState);
        await hold.ReleaseAsync();

        await firstWrite;
        await otherWrite;
        var ex = await Assert.ThrowsAsync<InconsistentStateException>(() => secondWrite);
        Assert.Equal("2", ex.StoredEtag);
        Assert.Equal("2", first.ETag);
        var read = await ReadAsync(id);
        Assert.Equal("first", read.State.Name);
        Assert.Equal("2", read.ETag);
        Assert.Equal("2", otherState.ETag);
        // The second write of the state went in a batch of its own, after the first.
        Assert.Equal(2, _storage.Batches - before);
    }

    [Fact]
    public async Task Writes_of_one_state_queued_together_are_stored_in_the_order_they_were_made()
    {
        var id = NewId();
        await SeedAsync(id);

        await using var hold = await WriteHold.StartAsync(_database, _storage);
        // Each write expects the version the one before it makes: they succeed only in order.
        var writes = Enumerable.Range(1, 4).Select(v => State("write " + v, v.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        var tasks = writes.Select(w => _storage.WriteStateAsync(StateName, id, w)).ToArray();
        await hold.ReleaseAsync();

        await Task.WhenAll(tasks);
        var read = await ReadAsync(id);
        Assert.Equal("5", read.ETag);
        Assert.Equal("write 4", read.State.Name);
    }

    [Fact]
    public async Task A_state_the_server_refuses_fails_only_its_own_write()
    {
        var ids = Enumerable.Range(0, 4).Select(_ => NewId()).ToArray();
        foreach (var id in ids) await SeedAsync(id);
        var bad = NewId();
        await SeedAsync(bad, "still good");

        await using var hold = await WriteHold.StartAsync(_database, _storage);
        var retriedBefore = _storage.BatchesRetriedOneByOne;
        var tasks = ids.Take(2).Select(id => _storage.WriteStateAsync(StateName, id, State("good " + id.Key, "1"))).ToList();
        // System.Text.Json writes U+0000 as \u0000, which jsonb refuses (it cannot be text).
        var badWrite = _storage.WriteStateAsync(StateName, bad, State("nul \0 inside", "1"));
        tasks.AddRange(ids.Skip(2).Select(id => _storage.WriteStateAsync(StateName, id, State("good " + id.Key, "1"))));
        // An insert too: the refused UPDATE is then the batch's second statement.
        var fresh = NewId();
        tasks.Add(_storage.WriteStateAsync(StateName, fresh, State("fresh")));
        await hold.ReleaseAsync();

        var refused = await Assert.ThrowsAsync<PostgresException>(() => badWrite);
        Assert.Equal(PostgresErrorCodes.UntranslatableCharacter, refused.SqlState);
        await Task.WhenAll(tasks);
        foreach (var id in ids)
        {
            var read = await ReadAsync(id);
            Assert.Equal("2", read.ETag);
            Assert.Equal("good " + id.Key, read.State.Name);
        }
        Assert.Equal("fresh", (await ReadAsync(fresh)).State.Name);
        Assert.Equal("still good", (await ReadAsync(bad)).State.Name);
        Assert.Equal(1, _storage.BatchesRetriedOneByOne - retriedBefore);

        // The writer goes on as before.
        var again = State("fine now", "1");
        await _storage.WriteStateAsync(StateName, bad, again);
        Assert.Equal("2", again.ETag);
    }

    [Fact]
    public async Task Killing_the_writer_connection_fails_only_the_batch_in_flight()
    {
        var queued = Enumerable.Range(0, 3).Select(_ => NewId()).ToArray();
        foreach (var id in queued) await SeedAsync(id);

        await using var hold = await WriteHold.StartAsync(_database, _storage);
        var queuedStates = queued.Select(_ => State("after the kill", "1")).ToArray();
        var queuedWrites = queued.Select((id, i) => _storage.WriteStateAsync(StateName, id, queuedStates[i])).ToArray();
        Assert.Equal(1, await hold.TerminateWaitingWriterAsync());

        // The batch in flight (the hold's write) fails with the connection ...
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => hold.Held);
        // ... and the queued writes go out on a new connection (waiting on the lock until it is released).
        await hold.ReleaseAsync();
        await Task.WhenAll(queuedWrites);
        foreach (var s in queuedStates) Assert.Equal("2", s.ETag);
        var read = await ReadAsync(hold.BlockerId);
        Assert.Equal("1", read.ETag);
        Assert.Equal("blocker", read.State.Name);

        var next = State("next", "1");
        await _storage.WriteStateAsync(StateName, hold.BlockerId, next);
        Assert.Equal("2", next.ETag);
    }

    [Fact]
    public async Task After_a_server_side_kill_of_every_connection_at_most_one_write_fails_and_the_next_succeeds()
    {
        var id = NewId();
        var state = await SeedAsync(id);
        var name = new NpgsqlConnectionStringBuilder(_database).Database!;
        await WriteHold.AdminAsync(_database, $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");

        state.State.Name = "after the kill";
        try
        {
            await _storage.WriteStateAsync(StateName, id, state);
        }
        catch (NpgsqlException)
        {
            // The kill was seen by this write (its connection was gone): it was not stored.
            Assert.Equal("1", state.ETag);
        }
        var etag = state.ETag;
        await _storage.WriteStateAsync(StateName, id, state);
        Assert.NotEqual(etag, state.ETag);
        var read = await ReadAsync(id);
        Assert.Equal(state.ETag, read.ETag);
        Assert.Equal("after the kill", read.State.Name);
    }

    [Fact]
    public async Task Disposing_the_storage_stores_the_queued_writes_and_refuses_new_ones()
    {
        var ids = Enumerable.Range(0, 3).Select(_ => NewId()).ToArray();
        foreach (var id in ids) await SeedAsync(id);

        var hold = await WriteHold.StartAsync(_database, _storage);
        var states = ids.Select(_ => State("before dispose", "1")).ToArray();
        var writes = ids.Select((id, i) => _storage.WriteStateAsync(StateName, id, states[i])).ToArray();
        var disposing = _storage.DisposeAsync().AsTask();
        await hold.ReleaseAsync();
        await hold.DisposeAsync();
        await disposing.WaitAsync(TimeSpan.FromSeconds(60));

        await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var s in states) Assert.Equal("2", s.ETag);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => _storage.WriteStateAsync(StateName, ids[0], states[0]));
        Assert.Equal("before dispose", (await ReadAsync(ids[0])).State.Name);
    }

    [Fact]
    public async Task Writes_that_need_a_new_connection_after_the_data_source_was_disposed_fail_instead_of_hanging()
    {
        var ids = Enumerable.Range(0, 3).Select(_ => NewId()).ToArray();
        foreach (var id in ids) await SeedAsync(id);

        await using var hold = await WriteHold.StartAsync(_database, _storage);
        var writes = ids.Select(id => _storage.WriteStateAsync(StateName, id, State("late", "1"))).ToArray();
        await _source.DisposeAsync();
        // The writer loses its connection; the queued writes would need a new one from the disposed source.
        Assert.Equal(1, await hold.TerminateWaitingWriterAsync());
        await hold.ReleaseAsync();

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => hold.Held.WaitAsync(TimeSpan.FromSeconds(60)));
        foreach (var w in writes)
            await Assert.ThrowsAsync<ObjectDisposedException>(() => w.WaitAsync(TimeSpan.FromSeconds(60)));
        await _storage.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// Holds the writer loop inside a round trip: an EXCLUSIVE lock on grain_state (reads go on, writes
    /// wait) and one write (<see cref="Held"/>) that the loop sends and then waits on. Writes queued
    /// meanwhile form the next batch.
    /// </summary>
    private sealed class WriteHold : IAsyncDisposable
    {
        private readonly NpgsqlConnection _lock;
        private readonly string _database;
        private bool _released;

        private WriteHold(NpgsqlConnection connection, string database, GrainId blockerId, Task held)
        {
            _lock = connection;
            _database = database;
            BlockerId = blockerId;
            Held = held;
        }

        /// <summary>The grain whose write is held.</summary>
        public GrainId BlockerId { get; }

        /// <summary>The write in flight, waiting on the lock.</summary>
        public Task Held { get; }

        public static async Task<WriteHold> StartAsync(string database, PostgresGrainStorage storage)
        {
            var blocker = NewId();
            await storage.WriteStateAsync(StateName, blocker, State("blocker")); // the table exists, the record too
            var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString);
            await conn.OpenAsync();
            await using (var cmd = new NpgsqlCommand("BEGIN; LOCK TABLE grain_state IN EXCLUSIVE MODE", conn))
                await cmd.ExecuteNonQueryAsync();
            var hold = new WriteHold(conn, database, blocker, storage.WriteStateAsync(StateName, blocker, State("held", "1")));
            await Poll.UntilAsync(async () => await hold.WaitingWritersAsync() >= 1, "the writer loop waits on the table lock", TimeSpan.FromSeconds(60));
            return hold;
        }

        private async Task<long> WaitingWritersAsync() =>
            (long)(await ScalarAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))!;

        /// <summary>Kills the server process of the writer connection waiting on the lock; returns how many were killed.</summary>
        public async Task<long> TerminateWaitingWriterAsync() =>
            (long)(await ScalarAsync("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock') k"))!;

        private async Task<object?> ScalarAsync(string sql)
        {
            await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_database) { Pooling = false }.ConnectionString);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(sql, conn);
            return await cmd.ExecuteScalarAsync();
        }

        public static async Task AdminAsync(string database, string sql)
        {
            await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Database = "postgres", Pooling = false }.ConnectionString);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(sql, conn);
            await cmd.ExecuteNonQueryAsync();
        }

        public async Task ReleaseAsync()
        {
            if (_released) return;
            _released = true;
            await using var cmd = new NpgsqlCommand("COMMIT", _lock);
            await cmd.ExecuteNonQueryAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await ReleaseAsync();
            await _lock.DisposeAsync();
        }
    }
}
