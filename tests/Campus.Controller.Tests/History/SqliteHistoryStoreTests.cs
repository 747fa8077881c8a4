using Campus.Controller.History;
using Campus.Testing;
using Microsoft.Data.Sqlite;

namespace Campus.Controller.Tests.History;

public sealed class SqliteHistoryStoreTests : HistoryStoreContract, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("campus-history-");
    private SqliteConnection? _lock;

    protected override Task<string> CreateDatabaseAsync() =>
        Task.FromResult($"Data Source={Path.Combine(_dir.FullName, Guid.NewGuid().ToString("N") + ".db")}");

    private protected override IHistoryStore Open(string database, HistoryOptions options, TimeProvider time) =>
        new SqliteHistoryStore(options, time, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    /// <summary>Another connection takes the database's write lock and keeps it: writers time out.</summary>
    private protected override async Task BreakStorageAsync(string database, IHistoryStore store)
    {
        _lock = new SqliteConnection(database);
        await _lock.OpenAsync();
        await using var cmd = _lock.CreateCommand();
        cmd.CommandText = "BEGIN IMMEDIATE";
        await cmd.ExecuteNonQueryAsync();
    }

    private protected override async Task RestoreStorageAsync(string database, IHistoryStore store)
    {
        await using (var cmd = _lock!.CreateCommand())
        {
            cmd.CommandText = "ROLLBACK";
            await cmd.ExecuteNonQueryAsync();
        }
        await _lock.DisposeAsync();
        _lock = null;
    }

    [Fact]
    public async Task Schema_version_is_recorded_and_a_second_start_does_not_migrate_again()
    {
        var (store, database) = await NewStoreAsync();
        await store.DisposeAsync();
        await OpenStoreAsync(database);
        await using var conn = new SqliteConnection(database);
        await conn.OpenAsync();
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*), MAX(version) FROM schema_version";
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal((1L, 1L), (r.GetInt64(0), r.GetInt64(1)));
    }

    [Fact]
    public async Task The_audit_log_refuses_updates()
    {
        var (store, database) = await NewStoreAsync();
        await store.AppendAuditAsync(new AuditEntry { SchoolId = "s01", Actor = "admin", Action = "unlock", Target = "d1", At = Epoch });
        await using var conn = new SqliteConnection(database);
        await conn.OpenAsync();
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "UPDATE audit_log SET actor = 'someone-else'";
        var ex = await Assert.ThrowsAsync<SqliteException>(() => cmd.ExecuteNonQueryAsync());
        Assert.Contains("append-only", ex.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _lock?.Dispose();
        SqliteConnection.ClearAllPools();
        TempDirectory.Delete(_dir.FullName); // tolerates a store still closing its file
    }
}
