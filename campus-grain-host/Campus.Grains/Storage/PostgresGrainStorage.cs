using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace Campus.Grains.Storage;

/// <summary>
/// Grain state in PostgreSQL: one row per (grain type, key, state name), a version number as etag,
/// a jsonb payload. The table is created when missing.
/// </summary>
/// <remarks>
/// Writes are coalesced: a caller queues its write and awaits its own outcome, and one writer loop on
/// a connection of its own (opened from the data source once, kept open, reopened after a failure)
/// sends whatever is queued, up to <see cref="MaxBatchSize"/> writes, in one round trip: a multi-row
/// INSERT for writes without an etag and a multi-row UPDATE for writes with one, in one implicit
/// transaction. Device grains checkpoint their state every few seconds; one statement per write on a
/// pooled connection rotated the writes through every idle connection of the pool (a startup burst
/// of state reads grows it to about 100), so each write woke a cold server process. Reads and clears
/// still use pooled connections.
/// </remarks>
internal sealed class PostgresGrainStorage : IGrainStorage, IAsyncDisposable, IDisposable
{
    /// <summary>Writes sent in one round trip at most.</summary>
    internal const int MaxBatchSize = 256;

    private readonly NpgsqlDataSource _dataSource;
    private readonly GrainStorageOptions _options;
    private readonly PostgresSchema _schema;
    private readonly PostgresStateWriter _writer;

    public PostgresGrainStorage(NpgsqlDataSource dataSource, GrainStorageOptions options, int maxBatchSize = MaxBatchSize)
    {
        _dataSource = dataSource;
        _options = options;
        _schema = new PostgresSchema(dataSource);
        _writer = new PostgresStateWriter(dataSource, maxBatchSize);
    }

    /// <summary>Round trips the writer loop made (a batch retried write by write counts once).</summary>
    internal long Batches => _writer.Batches;

    /// <summary>Batches the server refused and that were retried write by write.</summary>
    internal long BatchesRetriedOneByOne => _writer.BatchesRetriedOneByOne;

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await _schema.EnsureAsync().ConfigureAwait(false);
        await using var cmd = _dataSource.CreateCommand(
            "SELECT version, payload::text FROM grain_state WHERE grain_type = $1 AND grain_key = $2 AND state_name = $3");
        Bind(cmd, stateName, grainId);
        await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        if (await reader.ReadAsync().ConfigureAwait(false))
        {
            grainState.ETag = reader.GetInt64(0).ToString(CultureInfo.InvariantCulture);
            grainState.State = JsonSerializer.Deserialize<T>(reader.GetString(1), _options.SerializerOptions)!;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = StateFactory<T>.New();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await _schema.EnsureAsync().ConfigureAwait(false);
        var json = JsonSerializer.Serialize(grainState.State, _options.SerializerOptions);
        long? expected = grainState.ETag is null ? null : SqliteGrainStorage.ParseEtag(grainState.ETag, stateName, grainId);
        if (!await _writer.WriteAsync(grainId.Type, grainId.Key, stateName, json, expected).ConfigureAwait(false))
            throw InconsistentStateException.For("Write", stateName, grainId, await StoredEtagAsync(stateName, grainId).ConfigureAwait(false), grainState.ETag);
        var newVersion = (expected ?? 0) + 1;
        grainState.ETag = newVersion.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await _schema.EnsureAsync().ConfigureAwait(false);
        if (grainState.ETag is null)
        {
            var stored = await StoredEtagAsync(stateName, grainId).ConfigureAwait(false);
            if (stored is not null) throw InconsistentStateException.For("Clear", stateName, grainId, stored, null);
        }
        else
        {
            await using var cmd = _dataSource.CreateCommand(
                "DELETE FROM grain_state WHERE grain_type = $1 AND grain_key = $2 AND state_name = $3 AND version = $4");
            Bind(cmd, stateName, grainId);
            cmd.Parameters.Add(new NpgsqlParameter { Value = SqliteGrainStorage.ParseEtag(grainState.ETag, stateName, grainId) });
            if (await cmd.ExecuteNonQueryAsync().ConfigureAwait(false) != 1)
                throw InconsistentStateException.For("Clear", stateName, grainId, await StoredEtagAsync(stateName, grainId).ConfigureAwait(false), grainState.ETag);
        }
        grainState.State = StateFactory<T>.New();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private async Task<string?> StoredEtagAsync(string stateName, GrainId grainId)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT version FROM grain_state WHERE grain_type = $1 AND grain_key = $2 AND state_name = $3");
        Bind(cmd, stateName, grainId);
        return await cmd.ExecuteScalarAsync().ConfigureAwait(false) is long v ? v.ToString(CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Completes or fails the queued writes, then closes the writer connection.</summary>
    public ValueTask DisposeAsync() => _writer.DisposeAsync();

    public void Dispose() => _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static void Bind(NpgsqlCommand cmd, string stateName, GrainId grainId)
    {
        cmd.Parameters.Add(new NpgsqlParameter { Value = grainId.Type });
        cmd.Parameters.Add(new NpgsqlParameter { Value = grainId.Key });
        cmd.Parameters.Add(new NpgsqlParameter { Value = stateName });
    }
}

/// <summary>Creates the grain tables in a PostgreSQL database once.</summary>
internal sealed class PostgresSchema(NpgsqlDataSource dataSource)
{
    private const string Ddl = """
        CREATE TABLE IF NOT EXISTS grain_state (
            grain_type   text        NOT NULL,
            grain_key    text        NOT NULL,
            state_name   text        NOT NULL,
            version      bigint      NOT NULL,
            payload      jsonb       NOT NULL,
            modified_utc timestamptz NOT NULL,
            PRIMARY KEY (grain_type, grain_key, state_name)
        );
        CREATE TABLE IF NOT EXISTS grain_reminders (
            grain_type     text        NOT NULL,
            grain_key      text        NOT NULL,
            reminder_name  text        NOT NULL,
            start_at       timestamptz NOT NULL,
            period_ticks   bigint      NOT NULL,
            version        bigint      NOT NULL,
            PRIMARY KEY (grain_type, grain_key, reminder_name)
        );
        """;

    private readonly SemaphoreSlim _init = new(1, 1);
    private volatile bool _ready;

    public async Task EnsureAsync()
    {
        if (_ready) return;
        await _init.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_ready) return;
            await using var conn = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
            // Serialise concurrent creators (several hosts starting at once) with an advisory lock.
            await using (var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7243911); " + Ddl, conn))
            {
                await using var tx = await conn.BeginTransactionAsync().ConfigureAwait(false);
                cmd.Transaction = tx;
                await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
                await tx.CommitAsync().ConfigureAwait(false);
            }
            _ready = true;
        }
        finally
        {
            _init.Release();
        }
    }
}
