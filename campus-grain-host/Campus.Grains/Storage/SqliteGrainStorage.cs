using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Campus.Grains.Storage;

/// <summary>
/// Grain state in a SQLite file (WAL mode): one row per (grain type, key, state name), a version
/// number as etag, JSON payload. The table is created when missing.
/// </summary>
internal sealed class SqliteGrainStorage(string connectionString, GrainStorageOptions options) : IGrainStorage
{
    private readonly SqliteSchema _schema = new(connectionString);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await using var conn = await _schema.OpenAsync().ConfigureAwait(false);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT version, payload FROM grain_state WHERE grain_type = $t AND grain_key = $k AND state_name = $s";
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
        var json = JsonSerializer.Serialize(grainState.State, options.SerializerOptions);
        await using var conn = await _schema.OpenAsync().ConfigureAwait(false);
        await using var cmd = conn.CreateCommand();
        Bind(cmd, stateName, grainId);
        cmd.Parameters.AddWithValue("$p", json);
        cmd.Parameters.AddWithValue("$m", DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        long newVersion;
        if (grainState.ETag is null)
        {
            cmd.CommandText = "INSERT INTO grain_state (grain_type, grain_key, state_name, version, payload, modified_utc) " +
                              "VALUES ($t, $k, $s, 1, $p, $m) ON CONFLICT DO NOTHING";
            newVersion = 1;
        }
        else
        {
            var expected = ParseEtag(grainState.ETag, stateName, grainId);
            cmd.CommandText = "UPDATE grain_state SET version = version + 1, payload = $p, modified_utc = $m " +
                              "WHERE grain_type = $t AND grain_key = $k AND state_name = $s AND version = $v";
            cmd.Parameters.AddWithValue("$v", expected);
            newVersion = expected + 1;
        }
        if (await cmd.ExecuteNonQueryAsync().ConfigureAwait(false) != 1)
            throw InconsistentStateException.For("Write", stateName, grainId, await StoredEtagAsync(conn, stateName, grainId).ConfigureAwait(false), grainState.ETag);
        grainState.ETag = newVersion.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await using var conn = await _schema.OpenAsync().ConfigureAwait(false);
        if (grainState.ETag is null)
        {
            var stored = await StoredEtagAsync(conn, stateName, grainId).ConfigureAwait(false);
            if (stored is not null) throw InconsistentStateException.For("Clear", stateName, grainId, stored, null);
        }
        else
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "DELETE FROM grain_state WHERE grain_type = $t AND grain_key = $k AND state_name = $s AND version = $v";
            Bind(cmd, stateName, grainId);
            cmd.Parameters.AddWithValue("$v", ParseEtag(grainState.ETag, stateName, grainId));
            if (await cmd.ExecuteNonQueryAsync().ConfigureAwait(false) != 1)
                throw InconsistentStateException.For("Clear", stateName, grainId, await StoredEtagAsync(conn, stateName, grainId).ConfigureAwait(false), grainState.ETag);
        }
        grainState.State = StateFactory<T>.New();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private static async Task<string?> StoredEtagAsync(SqliteConnection conn, string stateName, GrainId grainId)
    {
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT version FROM grain_state WHERE grain_type = $t AND grain_key = $k AND state_name = $s";
        Bind(cmd, stateName, grainId);
        var v = await cmd.ExecuteScalarAsync().ConfigureAwait(false);
        return v is long l ? l.ToString(CultureInfo.InvariantCulture) : null;
    }

    private static void Bind(SqliteCommand cmd, string stateName, GrainId grainId)
    {
        cmd.Parameters.AddWithValue("$t", grainId.Type);
        cmd.Parameters.AddWithValue("$k", grainId.Key);
        cmd.Parameters.AddWithValue("$s", stateName);
    }

    internal static long ParseEtag(string etag, string stateName, GrainId grainId) =>
        long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw InconsistentStateException.For("Write", stateName, grainId, null, etag);
}

/// <summary>Opens connections to one SQLite file and creates the tables once.</summary>
internal sealed class SqliteSchema(string connectionString)
{
    private const string Ddl = """
        CREATE TABLE IF NOT EXISTS grain_state (
            grain_type   TEXT    NOT NULL,
            grain_key    TEXT    NOT NULL,
            state_name   TEXT    NOT NULL,
            version      INTEGER NOT NULL,
            payload      TEXT    NOT NULL,
            modified_utc TEXT    NOT NULL,
            PRIMARY KEY (grain_type, grain_key, state_name)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS grain_reminders (
            grain_type     TEXT    NOT NULL,
            grain_key      TEXT    NOT NULL,
            reminder_name  TEXT    NOT NULL,
            start_at_ticks INTEGER NOT NULL,
            period_ticks   INTEGER NOT NULL,
            version        INTEGER NOT NULL,
            PRIMARY KEY (grain_type, grain_key, reminder_name)
        ) WITHOUT ROWID;
        """;

    private readonly SemaphoreSlim _init = new(1, 1);
    private volatile bool _ready;

    public async Task<SqliteConnection> OpenAsync()
    {
        var conn = new SqliteConnection(connectionString);
        try
        {
            await conn.OpenAsync().ConfigureAwait(false);
            if (!_ready) await InitializeAsync(conn).ConfigureAwait(false);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task InitializeAsync(SqliteConnection conn)
    {
        await _init.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_ready) return;
            var dataSource = new SqliteConnectionStringBuilder(connectionString).DataSource;
            var dir = Path.GetDirectoryName(Path.GetFullPath(dataSource));
            if (!string.IsNullOrEmpty(dir) && dataSource != ":memory:") Directory.CreateDirectory(dir);
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode=WAL;" + Ddl;
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
            _ready = true;
        }
        finally
        {
            _init.Release();
        }
    }
}
