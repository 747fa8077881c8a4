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
    public async Task Mosquitto_server_accepts_a_real_client_and_restarts_on_the_same_port()
    {
        await using var broker = await MosquittoServer.StartAsync();
        var pub = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", broker.Host, "-p", broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "probe", "-m", "x", "-q", "1"]);
        Assert.True(pub.ExitCode == 0, pub.Error);
        await broker.RestartAsync();
        Assert.True(broker.IsRunning);
    }
}
