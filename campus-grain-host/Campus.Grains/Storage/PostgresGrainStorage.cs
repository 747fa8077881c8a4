using System.Globalization;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Campus.Grains.Storage;

/// <summary>
/// Grain state in PostgreSQL: one row per (grain type, key, state name), a version number as etag,
/// a jsonb payload. The table is created when missing.
/// </summary>
internal sealed class PostgresGrainStorage(NpgsqlDataSource dataSource, GrainStorageOptions options) : IGrainStorage
{
    private readonly PostgresSchema _schema = new(dataSource);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await _schema.EnsureAsync().ConfigureAwait(false);
        await using var cmd = dataSource.CreateCommand(
            "SELECT version, payload::text FROM grain_state WHERE grain_type = $1 AND grain_key = $2 AND state_name = $3");
        Bind(cmd, stateName, grainId);
        await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        if (await reader.ReadAsync().ConfigureAwait(false))
        {
            grainState.ETag = reader.GetInt64(0).ToString(CultureInfo.InvariantCulture);
            grainState.State = JsonSerializer.Deserialize<T>(reader.GetString(1), options.SerializerOptions)!;
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
        var json = JsonSerializer.Serialize(grainState.State, options.SerializerOptions);
        long? expected = grainState.ETag is null ? null : SqliteGrainStorage.ParseEtag(grainState.ETag, stateName, grainId);
        await using (var cmd = dataSource.CreateCommand(expected is null
            ? "INSERT INTO grain_state (grain_type, grain_key, state_name, version, payload, modified_utc) " +
              "VALUES ($1, $2, $3, 1, $4, now()) ON CONFLICT DO NOTHING"
            : "UPDATE grain_state SET version = version + 1, payload = $4, modified_utc = now() " +
              "WHERE grain_type = $1 AND grain_key = $2 AND state_name = $3 AND version = $5"))
        {
            Bind(cmd, stateName, grainId);
            cmd.Parameters.Add(new NpgsqlParameter { Value = json, NpgsqlDbType = NpgsqlDbType.Jsonb });
            if (expected is { } v) cmd.Parameters.Add(new NpgsqlParameter { Value = v });
            if (await cmd.ExecuteNonQueryAsync().ConfigureAwait(false) != 1)
                throw InconsistentStateException.For("Write", stateName, grainId, await StoredEtagAsync(stateName, grainId).ConfigureAwait(false), grainState.ETag);
        }
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
            await using var cmd = dataSource.CreateCommand(
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
        await using var cmd = dataSource.CreateCommand("SELECT version FROM grain_state WHERE grain_type = $1 AND grain_key = $2 AND state_name = $3");
        Bind(cmd, stateName, grainId);
        return await cmd.ExecuteScalarAsync().ConfigureAwait(false) is long v ? v.ToString(CultureInfo.InvariantCulture) : null;
    }

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
