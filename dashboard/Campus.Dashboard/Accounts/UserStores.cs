using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Campus.Dashboard.Accounts;

/// <summary>Where dashboard accounts are kept: the controller's database (SQLite or PostgreSQL) or memory (tests).</summary>
public interface IUserStore
{
    Task InitializeAsync(CancellationToken cancellationToken = default);
    Task<DashboardUser?> FindAsync(string userName, CancellationToken cancellationToken = default);
    Task UpsertAsync(DashboardUser user, CancellationToken cancellationToken = default);

    /// <summary>Users of one school (null: all), ordered by user name, one page.</summary>
    Task<IReadOnlyList<DashboardUser>> ListAsync(string? school, int offset, int limit, CancellationToken cancellationToken = default);
}

internal sealed class InMemoryUserStore : IUserStore
{
    private readonly ConcurrentDictionary<string, DashboardUser> _users = new(StringComparer.Ordinal);

    public Task InitializeAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task<DashboardUser?> FindAsync(string userName, CancellationToken cancellationToken = default) =>
        Task.FromResult(_users.GetValueOrDefault(userName));

    public Task UpsertAsync(DashboardUser user, CancellationToken cancellationToken = default)
    {
        // As the SQL stores: a change keeps the account's creation time.
        _users.AddOrUpdate(user.UserName, user, (_, existing) => user with { CreatedAt = existing.CreatedAt });
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<DashboardUser>> ListAsync(string? school, int offset, int limit, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<DashboardUser>>([.. _users.Values
            .Where(u => school is null || string.Equals(u.School, school, StringComparison.Ordinal))
            .OrderBy(u => u.UserName, StringComparer.Ordinal)
            .Skip(offset).Take(limit)]);
}

/// <summary>
/// Accounts in one table (<c>dashboard_users</c>) of the controller's database. The SQL is the
/// common subset of SQLite and PostgreSQL, so one class serves both; the one difference is the
/// collation: names compare and sort by code point everywhere (SQLite's BINARY, PostgreSQL's "C"),
/// as in memory, whatever the PostgreSQL database's default collation is.
/// </summary>
internal sealed class SqlUserStore(Func<DbConnection> connect, string collate) : IUserStore
{
    private const string Columns = "user_name, display_name, role, school, password_hash, disabled, created_at_ms";

    public static SqlUserStore Sqlite(string connectionString) => new(() => new SqliteConnection(connectionString), "");

    public static SqlUserStore Postgres(string connectionString) => new(() => new NpgsqlConnection(connectionString), " COLLATE \"C\"");

    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            CREATE TABLE IF NOT EXISTS dashboard_users (
                user_name TEXT{collate} PRIMARY KEY,
                display_name TEXT NOT NULL,
                role TEXT NOT NULL,
                school TEXT{collate} NULL,
                password_hash TEXT NOT NULL,
                disabled INTEGER NOT NULL,
                created_at_ms BIGINT NOT NULL);
            CREATE INDEX IF NOT EXISTS dashboard_users_school ON dashboard_users (school, user_name);
            """;
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<DashboardUser?> FindAsync(string userName, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {Columns} FROM dashboard_users WHERE user_name = @u";
        Add(cmd, "u", userName);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await r.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(r) : null;
    }

    public async Task UpsertAsync(DashboardUser user, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            INSERT INTO dashboard_users ({Columns}) VALUES (@u, @d, @r, @s, @h, @x, @t)
            ON CONFLICT (user_name) DO UPDATE SET display_name = excluded.display_name, role = excluded.role,
                school = excluded.school, password_hash = excluded.password_hash, disabled = excluded.disabled
            """;
        Add(cmd, "u", user.UserName);
        Add(cmd, "d", user.DisplayName);
        Add(cmd, "r", user.Role.ToWire());
        Add(cmd, "s", user.School);
        Add(cmd, "h", user.PasswordHash);
        Add(cmd, "x", user.Disabled ? 1 : 0);
        Add(cmd, "t", user.CreatedAt.ToUnixTimeMilliseconds());
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DashboardUser>> ListAsync(string? school, int offset, int limit, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {Columns} FROM dashboard_users WHERE (@s IS NULL OR school = @s) ORDER BY user_name{collate} LIMIT @l OFFSET @o";
        Add(cmd, "s", school);
        Add(cmd, "l", limit);
        Add(cmd, "o", offset);
        var list = new List<DashboardUser>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false)) list.Add(Read(r));
        return list;
    }

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var c = connect();
        await c.OpenAsync(cancellationToken).ConfigureAwait(false);
        return c;
    }

    private static void Add(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        if (value is null && cmd is NpgsqlCommand) ((NpgsqlParameter)p).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        cmd.Parameters.Add(p);
    }

    private static DashboardUser Read(DbDataReader r)
    {
        RoleNames.TryParse(r.GetString(2), out var role);
        return new DashboardUser(
            r.GetString(0),
            r.GetString(1),
            role,
            r.IsDBNull(3) ? null : r.GetString(3),
            r.GetString(4),
            r.GetInt64(5) != 0,
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)));
    }
}
