using Campus.Testing;
using Npgsql;

namespace Campus.Contracts.Tests;

/// <summary>The real servers the suite relies on can be reached.</summary>
public sealed class TestServicesTests
{
    [Fact]
    public async Task Postgres_server_creates_a_private_database_per_caller()
    {
        var server = await PostgresServer.GetAsync();
        var a = await server.CreateDatabaseAsync("services");
        var b = await server.CreateDatabaseAsync("services");
        Assert.NotEqual(new NpgsqlConnectionStringBuilder(a).Database, new NpgsqlConnectionStringBuilder(b).Database);
        await using var conn = new NpgsqlConnection(a);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("select current_database()", conn);
        Assert.Equal(new NpgsqlConnectionStringBuilder(a).Database, (string?)await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Stale_private_postgres_folders_are_removed_and_running_or_young_ones_kept()
    {
        using var root = TempDirectory.Create("campus-stale-");
        using var gone = System.Diagnostics.Process.Start("true")!;
        await gone.WaitForExitAsync();
        var old = TimeSpan.FromHours(2);
        var dead = Folder(root.Path, "campus-pg-dead", gone.Id, old);
        var noPidFile = Folder(root.Path, "campus-pg-nopid", null, old);
        var running = Folder(root.Path, "campus-pg-running", Environment.ProcessId, old);
        var young = Folder(root.Path, "campus-pg-young", null, TimeSpan.Zero);
        var other = Folder(root.Path, "campus-other", null, old);

        Assert.Equal(2, PostgresServer.RemoveStaleFolders(root.Path, TimeSpan.FromHours(1)));
        Assert.False(Directory.Exists(dead));
        Assert.False(Directory.Exists(noPidFile));
        Assert.True(Directory.Exists(running));
        Assert.True(Directory.Exists(young));
        Assert.True(Directory.Exists(other));
    }

    private static string Folder(string root, string name, int? postmaster, TimeSpan age)
    {
        var dir = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
        var data = Directory.CreateDirectory(Path.Combine(dir, "data")).FullName;
        if (postmaster is { } pid) File.WriteAllText(Path.Combine(data, "postmaster.pid"), pid.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n/some/data\n");
        Directory.SetLastWriteTimeUtc(dir, DateTime.UtcNow - age);
        return dir;
    }

    [Fact]
    public async Task Mosquitto_server_accepts_a_real_client_and_restarts_on_the_same_port()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var pub = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", broker.Host, "-p", broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "probe", "-m", "x", "-q", "1"]);
        Assert.True(pub.ExitCode == 0, pub.Error);
        await broker.RestartAsync();
        Assert.True(broker.IsRunning);
    }
}
