using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Campus.Mqtt;
using Campus.Mqtt.Server;
using Campus.Testing;
using static Campus.Benchmarks.BenchArgs;

namespace Campus.Benchmarks;

/// <summary>
/// ingest: publish -> device grain -> durable in PostgreSQL, end to end. The built host
/// (campus-grain-host) runs as a child process on PostgreSQL with its embedded broker; N device
/// connections publish QoS 1 telemetry at a target total rate. The embedded broker sends PUBACK
/// only after the message's effect is durable, so publish-to-PUBACK is publish-to-durable.
/// Baseline in the same command: the same clients and load into a bare embedded broker (no controller)
/// in its own process. Load: a few pacer threads drive every device (no timer or loop per device);
/// each device first gets one reading acknowledged (warm-up, in waves of 1,000 devices; --warmup-wave 10000
/// sends every first reading at once), then the window is measured.
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
        // --warmup-wave N: how many devices send their first reading at once (10000: all of them, as after a
        // district-wide power cut); the controller's warm-up is reported either way.
        var warmWave = Math.Clamp(Arg(args, "--warmup-wave", 1_000), 1, devices);
        // The load generator: raw sockets (cheap, leaves the CPU to the system under test) unless
        // --client mqtt asks for the project's MQTT client, which reconnects and resends like a device.
        var raw = RawDeviceFleet.IsSupported && !(Array.IndexOf(args, "--client") is var ci and >= 0 && ci + 1 < args.Length && args[ci + 1] == "mqtt");
        Console.WriteLine($"ingest: {devices} devices, {seconds} s, target {rate} msg/s");
        var loadBefore = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null;

        // Baseline: the bare broker with the same clients and load, for a short while.
        var baselineSeconds = Math.Min(10, seconds);
        // The bare broker runs in its own process, like the host: the load generator's process then holds
        // only the client side of the connections (10,000 connections on both sides exceed one process's
        // file descriptors), and its CPU is measured the same way as the host's.
        LoadResult baseline;
        await using (var bare = await MqttBrokerChild.StartAsync(maxQueued: 100_000, maxInflight: 100))
        {
            Console.WriteLine("baseline: bare embedded broker (child process)");
            baseline = await LoadAsync("127.0.0.1", bare.Port, devices, baselineSeconds, rate, i => (null, null), 1, raw, bare.ProcessId);
        }
        Console.WriteLine($"baseline: {baseline.Rate:0} msg/s, p50 {baseline.P50:0.0} ms, p99 {baseline.P99:0.0} ms, CPU per message: broker {PerMessage(baseline.HostCpuSeconds, baseline.Acked)} µs, load generator {PerMessage(baseline.LoadCpuSeconds, baseline.Acked)} µs");
        // A second reference, same clients and load: Mosquitto (no controller either), when installed.
        LoadResult? mosquitto = null;
        if (IsInstalled("mosquitto"))
        {
            await using var reference = await MosquittoServer.StartAsync(new MosquittoOptions { Persistence = false, ExtraConfig = "max_inflight_messages 100" });
            Console.WriteLine("reference: Mosquitto");
            mosquitto = await LoadAsync("127.0.0.1", reference.Port, devices, baselineSeconds, rate, i => (null, null), 1, raw, reference.ProcessId);
            Console.WriteLine($"reference: {mosquitto.Rate:0} msg/s, p50 {mosquitto.P50:0.0} ms, p99 {mosquitto.P99:0.0} ms, CPU per message: broker {PerMessage(mosquitto.HostCpuSeconds, mosquitto.Acked)} µs, load generator {PerMessage(mosquitto.LoadCpuSeconds, mosquitto.Acked)} µs");
        }
        if (args.Contains("--baseline-only")) return 0;

        // The controller on PostgreSQL.
        var (connection, reused) = await DatabaseAsync(args);
        var dir = Directory.CreateTempSubdirectory("campus-ingest-").FullName;
        var seed = Path.Combine(dir, "seed.json");
        await File.WriteAllTextAsync(seed, SeedJson(devices));
        var mqttPort = FreePort.Get();
        var httpPort = FreePort.Get();
        var dll = Path.Combine(BenchResults.RepositoryRoot(), "campus-grain-host", "bin", "Release", "net10.0", "Campus.GrainHost.dll");
        // Always build (incremental, seconds when nothing changed): a host binary left from older code
        // would measure that code.
        Console.WriteLine("building the host (Release)...");
        // No build servers: a compiler server started here would inherit this process's output pipe and
        // outlive the build; once that pipe fills, later builds that reach the server wait for good.
        var build = await ExternalProcess.RunAsync("dotnet", ["build", "--disable-build-servers", "-c", "Release", Path.Combine(BenchResults.RepositoryRoot(), "campus-grain-host", "Campus.GrainHost.csproj")], TimeSpan.FromMinutes(5));
        if (build.ExitCode != 0 || !File.Exists(dll)) throw new InvalidOperationException("building the host failed: " + build.Error + build.Output);
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
                if (started.Elapsed > TimeSpan.FromMinutes(10 + devices / 100)) throw new TimeoutException("the host did not become healthy");
                await Task.Delay(500);
            }
            Console.WriteLine($"host ready after {started.Elapsed.TotalSeconds:0} s");
        }
        Console.WriteLine("controller: publish -> grain -> PostgreSQL");
        var dbPort = Regex.Match(connection, @"Port=(\d+)") is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : (int?)null;
        using var health = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        async Task<int?> StoreQueueAsync()
        {
            try
            {
                var report = JsonNode.Parse(await health.GetStringAsync(new Uri($"http://127.0.0.1:{httpPort}/healthz")));
                return report?["storageQueue"]?.GetValue<int>();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
            {
                return null;
            }
        }
        // PostgreSQL's own maintenance during the load: what its autovacuum workers are doing at each sample.
        await using var watch = new Npgsql.NpgsqlConnection(connection);
        await watch.OpenAsync();
        async Task<string?> MaintenanceAsync()
        {
            try
            {
                await using var cmd = new Npgsql.NpgsqlCommand(
                    "SELECT coalesce(string_agg(regexp_replace(query, '^autovacuum: ', ''), '; '), '') FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'", watch);
                return await cmd.ExecuteScalarAsync() as string;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException)
            {
                return null;
            }
        }
        var boot = reused ? (uint)(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1_700_000_000) : 1u;
        var result = await LoadAsync("127.0.0.1", mqttPort, devices, seconds, rate, i => (Id(i), "pw-" + Id(i)), boot, raw, host.Id, dbPort, StoreQueueAsync, warmWave, MaintenanceAsync);
        await host.TerminateAsync(TimeSpan.FromSeconds(30));
        var hostLog = (host.StandardError + host.StandardOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var hostLogFile = Path.Combine(dir, "host.log");
        await File.WriteAllLinesAsync(hostLogFile, hostLog);
        Console.WriteLine($"host log: {hostLog.Length} lines in {hostLogFile}{(hostLog.Length > 0 ? ", the last ones:" : "")}");
        foreach (var line in hostLog.TakeLast(25)) Console.WriteLine("  " + line);

        var figures = new JsonObject
        {
            ["command"] = $"dotnet run -c Release --project tests/Campus.Benchmarks -- ingest --devices {devices} --seconds {seconds} --rate {rate}{(warmWave != 1_000 ? $" --warmup-wave {warmWave}" : "")}{(reused ? " --database NAME" : "")}",
            ["fullCommand"] = "dotnet run -c Release --project tests/Campus.Benchmarks -- ingest --devices 10000 --seconds 300 --rate 20000",
            ["devices"] = devices,
            ["seconds"] = seconds,
            ["targetRate"] = rate,
            ["sustainedMsgPerSecond"] = Math.Round(result.Rate, 1),
            ["sustainedMeans"] = "acknowledged while the load was offered, per second of the window (warm-up and drain not counted)",
            ["acknowledged"] = result.Acked,
            ["published"] = result.Sent,
            ["failed"] = result.Failed,
            ["connectionsClosedByTheBroker"] = result.LostConnections,
            ["loadGenerator"] = result.LoadGenerator,
            ["latencyMsP50"] = Math.Round(result.P50, 2),
            ["latencyMsP99"] = Math.Round(result.P99, 2),
            ["warmUp"] = new JsonObject
            {
                ["what"] = "before the window: every device's first reading (a fresh boot, a grain activation and a state load each), sent in waves of this many devices at once",
                ["wave"] = warmWave,
                ["seconds"] = Math.Round(result.WarmUp.Seconds, 1),
                ["acknowledged"] = result.WarmUp.Acknowledged,
                ["notAcknowledged"] = devices - result.WarmUp.Acknowledged,
            },
            ["backlogPerSecond"] = new JsonArray([.. result.Backlog.Select(b => (JsonNode)b)]),
            ["sampledAtSecond"] = new JsonArray([.. result.PerSecond.Select(x => (JsonNode)x.At)]),
            ["ackedPerSecond"] = new JsonArray([.. result.PerSecond.Select(x => (JsonNode)x.AckedPerSecond)]),
            ["cpuPercentPerSecond"] = new JsonObject
            {
                ["what"] = "for each sample (taken about every second, at sampledAtSecond from the start of the load, like backlogPerSecond), each process's CPU since the sample before, in percent of one core (the machine has 2 cores: 200 in all)",
                ["loadGenerator"] = new JsonArray([.. result.PerSecond.Select(x => (JsonNode)x.LoadGenerator)]),
                ["host"] = new JsonArray([.. result.PerSecond.Select(x => (JsonNode?)x.Host)]),
                ["postgres"] = new JsonArray([.. result.PerSecond.Select(x => (JsonNode?)x.Postgres)]),
            },
            ["autovacuum"] = new JsonObject
            {
                ["what"] = "the samples (at this second from the start of the load) at which PostgreSQL's autovacuum workers were running, and what they ran",
                ["samples"] = new JsonArray([.. result.Autovacuum.Select(v => (JsonNode)new JsonObject { ["at"] = v.At, ["running"] = v.What })]),
            },
            ["stalledSeconds"] = new JsonObject
            {
                ["what"] = "samples (at this second from the start of the load) in which the three processes together used less than a quarter of the machine while messages waited: the machine did not run them, or all three waited (on I/O or locks)",
                ["seconds"] = new JsonArray([.. result.PerSecond.Select((x, i) => (x, i)).Where(p => p.x.Stalled && p.i < result.Backlog.Count && result.Backlog[p.i] > 0).Select(p => (JsonNode)p.x.At)]),
            },
            ["storeQueuePerSecond"] = new JsonArray([.. result.StoreQueue.Select(b => (JsonNode)b)]),
            ["cpuSeconds"] = new JsonObject
            {
                ["what"] = "CPU seconds used during the load (and its drain) by each process; the machine has 2 cores",
                ["loadGenerator"] = Math.Round(result.LoadCpuSeconds, 1),
                ["host"] = result.HostCpuSeconds is { } hc ? Math.Round(hc, 1) : null,
                ["postgres"] = result.DatabaseCpuSeconds is { } dc ? Math.Round(dc, 1) : null,
                ["wallSeconds"] = Math.Round(result.Seconds, 1),
                ["hostMicrosecondsPerMessage"] = result.HostCpuSeconds is { } hm && result.Acked > 0 ? Math.Round(hm * 1e6 / result.Acked) : null,
                ["postgresMicrosecondsPerMessage"] = result.DatabaseCpuSeconds is { } pm && result.Acked > 0 ? Math.Round(pm * 1e6 / result.Acked) : null,
                ["loadGeneratorMicrosecondsPerMessage"] = result.Acked > 0 ? Math.Round(result.LoadCpuSeconds * 1e6 / result.Acked) : null,
                ["baselineBrokerMicrosecondsPerMessage"] = baseline.HostCpuSeconds is { } bm && baseline.Acked > 0 ? Math.Round(bm * 1e6 / baseline.Acked) : null,
                ["baselineLoadGeneratorMicrosecondsPerMessage"] = baseline.Acked > 0 ? Math.Round(baseline.LoadCpuSeconds * 1e6 / baseline.Acked) : null,
                ["baselineLoadGenerator"] = Math.Round(baseline.LoadCpuSeconds, 1),
                ["baselineBroker"] = baseline.HostCpuSeconds is { } bc ? Math.Round(bc, 1) : null,
                ["baselineWallSeconds"] = Math.Round(baseline.Seconds, 1),
            },
            ["drain"] = result.Drain is not { } drain ? null : new JsonObject
            {
                ["what"] = "after the load: the host and PostgreSQL work off the backlog while the load generator only reads acknowledgements (at most 30 s)",
                ["seconds"] = Math.Round(drain.Seconds, 1),
                ["msgPerSecond"] = Math.Round(drain.Acked / drain.Seconds),
                ["hostMicrosecondsPerMessage"] = drain.PerMessage(d => d.HostCpuSeconds),
                ["postgresMicrosecondsPerMessage"] = drain.PerMessage(d => d.DatabaseCpuSeconds),
                ["loadGeneratorMicrosecondsPerMessage"] = drain.PerMessage(d => d.LoadCpuSeconds),
            },
            ["cpuBudget"] = CpuBudget(result, rate),
            ["postgres"] = await ServerSettingsAsync(connection),
            ["loadAverageBefore"] = loadBefore,
            ["databaseReused"] = reused,
            ["baseline"] = new JsonObject
            {
                ["what"] = "the same clients and load into a bare embedded broker (no controller, its own process), same command",
                ["seconds"] = baselineSeconds,
                ["msgPerSecond"] = Math.Round(baseline.Rate, 1),
                ["latencyMsP50"] = Math.Round(baseline.P50, 2),
                ["latencyMsP99"] = Math.Round(baseline.P99, 2),
            },
            ["mosquitto"] = mosquitto is null ? null : new JsonObject
            {
                ["what"] = "the same clients and load into Mosquitto (no controller), same command",
                ["seconds"] = baselineSeconds,
                ["msgPerSecond"] = Math.Round(mosquitto.Rate, 1),
                ["latencyMsP50"] = Math.Round(mosquitto.P50, 2),
                ["latencyMsP99"] = Math.Round(mosquitto.P99, 2),
                ["brokerMicrosecondsPerMessage"] = mosquitto.HostCpuSeconds is { } mc && mosquitto.Acked > 0 ? Math.Round(mc * 1e6 / mosquitto.Acked) : null,
                ["loadGeneratorMicrosecondsPerMessage"] = mosquitto.Acked > 0 ? Math.Round(mosquitto.LoadCpuSeconds * 1e6 / mosquitto.Acked) : null,
            },
            ["ratioToBaseline"] = baseline.Rate > 0 ? Math.Round(result.Rate / baseline.Rate, 3) : 0,
        };
        if (figures["cpuBudget"] is JsonObject budget)
        {
            Console.WriteLine($"CPU budget: {budget["microsecondsPerMessage"]} µs per message (host, PostgreSQL, load generator) -> {budget["coresNeeded"]} cores at {rate} msg/s"
                + $" on {budget["cores"]}; host and PostgreSQL alone {budget["serverCoresNeeded"]}; used {budget["coresUsed"]}");
        }
        if (result.Drain is { } drained) Console.WriteLine($"drain: {drained.Acked / drained.Seconds:0} msg/s with no new publishes");
        // The full command (20,000/s offered) writes ingest.json; other offered rates get their own file,
        // so a run at a rate the machine sustains sits beside the run at the target.
        BenchResults.Write(rate == 20_000 && warmWave == 1_000 ? "ingest"
            : string.Create(CultureInfo.InvariantCulture, $"ingest-rate{rate}{(warmWave != 1_000 ? $"-wave{warmWave}" : "")}"), figures);
        Console.WriteLine(figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    /// <summary>
    /// A fresh database; or, with --database NAME on a server that outlives the run (CAMPUS_TEST_POSTGRES),
    /// that database, created once and reused: registering thousands of devices takes minutes, and reruns
    /// publish under a new boot number so that nothing they send is a duplicate of an earlier run.
    /// </summary>
    private static async Task<(string Connection, bool Reused)> DatabaseAsync(string[] args)
    {
        var i = Array.IndexOf(args, "--database");
        if (i < 0 || i + 1 >= args.Length) return (await (await PostgresServer.GetAsync()).CreateDatabaseAsync("ingest"), false);
        var name = args[i + 1];
        var admin = Environment.GetEnvironmentVariable(PostgresServer.EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(admin)) throw new InvalidOperationException("--database needs a server that outlives the run: set CAMPUS_TEST_POSTGRES to its admin connection string.");
        bool exists;
        await using (var conn = new Npgsql.NpgsqlConnection(admin))
        {
            await conn.OpenAsync();
            await using var check = new Npgsql.NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", conn);
            check.Parameters.AddWithValue("name", name);
            exists = await check.ExecuteScalarAsync() is not null;
            if (!exists)
            {
                await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE \"{name.Replace("\"", "", StringComparison.Ordinal)}\"", conn);
                await create.ExecuteNonQueryAsync();
            }
        }
        return (new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = true }.ConnectionString, exists);
    }

    /// <summary>The server settings that decide what "durable" means here (the test servers run with fsync=off).</summary>
    private static async Task<string> ServerSettingsAsync(string connection)
    {
        await using var conn = new Npgsql.NpgsqlConnection(connection);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT current_setting('server_version') || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', shared_buffers=' || current_setting('shared_buffers')", conn);
        var settings = (string?)await cmd.ExecuteScalarAsync() ?? "";
        return settings.Contains("fsync=off", StringComparison.Ordinal)
            ? $"PostgreSQL {settings}: a PUBACK follows the COMMIT, so nothing acknowledged is lost when the host or the database process dies; with fsync=off (test server) not when the machine does"
            : $"PostgreSQL {settings}";
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

    private sealed record LoadResult(double Rate, long Sent, long Acked, long Failed, double P50, double P99, List<long> Backlog, double Seconds, double LoadCpuSeconds, double? HostCpuSeconds, double? DatabaseCpuSeconds, List<int> StoreQueue, long LostConnections, string LoadGenerator,
        Drain? Drain, WarmUp WarmUp, List<Second> PerSecond, List<(double At, string What)> Autovacuum);

    /// <summary>One second of a run: acknowledgements, and the CPU of each process in percent of one core.</summary>
    private sealed record Second(double At, double AckedPerSecond, double LoadGenerator, double? Host, double? Postgres)
    {
        /// <summary>The interval between two samples (about a second; the sampling itself takes a little).</summary>
        public static Second Between(DrainMark a, DrainMark b)
        {
            var dt = b.Seconds - a.Seconds;
            static double? Percent(double? x, double? y, double dt) => x is { } u && y is { } v ? Math.Round((v - u) * 100 / dt) : null;
            return new Second(Math.Round(b.Seconds, 1), Math.Round((b.Acked - a.Acked) / dt), Percent(a.LoadCpuSeconds, b.LoadCpuSeconds, dt)!.Value,
                Percent(a.HostCpuSeconds, b.HostCpuSeconds, dt), Percent(a.DatabaseCpuSeconds, b.DatabaseCpuSeconds, dt));
        }

        /// <summary>All three together used less than a quarter of the machine (two cores) although work was waiting: the machine did not run them, or all three waited (I/O, locks).</summary>
        public bool Stalled => LoadGenerator + (Host ?? 0) + (Postgres ?? 0) < 50;
    }

    /// <summary>The warm-up: how long until every device's first reading was acknowledged, and how many were.</summary>
    private sealed record WarmUp(double Seconds, long Acknowledged);

    /// <summary>Acknowledged messages and CPU seconds so far (load generator, host, PostgreSQL) at one moment of a run.</summary>
    private sealed record DrainMark(double Seconds, long Acked, double LoadCpuSeconds, double? HostCpuSeconds, double? DatabaseCpuSeconds);

    /// <summary>The drain after the load: at least 5 s in which the backlog was worked off with no new publishes.</summary>
    private sealed record Drain(DrainMark Start, DrainMark End)
    {
        public long Acked => End.Acked - Start.Acked;
        public double Seconds => End.Seconds - Start.Seconds;
        public double? PerMessage(Func<DrainMark, double?> cpu) =>
            cpu(End) is { } e && cpu(Start) is { } s && Acked > 0 ? Math.Round((e - s) * 1e6 / Acked) : null;
    }

    /// <summary>The simulated devices' connections, and how one of them publishes a reading.</summary>
    private interface IFleet : IDisposable
    {
        string Name { get; }
        long LostConnections { get; }
        void Start(LoadRun run);
        void Publish(int device, ReadOnlySpan<byte> payload, LoadRun run);
    }

    /// <summary>Devices on the cheap raw-socket load generator (see <see cref="RawDeviceFleet"/>).</summary>
    private sealed class RawFleet(RawDeviceFleet fleet) : IFleet
    {
        public string Name => "raw sockets, one epoll thread for the acknowledgements";
        public long LostConnections => fleet.LostConnections;
        public void Start(LoadRun run) => fleet.ReportTo(run);
        public void Publish(int device, ReadOnlySpan<byte> payload, LoadRun run) => fleet.Publish(device, payload);
        public void Dispose() => fleet.Dispose();
    }

    /// <summary>Devices on the project's MQTT client, which reconnects and resends like a device would.</summary>
    private sealed class ClientFleet(IMqttClient[] clients, string[] topics) : IFleet
    {
        private long _lost;

        public string Name => "the project's MQTT client (auto-reconnect, 16 in flight)";
        public long LostConnections => Interlocked.Read(ref _lost);
        public void Start(LoadRun run) { }

        public void Publish(int device, ReadOnlySpan<byte> payload, LoadRun run)
        {
            var message = new MqttApplicationMessage { Topic = topics[device], Payload = new ReadOnlySequence<byte>(payload.ToArray()), QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce };
            var started = Stopwatch.GetTimestamp();
            Task<MqttClientPublishResult> task;
            try
            {
                task = clients[device].PublishAsync(message);
            }
            catch (Exception e) when (e is MqttCommunicationException or InvalidOperationException)
            {
                task = Task.FromException<MqttClientPublishResult>(e);
            }
            run.Rent().Start(task, started);
        }

        public void Dispose()
        {
            foreach (var c in clients)
            {
                if (c is { IsConnected: false }) Interlocked.Increment(ref _lost);
                c?.Dispose();
            }
        }

        public static async Task<ClientFleet> ConnectAsync(string host, int port, int devices, Func<int, (string? User, string? Password)> credentials, Func<int, string> topic, IProgress<int> progress)
        {
            var clients = new IMqttClient[devices];
            for (var start = 0; start < devices; start += 200)
            {
                var batch = Enumerable.Range(start, Math.Min(200, devices - start)).Select(async i =>
                {
                    var (user, password) = credentials(i);
                    // Like a device: a connection the controller closes (a message it could not make durable in
                    // time) comes back, and the unacknowledged messages are sent again.
                    var builder = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(Id(i)).WithMaximumInFlightMessages(16).WithTimeout(TimeSpan.FromSeconds(60))
                        .WithAutoReconnect(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
                    if (user is not null) builder = builder.WithCredentials(user, password);
                    var c = new MqttClientFactory().CreateMqttClient();
                    await c.ConnectAsync(builder.Build());
                    clients[i] = c;
                });
                await Task.WhenAll(batch);
                progress.Report(Math.Min(start + 200, devices));
            }
            return new ClientFleet(clients, [.. Enumerable.Range(0, devices).Select(topic)]);
        }
    }

    /// <summary>
    /// One publish awaiting its PUBACK on the MQTT client. Pooled, with its completion callback made once,
    /// so a publish costs the load generator no closure, no continuation task and no timer.
    /// </summary>
    private sealed class PendingPublish
    {
        private readonly LoadRun _run;
        private readonly Action _completed;
        private Task<MqttClientPublishResult>? _task;
        private long _started;

        public PendingPublish(LoadRun run)
        {
            _run = run;
            _completed = Completed;
        }

        public void Start(Task<MqttClientPublishResult> task, long started)
        {
            _task = task;
            _started = started;
            if (task.IsCompleted) Completed();
            else task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_completed);
        }

        private void Completed()
        {
            var ok = _task!.IsCompletedSuccessfully;
            var started = _started;
            _task = null;
            if (ok) _run.Acknowledged(started);
            else _run.Fail(1);
            _run.Return(this);
        }
    }

    /// <summary>The counters and latency samples of one load run; latencies go into one preallocated array.</summary>
    private sealed class LoadRun(long capacity) : RawDeviceFleet.IAckSink
    {
        private readonly float[] _latencies = new float[Math.Min(capacity, 50_000_000)];
        private readonly ConcurrentBag<PendingPublish> _pool = [];
        private long _samples;
        public long Sent;
        public long Acked;
        public long Failed;
        public long AckedInWindow;

        public PendingPublish Rent() => _pool.TryTake(out var p) ? p : new PendingPublish(this);

        public void Return(PendingPublish p) => _pool.Add(p);

        public void Acknowledged(long started)
        {
            var ms = (float)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var i = Interlocked.Increment(ref _samples) - 1;
            if (i < _latencies.Length) _latencies[i] = ms;
            Interlocked.Increment(ref Acked);
        }

        public void Fail(int count) => Interlocked.Add(ref Failed, count);

        public (double P50, double P99) Percentiles()
        {
            var n = (int)Math.Min(Interlocked.Read(ref _samples), _latencies.Length);
            if (n == 0) return (0, 0);
            var sorted = _latencies.AsSpan(0, n).ToArray();
            Array.Sort(sorted);
            return (sorted[Math.Min(n - 1, (int)(0.50 * n))], sorted[Math.Min(n - 1, (int)(0.99 * n))]);
        }
    }

    /// <summary>
    /// N connections publishing QoS 1 telemetry at a total target rate for the duration. A few pacing
    /// threads drive every device: each millisecond they issue the publishes due by then, round-robin
    /// over the devices, so each device publishes evenly every devices/rate seconds and in order.
    /// (Instead of one delay loop per device: 10,000 timers firing and 10,000 state machines
    /// resuming cost the load generator more than the broker it measures.)
    /// </summary>
    private static async Task<LoadResult> LoadAsync(string host, int port, int devices, int seconds, int rate, Func<int, (string? User, string? Password)> credentials,
        uint boot, bool raw, int? hostPid = null, int? databasePort = null, Func<Task<int?>>? storeQueue = null, int warmWave = 1_000, Func<Task<string?>>? maintenance = null)
    {
        var rooms = Math.Max(1, devices / 50);
        string Topic(int i) => $"campus/v1/s01/r{i % rooms}/energy/{Id(i)}/telemetry";
        var progress = new Progress<int>(n => Console.Write($"\rconnected {n}/{devices}"));
        using IFleet fleet = raw
            ? new RawFleet(await RawDeviceFleet.ConnectAsync(port, devices, Id, credentials, Topic, progress))
            : await ClientFleet.ConnectAsync(host, port, devices, credentials, Topic, progress);
        Console.WriteLine($"\rconnected {devices}/{devices} ({fleet.Name})");
        var seqs = new uint[devices];
        var scratch = new byte[128];

        // Warm-up, not measured: every device publishes one reading and gets its PUBACK, so that the
        // window measures devices that are online with active grains (a fresh boot, a state load and
        // a presence change per device are start-up costs, not the sustained rate).
        var warm = Stopwatch.StartNew();
        var warmRun = new LoadRun(devices);
        fleet.Start(warmRun);
        for (var start = 0; start < devices; start += warmWave)
        {
            var wave = Math.Min(warmWave, devices - start);
            for (var j = start; j < start + wave; j++)
                fleet.Publish(j, Reading(scratch, boot, ++seqs[j]), warmRun);
            var waveStarted = Stopwatch.StartNew();
            while (Interlocked.Read(ref warmRun.Acked) + Interlocked.Read(ref warmRun.Failed) < start + wave && waveStarted.Elapsed < TimeSpan.FromMinutes(5))
                await Task.Delay(20);
            Console.Write($"\rwarm-up {start + wave}/{devices}");
        }
        Console.WriteLine();
        var warmFailures = devices - Interlocked.Read(ref warmRun.Acked);
        if (warmFailures > 0) Console.WriteLine($"warm-up: {warmFailures} readings not acknowledged");
        Console.WriteLine($"warm-up: one acknowledged reading per device after {warm.Elapsed.TotalSeconds:0.0} s");
        var warmUp = new WarmUp(warm.Elapsed.TotalSeconds, Interlocked.Read(ref warmRun.Acked));

        var run = new LoadRun((long)rate * (seconds + 5));
        fleet.Start(run);
        var duration = TimeSpan.FromSeconds(seconds);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var hostBefore = hostPid is { } hp ? ProcessCpu.Of(hp) : null;
        var dbBefore = databasePort is { } dp ? ProcessCpu.OfPostgres(dp) : null;
        var stop = Stopwatch.StartNew();
        // A few pacer threads, each owning every P-th device (so each device's messages stay in order):
        // on a shared machine one thread would get too small a share of the CPU to issue the load.
        var pacerCount = Math.Min(devices, Math.Max(2, Environment.ProcessorCount * 2));
        var pacers = new Thread[pacerCount];
        var running = pacerCount;
        for (var k = 0; k < pacerCount; k++)
        {
            var part = k;
            pacers[k] = new Thread(() =>
            {
                var mine = (devices - part + pacerCount - 1) / pacerCount;
                var total = (long)Math.Round((double)rate * seconds * mine / devices);
                var share = (double)rate * mine / devices;
                long issued = 0;
                var next = part;
                Span<byte> buffer = stackalloc byte[128];
                while (issued < total && stop.Elapsed < duration)
                {
                    var due = Math.Min(total, (long)(stop.Elapsed.TotalSeconds * share));
                    while (issued < due)
                    {
                        // A starved pacer must not run past the end of the window.
                        if ((issued & 63) == 0 && stop.Elapsed >= duration) break;
                        var d = next;
                        next += pacerCount;
                        if (next >= devices) next = part;
                        issued++;
                        Interlocked.Increment(ref run.Sent);
                        fleet.Publish(d, Reading(buffer, boot, ++seqs[d]), run);
                    }
                    Thread.Sleep(1);
                }
                if (Interlocked.Decrement(ref running) == 0) Interlocked.Exchange(ref run.AckedInWindow, Interlocked.Read(ref run.Acked));
            }) { IsBackground = true, Name = "ingest pacer " + k };
        }
        foreach (var t in pacers) t.Start();

        var backlog = new List<long>();
        var queue = new List<int>();
        var drainUntil = duration + TimeSpan.FromSeconds(30);
        // The drain: from the first second the pacers have stopped, the host and PostgreSQL work off the
        // backlog while the load generator only reads acknowledgements.
        DrainMark? drainStart = null;
        DrainMark Mark() => new(stop.Elapsed.TotalSeconds, Interlocked.Read(ref run.Acked), (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds,
            hostPid is { } hpid ? ProcessCpu.Of(hpid) : null, databasePort is { } dport ? ProcessCpu.OfPostgres(dport) : null);
        var seconds1 = new List<Second>();
        var vacuums = new List<(double At, string What)>();
        var last = Mark();
        while (true)
        {
            await Task.Delay(1000);
            if (drainStart is null && Volatile.Read(ref running) == 0) drainStart = Mark();
            var b = Interlocked.Read(ref run.Sent) - Interlocked.Read(ref run.Acked) - Interlocked.Read(ref run.Failed);
            backlog.Add(b);
            var now = Mark();
            seconds1.Add(Second.Between(last, now));
            last = now;
            if (storeQueue is not null && await storeQueue() is { } q) queue.Add(q);
            if (maintenance is not null && await maintenance() is { Length: > 0 } work) vacuums.Add((Math.Round(stop.Elapsed.TotalSeconds, 1), work));
            Console.Write($"\r{stop.Elapsed.TotalSeconds,5:0} s  sent {Interlocked.Read(ref run.Sent),9}  acked {Interlocked.Read(ref run.Acked),9}  backlog {b,7}  {(queue.Count > 0 ? $"store queue {queue[^1],6}" : "")}");
            if (Volatile.Read(ref running) == 0 && (b == 0 || stop.Elapsed > drainUntil)) break;
        }
        Console.WriteLine();
        var elapsed = stop.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        double? hostCpu = hostBefore is { } h0 && ProcessCpu.Of(hostPid!.Value) is { } h1 ? h1 - h0 : null;
        double? dbCpu = dbBefore is { } d0 && ProcessCpu.OfPostgres(databasePort!.Value) is { } d1 ? d1 - d0 : null;
        var drainEnd = Mark();
        var (p50, p99) = run.Percentiles();
        if (fleet.LostConnections > 0) Console.WriteLine($"connections closed by the broker: {fleet.LostConnections}");
        // Sustained: what was acknowledged while the load was offered (the drain after it is not counted).
        return new LoadResult(Interlocked.Read(ref run.AckedInWindow) / seconds, run.Sent, run.Acked, run.Failed, p50, p99, backlog, elapsed, cpu, hostCpu, dbCpu, queue, fleet.LostConnections, fleet.Name,
            drainStart is { } d && drainEnd.Seconds - d.Seconds >= 5 && drainEnd.Acked > d.Acked ? new Drain(d, drainEnd) : null, warmUp, seconds1, vacuums);
    }

    /// <summary>One energy reading as a device sends it (JSON, schema v1).</summary>
    private static ReadOnlySpan<byte> Reading(Span<byte> buffer, uint boot, uint seq)
    {
        System.Text.Unicode.Utf8.TryWrite(buffer, CultureInfo.InvariantCulture, $"{{\"v\":1,\"boot\":{boot},\"seq\":{seq},\"ts\":0,\"energyKwh\":{seq * 0.001:0.000},\"powerW\":420}}", out var length);
        return buffer[..length];
    }

    /// <summary>
    /// What the offered rate would take in CPU at the measured cost per message (all three processes, and
    /// the server side alone, host and PostgreSQL), against the cores of this machine. The costs are
    /// measured under overload, where batches are fullest, so the need at the target is if anything higher.
    /// </summary>
    private static JsonObject? CpuBudget(LoadResult result, int rate)
    {
        if (result.HostCpuSeconds is not { } host || result.DatabaseCpuSeconds is not { } db || result.Acked == 0) return null;
        var server = (host + db) * 1e6 / result.Acked;
        var all = server + result.LoadCpuSeconds * 1e6 / result.Acked;
        return new JsonObject
        {
            ["what"] = "cores the offered rate needs at the CPU per message measured here: host + PostgreSQL + load generator, and host + PostgreSQL alone",
            ["cores"] = Environment.ProcessorCount,
            ["microsecondsPerMessage"] = Math.Round(all),
            ["coresNeeded"] = Math.Round(rate * all / 1e6, 2),
            ["serverMicrosecondsPerMessage"] = Math.Round(server),
            ["serverCoresNeeded"] = Math.Round(rate * server / 1e6, 2),
            ["coresUsed"] = Math.Round((host + db + result.LoadCpuSeconds) / result.Seconds, 2),
        };
    }

    private static string PerMessage(double? cpuSeconds, long messages) =>
        cpuSeconds is { } s && messages > 0 ? (s * 1e6 / messages).ToString("0", CultureInfo.InvariantCulture) : "?";

    private static bool IsInstalled(string program)
    {
        try
        {
            Tools.Locate(program);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

}

/// <summary>CPU seconds used so far by a process (and its reaped children), from /proc; null elsewhere.</summary>
internal static class ProcessCpu
{
    private const double TicksPerSecond = 100.0; // USER_HZ on Linux

    public static double? Of(int pid, bool withChildren = false)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // Fields after the name start at 3 (state): utime 14, stime 15, cutime 16, cstime 17.
            var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
            if (withChildren) ticks += long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture);
            return ticks / TicksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The PostgreSQL server listening on <paramref name="port"/>: its postmaster, its live backends and the reaped ones.</summary>
    public static double? OfPostgres(int port)
    {
        if (!Directory.Exists("/proc")) return null;
        int? postmaster = null;
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                // The postmaster: a postgres process (not, say, a psql started with "-p PORT -U postgres").
                if (cmd.Contains($"-p {port} ", StringComparison.Ordinal) && File.ReadAllText(Path.Combine(dir, "comm")).Trim() == "postgres") postmaster = pid;
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
            }
        }
        if (postmaster is not { } pm) return null;
        var total = Of(pm, withChildren: true) ?? 0;
        foreach (var (pid, parent) in parents)
            if (parent == pm) total += Of(pid) ?? 0;
        return total;
    }
}
