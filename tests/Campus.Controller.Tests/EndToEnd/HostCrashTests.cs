using System.Collections.Concurrent;
using System.Globalization;
using Campus.Controller.History;
using Campus.Mqtt;
using Campus.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Campus.Controller.Tests.EndToEnd;

/// <summary>
/// kill -9 of the built host process while a device publishes QoS 1 telemetry: every message the
/// device saw acknowledged (PUBACK) must be in the history after a restart. The same test runs
/// on each durable storage provider: the SQLite files and a real PostgreSQL server.
/// </summary>
public sealed class HostCrashTests(ITestOutputHelper output)
{
    private const string Password = "seed-password-m1";
    private static readonly string Key = Convert.ToBase64String(new byte[32]);

    /// <summary>Where the host keeps its state and history, as host arguments and as the history options to read it back.</summary>
    private sealed record Storage(string[] HostArguments, HistoryOptions History);

    private static async Task<Storage> StorageAsync(string provider, string dataDir)
    {
        switch (provider)
        {
            case "sqlite":
                return new Storage(
                    ["--Campus:Storage:Provider=Sqlite", $"--Campus:Storage:SqlitePath={Path.Combine(dataDir, "campus.db")}"],
                    new HistoryOptions { Provider = HistoryProvider.Sqlite, ConnectionString = $"Data Source={Path.Combine(dataDir, "campus-history.db")}" });
            case "postgres":
                var connection = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("crash");
                return new Storage(
                    ["--Campus:Storage:Provider=Postgres", $"--Campus:Storage:PostgresConnectionString={connection}"],
                    new HistoryOptions { Provider = HistoryProvider.Postgres, ConnectionString = connection });
            default:
                throw new ArgumentOutOfRangeException(nameof(provider), provider, "Use sqlite or postgres.");
        }
    }

    private static ExternalProcess StartHost(string dataDir, Storage storage, int mqttPort, int httpPort) => BuiltHost.Start(dataDir, mqttPort, httpPort,
    [
        .. storage.HostArguments,
        "--Campus:Seed:Schools:0:Id=s01",
        "--Campus:Seed:Schools:0:Rooms:0=r101",
        "--Campus:Seed:Devices:0:Id=m1",
        "--Campus:Seed:Devices:0:School=s01",
        "--Campus:Seed:Devices:0:Room=r101",
        "--Campus:Seed:Devices:0:Kind=energy",
        $"--Campus:Seed:Devices:0:Password={Password}",
        $"--Campus:Seed:Devices:0:HmacKey={Key}",
        "--Logging:LogLevel:Default=Warning",
    ]);

    private static async Task WaitHealthyAsync(int httpPort, ExternalProcess host)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Poll.UntilAsync(async () =>
        {
            if (host.HasExited) throw new InvalidOperationException($"The host exited: {host.StandardError}{host.StandardOutput}");
            try
            {
                return (await http.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/healthz"))).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, "the host answers /healthz with 200", TimeSpan.FromSeconds(60));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Killing_the_host_during_qos1_ingestion_loses_no_acknowledged_message(string provider)
    {
        // Declared first, so deleted last: after both hosts have ended and the store below is closed, also when the test fails.
        using var dataDirectory = TempDirectory.Create("campus-crash-");
        var dataDir = dataDirectory.Path;
        var storage = await StorageAsync(provider, dataDir);
        var mqttPort = FreePort.Get();
        var httpPort = FreePort.Get();
        var acked = new ConcurrentBag<uint>();
        await using (var host = StartHost(dataDir, storage, mqttPort, httpPort))
        {
            await WaitHealthyAsync(httpPort, host);
            var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", mqttPort).WithClientId("m1")
                .WithCredentials("m1", Password).WithMaximumInFlightMessages(32).Build());
            var publishing = Task.Run(async () =>
            {
                var pending = new List<Task>();
                for (uint seq = 1; seq <= 20_000; seq++)
                {
                    var s = seq;
                    var message = new MqttApplicationMessageBuilder().WithTopic("campus/v1/s01/r101/energy/m1/telemetry")
                        .WithPayload(string.Create(CultureInfo.InvariantCulture, $"{{\"v\":1,\"boot\":1,\"seq\":{s},\"ts\":0,\"energyKwh\":{s * 0.01},\"powerW\":300}}"))
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
                    try
                    {
                        pending.Add(client.PublishAsync(message).ContinueWith(t => { if (t.IsCompletedSuccessfully) acked.Add(s); }, TaskScheduler.Default));
                        if (pending.Count >= 32) { await Task.WhenAny(pending); pending.RemoveAll(p => p.IsCompleted); }
                    }
                    catch (Exception e) when (e is MqttCommunicationException or InvalidOperationException or ObjectDisposedException)
                    {
                        break;
                    }
                    if (host.HasExited) break;
                }
            });
            await Poll.UntilAsync(() => acked.Count >= 600, "600 messages are acknowledged", TimeSpan.FromSeconds(90));
            host.Kill(); // SIGKILL, mid-stream
            await host.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await Task.WhenAny(publishing, Task.Delay(TimeSpan.FromSeconds(20)));
            client.Dispose();
        }
        var acknowledged = acked.ToHashSet();
        output.WriteLine($"acknowledged before the kill: {acknowledged.Count}");

        await using (var again = StartHost(dataDir, storage, mqttPort, httpPort))
        {
            await WaitHealthyAsync(httpPort, again); // the host restarts on the same files after a kill
            await again.TerminateAsync(TimeSpan.FromSeconds(20));
        }

        await using var store = HistoryStoreFactory.Create(storage.History, TimeProvider.System, NullLoggerFactory.Instance);
        await store.InitializeAsync();
        var stored = new HashSet<uint>();
        PageRequest page = new(1000);
        while (true)
        {
            var rows = await store.GetTelemetryAsync(new TelemetryQuery("s01", "m1", DateTimeOffset.UnixEpoch, DateTimeOffset.UtcNow.AddDays(1), page));
            foreach (var r in rows.Items) stored.Add(r.Record.Seq);
            if (rows.NextCursor is null) break;
            page = new PageRequest(1000, rows.NextCursor);
        }
        output.WriteLine($"durable after the restart: {stored.Count}");
        var lost = acknowledged.Where(s => !stored.Contains(s)).Order().Take(10).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count}+ acknowledged messages were lost, e.g. seq {string.Join(", ", lost)}");
        Assert.True(stored.Count >= acknowledged.Count);
    }
}
