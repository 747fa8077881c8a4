using System.Globalization;
using Campus.Grains.Storage;
using Npgsql;

namespace Campus.Grains.Reminders;

/// <summary>Reminders in PostgreSQL (table grain_reminders), so they survive a restart.</summary>
internal sealed class PostgresReminderTable(NpgsqlDataSource dataSource) : IReminderTable
{
    private readonly PostgresSchema _schema = new(dataSource);
    private const string Columns = "grain_type, grain_key, reminder_name, start_at, period_ticks, version";

    public Task<IReadOnlyList<ReminderEntry>> ReadAllRowsAsync() => QueryAsync($"SELECT {Columns} FROM grain_reminders");

    public Task<IReadOnlyList<ReminderEntry>> ReadRowsAsync(GrainId grainId) =>
        QueryAsync($"SELECT {Columns} FROM grain_reminders WHERE grain_type = $1 AND grain_key = $2", grainId.Type, grainId.Key);

    public async Task<ReminderEntry?> ReadRowAsync(GrainId grainId, string reminderName)
    {
        var rows = await QueryAsync($"SELECT {Columns} FROM grain_reminders WHERE grain_type = $1 AND grain_key = $2 AND reminder_name = $3",
            grainId.Type, grainId.Key, reminderName).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<string> UpsertRowAsync(ReminderEntry entry)
    {
        await _schema.EnsureAsync().ConfigureAwait(false);
        await using var cmd = dataSource.CreateCommand(
            $"INSERT INTO grain_reminders ({Columns}) VALUES ($1, $2, $3, $4, $5, 1) " +
            "ON CONFLICT (grain_type, grain_key, reminder_name) DO UPDATE SET " +
            "start_at = excluded.start_at, period_ticks = excluded.period_ticks, version = grain_reminders.version + 1 " +
            "RETURNING version");
        cmd.Parameters.Add(new NpgsqlParameter { Value = entry.GrainId.Type });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entry.GrainId.Key });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entry.ReminderName });
        cmd.Parameters.Add(new NpgsqlParameter { Value = DateTime.SpecifyKind(entry.StartAt.ToUniversalTime(), DateTimeKind.Utc) });
        cmd.Parameters.Add(new NpgsqlParameter { Value = entry.Period.Ticks });
        var version = (long)(await cmd.ExecuteScalarAsync().ConfigureAwait(false))!;
        return version.ToString(CultureInfo.InvariantCulture);
    }

    public async Task<bool> RemoveRowAsync(GrainId grainId, string reminderName, string eTag)
    {
        if (!long.TryParse(eTag, NumberStyles.None, CultureInfo.InvariantCulture, out var version)) return false;
        await _schema.EnsureAsync().ConfigureAwait(false);
        await using var cmd = dataSource.CreateCommand(
            "DELETE FROM grain_reminders WHERE grain_type = $1 AND grain_key = $2 AND reminder_name = $3 AND version = $4");
        cmd.Parameters.Add(new NpgsqlParameter { Value = grainId.Type });
        cmd.Parameters.Add(new NpgsqlParameter { Value = grainId.Key });
        cmd.Parameters.Add(new NpgsqlParameter { Value = reminderName });
        cmd.Parameters.Add(new NpgsqlParameter { Value = version });
        return await cmd.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
    }

    private async Task<IReadOnlyList<ReminderEntry>> QueryAsync(string sql, params string[] args)
    {
        await _schema.EnsureAsync().ConfigureAwait(false);
        await using var cmd = dataSource.CreateCommand(sql);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        var rows = new List<ReminderEntry>();
        await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        while (await reader.ReadAsync().ConfigureAwait(false))
        {
            rows.Add(new ReminderEntry
            {
                GrainId = new GrainId(reader.GetString(0), reader.GetString(1)),
                ReminderName = reader.GetString(2),
                StartAt = DateTime.SpecifyKind(reader.GetDateTime(3), DateTimeKind.Utc),
                Period = TimeSpan.FromTicks(reader.GetInt64(4)),
                ETag = reader.GetInt64(5).ToString(CultureInfo.InvariantCulture),
            });
        }
        return rows;
    }
}
