using System.Globalization;
using Campus.Grains.Storage;
using Microsoft.Data.Sqlite;

namespace Campus.Grains.Reminders;

/// <summary>Reminders in a SQLite file (table grain_reminders), so they survive a restart.</summary>
internal sealed class SqliteReminderTable(string connectionString) : IReminderTable
{
    private readonly SqliteSchema _schema = new(connectionString);
    private const string Columns = "grain_type, grain_key, reminder_name, start_at_ticks, period_ticks, version";

    public Task<IReadOnlyList<ReminderEntry>> ReadAllRowsAsync() => QueryAsync($"SELECT {Columns} FROM grain_reminders", null, null);

    public Task<IReadOnlyList<ReminderEntry>> ReadRowsAsync(GrainId grainId) =>
        QueryAsync($"SELECT {Columns} FROM grain_reminders WHERE grain_type = $t AND grain_key = $k", grainId, null);

    public async Task<ReminderEntry?> ReadRowAsync(GrainId grainId, string reminderName)
    {
        var rows = await QueryAsync($"SELECT {Columns} FROM grain_reminders WHERE grain_type = $t AND grain_key = $k AND reminder_name = $n",
            grainId, reminderName).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<string> UpsertRowAsync(ReminderEntry entry)
    {
        await using var conn = await _schema.OpenAsync().ConfigureAwait(false);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = $"INSERT INTO grain_reminders ({Columns}) VALUES ($t, $k, $n, $s, $p, 1) " +
                          "ON CONFLICT (grain_type, grain_key, reminder_name) DO UPDATE SET " +
                          "start_at_ticks = excluded.start_at_ticks, period_ticks = excluded.period_ticks, version = grain_reminders.version + 1 " +
                          "RETURNING version";
        cmd.Parameters.AddWithValue("$t", entry.GrainId.Type);
        cmd.Parameters.AddWithValue("$k", entry.GrainId.Key);
        cmd.Parameters.AddWithValue("$n", entry.ReminderName);
        cmd.Parameters.AddWithValue("$s", entry.StartAt.ToUniversalTime().Ticks);
        cmd.Parameters.AddWithValue("$p", entry.Period.Ticks);
        var version = (long)(await cmd.ExecuteScalarAsync().ConfigureAwait(false))!;
        return version.ToString(CultureInfo.InvariantCulture);
    }

    public async Task<bool> RemoveRowAsync(GrainId grainId, string reminderName, string eTag)
    {
        if (!long.TryParse(eTag, NumberStyles.None, CultureInfo.InvariantCulture, out var version)) return false;
        await using var conn = await _schema.OpenAsync().ConfigureAwait(false);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = "DELETE FROM grain_reminders WHERE grain_type = $t AND grain_key = $k AND reminder_name = $n AND version = $v";
        cmd.Parameters.AddWithValue("$t", grainId.Type);
        cmd.Parameters.AddWithValue("$k", grainId.Key);
        cmd.Parameters.AddWithValue("$n", reminderName);
        cmd.Parameters.AddWithValue("$v", version);
        return await cmd.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
    }

    private async Task<IReadOnlyList<ReminderEntry>> QueryAsync(string sql, GrainId? grainId, string? name)
    {
        await using var conn = await _schema.OpenAsync().ConfigureAwait(false);
        await using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        if (grainId is { } id)
        {
            cmd.Parameters.AddWithValue("$t", id.Type);
            cmd.Parameters.AddWithValue("$k", id.Key);
        }
        if (name is not null) cmd.Parameters.AddWithValue("$n", name);
        var rows = new List<ReminderEntry>();
        await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        while (await reader.ReadAsync().ConfigureAwait(false))
        {
            rows.Add(new ReminderEntry
            {
                GrainId = new GrainId(reader.GetString(0), reader.GetString(1)),
                ReminderName = reader.GetString(2),
                StartAt = new DateTime(reader.GetInt64(3), DateTimeKind.Utc),
                Period = TimeSpan.FromTicks(reader.GetInt64(4)),
                ETag = reader.GetInt64(5).ToString(CultureInfo.InvariantCulture),
            });
        }
        return rows;
    }
}
