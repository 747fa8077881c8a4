using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Campus.Mqtt;
using Campus.Mqtt.Server;
using Campus.Testing;

namespace Campus.Benchmarks;

/// <summary>
/// ingest: publish -> device grain -> durable in PostgreSQL, end to end. The built host
/// (campus-grain-host) runs as a child process on PostgreSQL with its embedded broker; N device
/// connections publish QoS 1 telemetry at a target total rate. The embedded broker sends PUBACK
/// only after the message's effect is durable, so publish-to-PUBACK is publish-to-durable.
/// Baseline in the same command: the same load into a bare embedded broker (no controller).
/// </summary>
internal sealed class IngestBenchmark : IBenchmarkMode
{
    public string Name => "ingest";
    public string Description => "end-to-end ingestion into PostgreSQL: --devices 10000 --seconds 300 --rate 20000";

    public async Task<int> RunAsync(string[] args)
    {
        var devices = Arg(args, "--devices", 10_000);
        var seconds = Arg(args, "--seconds", 300);
        var rate = Arg(args, "--rate", 20_000);
        Console.WriteLine($"ingest: {devices} devices, {seconds} s, target {rate} msg/s");

        // Baseline: the bare broker with the same clients and load, for a short while.
        var baselineSeconds = Math.Min(10, seconds);
        await using var bare = new MqttServer(new MqttServerOptionsBuilder().WithDefaultEndpointBoundIPAddress("127.0.0.1").WithDefaultEndpointPort(0)
            .WithAnonymousClients().WithMaxPendingMessagesPerClient(100_000).Build());
        await bare.StartAsync();
        Console.WriteLine("baseline: bare embedded broker");
        var baseline = await LoadAsync("127.0.0.1", bare.Port, devices, baselineSeconds, rate, i => (null, null));
        await bare.StopAsync();

        // The controller on PostgreSQL.
        var pg = await PostgresServer.GetAsync();
        var connection = await pg.CreateDatabaseAsync("ingest");
        var dir = Directory.CreateTempSubdirectory("campus-ingest-").FullName;
        var seed = Path.Combine(dir, "seed.json");
        await File.WriteAllTextAsync(seed, SeedJson(devices));
        var mqttPort = FreePort.Get();
        var httpPort = FreePort.Get();
        var dll = Path.Combine(BenchResults.RepositoryRoot(), "campus-grain-host", "bin", "Release", "net10.0", "Campus.GrainHost.dll");
        if (!File.Exists(dll))
        {
            Console.WriteLine("building the host (Release)...");
            await ExternalProcess.RunAsync("dotnet", ["build", "-c", "Release", Path.Combine(BenchResults.RepositoryRoot(), "campus-grain-host", "Campus.GrainHost.csproj")], TimeSpan.FromMinutes(5));
        }
        await using var host = ExternalProcess.Start("dotnet",
        [
            dll, $"--Urls=http://127.0.0.1:{httpPort}", "--Campus:Storage:Provider=Postgres", $"--Campus:Storage:PostgresConnectionString={connection}",
            "--Campus:Mqtt:BindAddress=127.0.0.1", $"--Campus:Mqtt:Port={mqttPort}", $"--Campus:Seed:File={seed}", "--Logging:LogLevel:Default=Warning",
            "--Campus:Controller:DeviceStateWriteInterval=00:01:00",
        ], dir);
        Console.WriteLine("starting the host and registering the devices...");
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
        {
            var started = Stopwatch.StartNew();
            while (true)
            {
                if (host.HasExited) throw new InvalidOperationException("host exited: " + host.StandardError + host.StandardOutput);
                try
                {
                    if ((await http.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/healthz"))).IsSuccessStatusCode) break;
                }
                catch (HttpRequestException) { }
                catch (TaskCanceledException) { }
                if (started.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("the host did not become healthy");
                await Task.Delay(500);
            }
            Console.WriteLine($"host ready after {started.Elapsed.TotalSeconds:0} s");
        }
        Console.WriteLine("controller: publish -> grain -> PostgreSQL");
        var result = await LoadAsync("127.0.0.1", mqttPort, devices, seconds, rate, i => (Id(i), "pw-" + Id(i)));
        await host.TerminateAsync(TimeSpan.FromSeconds(30));

        var figures = new JsonObject
        {
            ["command"] = $"dotnet run -c Release --project tests/Campus.Benchmarks -- ingest --devices {devices} --seconds {seconds} --rate {rate}",
            ["fullCommand"] = "dotnet run -c Release --project tests/Campus.Benchmarks -- ingest --devices 10000 --seconds 300 --rate 20000",
            ["devices"] = devices,
            ["seconds"] = seconds,
            ["targetRate"] = rate,
            ["sustainedMsgPerSecond"] = Math.Round(result.Rate, 1),
            ["acknowledged"] = result.Acked,
            ["published"] = result.Sent,
            ["latencyMsP50"] = Math.Round(result.P50, 2),
            ["latencyMsP99"] = Math.Round(result.P99, 2),
            ["backlogPerSecond"] = new JsonArray([.. result.Backlog.Select(b => (JsonNode)b)]),
            ["baseline"] = new JsonObject
            {
                ["what"] = "the same clients and load into a bare embedded broker (no controller), same command",
                ["seconds"] = baselineSeconds,
                ["msgPerSecond"] = Math.Round(baseline.Rate, 1),
                ["latencyMsP50"] = Math.Round(baseline.P50, 2),
                ["latencyMsP99"] = Math.Round(baseline.P99, 2),
            },
            ["ratioToBaseline"] = baseline.Rate > 0 ? Math.Round(result.Rate / baseline.Rate, 3) : 0,
        };
        BenchResults.Write("ingest", figures);
        Console.WriteLine(figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static string Id(int i) => "dev-" + i.ToString("D5", CultureInfo.InvariantCulture);

    private static string SeedJson(int devices)
    {
        var rooms = Math.Max(1, devices / 50);
        var sb = new StringBuilder();
        sb.Append("{\"schools\":[{\"id\":\"s01\",\"timeZoneId\":\"Asia/Shanghai\",\"rooms\":[");
        for (var r = 0; r < rooms; r++) sb.Append(r == 0 ? "" : ",").Append("\"r").Append(r).Append('"');
        sb.Append("]}],\"devices\":[");
        for (var i = 0; i < devices; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"{Id(i)}\",\"school\":\"s01\",\"room\":\"r{i % rooms}\",\"kind\":\"energy\",\"password\":\"pw-{Id(i)}\",\"hmacKey\":\"{Convert.ToBase64String(new byte[32])}\"}}");
        }
        sb.Append("]}");
        return sb.ToString();
    }

    private sealed record LoadResult(double Rate, long Sent, long Acked, double P50, double P99, List<long> Backlog);

    /// <summary>N connections, each publishing QoS 1 telemetry at rate/N per second for the duration.</summary>
    private static async Task<LoadResult> LoadAsync(string host, int port, int devices, int seconds, int rate, Func<int, (string? User, string? Password)> credentials)
    {
        var clients = new IMqttClient[devices];
        var rooms = Math.Max(1, devices / 50);
        for (var start = 0; start < devices; start += 200)
        {
            var batch = Enumerable.Range(start, Math.Min(200, devices - start)).Select(async i =>
            {
                var (user, password) = credentials(i);
                var builder = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(Id(i)).WithMaximumInFlightMessages(16).WithTimeout(TimeSpan.FromSeconds(60));
                if (user is not null) builder = builder.WithCredentials(user, password);
                var c = new MqttClientFactory().CreateMqttClient();
                await c.ConnectAsync(builder.Build());
                clients[i] = c;
            });
            await Task.WhenAll(batch);
            Console.Write($"\rconnected {Math.Min(start + 200, devices)}/{devices}");
        }
        Console.WriteLine();
        long sent = 0, acked = 0;
        var latencies = new List<double>[devices];
        var stop = Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(seconds);
        var perDevice = (double)rate / devices;
        var workers = Enumerable.Range(0, devices).Select(async i =>
        {
            var c = clients[i];
            var list = latencies[i] = new List<double>(1024);
            var topic = $"campus/v1/s01/r{i % rooms}/energy/{Id(i)}/telemetry";
            var seq = 0u;
            var interval = TimeSpan.FromSeconds(1 / perDevice);
            var next = TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)Math.Max(1, interval.TotalMilliseconds)));
            var pending = new List<Task>();
            while (stop.Elapsed < duration)
            {
                var wait = next - stop.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
                next += interval;
                seq++;
                var payload = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"v\":1,\"boot\":1,\"seq\":{seq},\"ts\":0,\"energyKwh\":{seq * 0.001:0.000},\"powerW\":420}}"));
                var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
                Interlocked.Increment(ref sent);
                var t0 = Stopwatch.GetTimestamp();
                pending.Add(c.PublishAsync(message).ContinueWith(t =>
                {
                    if (!t.IsCompletedSuccessfully) return;
                    Interlocked.Increment(ref acked);
                    lock (list) list.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }, TaskScheduler.Default));
                if (pending.Count > 64) pending.RemoveAll(p => p.IsCompleted);
            }
            await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);
        }).ToList();
        var backlog = new List<long>();
        var all = Task.WhenAll(workers);
        while (!all.IsCompleted)
        {
            await Task.WhenAny(all, Task.Delay(1000));
            var b = Interlocked.Read(ref sent) - Interlocked.Read(ref acked);
            backlog.Add(b);
            Console.Write($"\r{stop.Elapsed.TotalSeconds,5:0} s  sent {Interlocked.Read(ref sent),9}  acked {Interlocked.Read(ref acked),9}  backlog {b,7}");
        }
        Console.WriteLine();
        var elapsed = Math.Min(stop.Elapsed.TotalSeconds, seconds + 30);
        foreach (var c in clients) c?.Dispose();
        var merged = latencies.Where(l => l is not null).SelectMany(l => l).Order().ToArray();
        double Pct(double p) => merged.Length == 0 ? 0 : merged[Math.Min(merged.Length - 1, (int)(p * merged.Length))];
        return new LoadResult(Interlocked.Read(ref acked) / elapsed, sent, acked, Pct(0.50), Pct(0.99), backlog);
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
    }
}
