using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Campus.Controller.History;
using Campus.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static Campus.Benchmarks.BenchArgs;

namespace Campus.Benchmarks;

/// <summary>
/// <c>history [--seconds S] [--concurrency 1,16,256] [--backends postgres,sqlite[,memory]] [--writers N] [--copy-min-rows N] [--commit-delay-ms N] [--store-only]</c>: telemetry appends
/// per second into the history store (group commit, rollups included) with 1, 16 and 256 concurrent
/// appenders, each append awaited until durable, against a naive baseline in the same run: every
/// appender does one autocommitted INSERT per row on a connection of its own (no rollups).
/// </summary>
internal sealed class HistoryMode : IBenchmarkMode
{
    private const int Devices = 10_000;

    public string Name => "history";
    public string Description => "history store appends/s (group commit) vs one INSERT per row [--seconds S] [--concurrency 1,16,256] [--backends postgres,sqlite]";

    public async Task<int> RunAsync(string[] args)
    {
        var seconds = double.Parse(Arg(args, "--seconds", "5"), CultureInfo.InvariantCulture);
        var levels = Arg(args, "--concurrency", "1,16,256").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var backends = Arg(args, "--backends", "postgres,sqlite").Split(',');
        var duration = TimeSpan.FromSeconds(seconds);
        var writers = int.Parse(Arg(args, "--writers", "0"), CultureInfo.InvariantCulture);
        // --store-only: skip the one-INSERT-per-row baseline (for quick comparisons of the store alone).
        var storeOnly = args.Contains("--store-only");
        // --copy-min-rows N: PostgreSQL batches of at least N new telemetry rows are copied (0 = always INSERT).
        var copyMinRows = int.Parse(Arg(args, "--copy-min-rows", new HistoryOptions().PostgresCopyMinRows.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        // --commit-delay-ms N: the store's CommitDelay (default: the option's default).
        var commitDelay = TimeSpan.FromMilliseconds(double.Parse(Arg(args, "--commit-delay-ms", new HistoryOptions().CommitDelay.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture));
        Console.WriteLine($"history: {seconds} s per run, concurrency {string.Join("/", levels)}, {Devices:N0} simulated devices");
        var results = new JsonObject
        {
            ["secondsPerRun"] = seconds,
            ["postgresWriters"] = writers > 0 ? writers : 2, // the store's default
            ["commitDelayMs"] = commitDelay.TotalMilliseconds,
            ["postgresCopyMinRows"] = copyMinRows,
            ["devices"] = Devices,
            ["baseline"] = "one autocommitted INSERT ... ON CONFLICT DO NOTHING per row, a connection per appender, no rollups",
        };
        var scratch = Directory.CreateTempSubdirectory("campus-history-bench-");
        try
        {
            foreach (var backend in backends)
            {
                var rows = new JsonArray();
                foreach (var c in levels)
                {
                    var store = await RunStoreAsync(backend, c, duration, scratch.FullName, writers, copyMinRows, commitDelay);
                    if (backend == "memory" || storeOnly)
                    {
                        // No storage at all: the ceiling of the queue, group commit and rollup code.
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  {backend,-8} x{c,-4} store {store.PerSecond,10:N0}/s (p50 {store.P50Ms:N1} ms, p99 {store.P99Ms:N1} ms)"));
                        if (store.DatabaseMicrosecondsPerAppend is { } db)
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"           CPU per append: store process {store.ProcessMicrosecondsPerAppend:N1} µs, PostgreSQL {db:N1} µs"));
                        rows.Add(new JsonObject { ["concurrency"] = c, ["store"] = store.ToJson() });
                        continue;
                    }
                    var naive = await RunBaselineAsync(backend, c, duration, scratch.FullName);
                    var ratio = store.PerSecond / naive.PerSecond;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {backend,-8} x{c,-4} store {store.PerSecond,10:N0}/s (p50 {store.P50Ms:N1} ms, p99 {store.P99Ms:N1} ms)   one-INSERT-per-row {naive.PerSecond,9:N0}/s (p50 {naive.P50Ms:N1} ms)   ratio {ratio:N1}x"));
                    rows.Add(new JsonObject
                    {
                        ["concurrency"] = c,
                        ["store"] = store.ToJson(),
                        ["baseline"] = naive.ToJson(),
                        ["ratio"] = Math.Round(ratio, 2),
                    });
                }
                results[backend] = rows;
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try
            {
                scratch.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean up.
            }
        }
        // Other work on the machine skews absolute figures; the ratios are taken side by side.
        if (File.Exists("/proc/loadavg"))
        {
            results["loadAverageAtEnd"] = File.ReadAllText("/proc/loadavg").Trim();
        }
        BenchResults.Write("history", results);
        return 0;
    }


    private static async Task<string> NewDatabaseAsync(string backend, string scratch) => backend switch
    {
        "postgres" => await (await PostgresServer.GetAsync()).CreateDatabaseAsync("bench_history"),
        "sqlite" => "Data Source=" + Path.Combine(scratch, Guid.NewGuid().ToString("N") + ".db"),
        "memory" => string.Empty,
        _ => throw new ArgumentException($"unknown backend '{backend}'; use postgres, sqlite or memory"),
    };

    private static TelemetryRecord Message(int appender, int concurrency, long i, DateTimeOffset now)
    {
        // Each appender owns the devices d with d % concurrency == appender; seq grows per device.
        var perAppender = Math.Max(1, Devices / concurrency);
        var device = appender + (int)(i % perAppender) * concurrency;
        var seq = (uint)(i / perAppender + 1);
        var school = device % 50;
        return new TelemetryRecord
        {
            SchoolId = "s" + school.ToString("D2", CultureInfo.InvariantCulture),
            RoomId = "r" + (device % 40).ToString(CultureInfo.InvariantCulture),
            DeviceId = "m" + device.ToString(CultureInfo.InvariantCulture),
            Kind = "energy",
            Boot = 1,
            Seq = seq,
            DeviceTime = now,
            ReceivedAt = now,
            EnergyKwh = seq * 0.01,
            PowerW = 500 + (seq % 100),
            VoltageV = 229.5,
            CurrentA = 2.2,
        };
    }

    private static async Task<Run> RunStoreAsync(string backend, int concurrency, TimeSpan duration, string scratch, int writers, int copyMinRows, TimeSpan commitDelay)
    {
        var options = new HistoryOptions
        {
            Writers = writers,
            CommitDelay = commitDelay,
            PostgresCopyMinRows = copyMinRows,
            Provider = backend switch { "postgres" => HistoryProvider.Postgres, "memory" => HistoryProvider.InMemory, _ => HistoryProvider.Sqlite },
            ConnectionString = await NewDatabaseAsync(backend, scratch),
        };
        await using var store = HistoryStoreFactory.Create(options, TimeProvider.System, NullLoggerFactory.Instance);
        await store.InitializeAsync();
        var dbPort = backend == "postgres" && new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString).Port is var port and > 0 ? port : (int?)null;
        var db0 = dbPort is { } p0 ? ProcessCpu.OfPostgres(p0) : null;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var run = await MeasureAsync(concurrency, duration, async (appender, i) =>
        {
            await store.AppendAsync(Message(appender, concurrency, i, DateTimeOffset.UtcNow));
        });
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        var db = db0 is { } d0 && ProcessCpu.OfPostgres(dbPort!.Value) is { } d1 ? d1 - d0 : (double?)null;
        // (The measured CPU includes the few warm-up appends per appender; negligible against the run.)
        return run with
        {
            ProcessMicrosecondsPerAppend = run.Count > 0 ? cpu * 1e6 / run.Count : null,
            DatabaseMicrosecondsPerAppend = db is { } x && run.Count > 0 ? x * 1e6 / run.Count : null,
        };
    }

    private static async Task<Run> RunBaselineAsync(string backend, int concurrency, TimeSpan duration, string scratch)
    {
        var database = await NewDatabaseAsync(backend, scratch);
        // Same schema as the store's (created by it), then plain inserts beside it.
        var options = new HistoryOptions { Provider = backend == "postgres" ? HistoryProvider.Postgres : HistoryProvider.Sqlite, ConnectionString = database };
        await using (var schema = HistoryStoreFactory.Create(options, TimeProvider.System, NullLoggerFactory.Instance))
        {
            await schema.InitializeAsync();
        }
        const string insert = "INSERT INTO telemetry (device, boot, seq, school, room, kind, device_time, received_at, energy_kwh, power_w, voltage_v, current_a) "
            + "VALUES (@device, @boot, @seq, @school, @room, @kind, @device_time, @received_at, @energy_kwh, @power_w, @voltage_v, @current_a) ON CONFLICT DO NOTHING";
        var commands = new System.Data.Common.DbCommand[concurrency];
        var connections = new System.Data.Common.DbConnection[concurrency];
        for (var a = 0; a < concurrency; a++)
        {
            connections[a] = backend == "postgres"
                ? new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString)
                : new SqliteConnection(database + ";Default Timeout=60");
            await connections[a].OpenAsync();
            if (backend == "sqlite")
            {
                await using var pragma = connections[a].CreateCommand();
                pragma.CommandText = "PRAGMA synchronous=FULL";
                await pragma.ExecuteNonQueryAsync();
            }
            var cmd = connections[a].CreateCommand();
            cmd.CommandText = insert;
            foreach (var name in new[] { "device", "boot", "seq", "school", "room", "kind", "device_time", "received_at", "energy_kwh", "power_w", "voltage_v", "current_a" })
            {
                var p = cmd.CreateParameter();
                p.ParameterName = name;
                p.Value = DBNull.Value;
                cmd.Parameters.Add(p);
            }
            commands[a] = cmd;
        }
        try
        {
            return await MeasureAsync(concurrency, duration, async (appender, i) =>
            {
                var r = Message(appender, concurrency, i, DateTimeOffset.UtcNow);
                var cmd = commands[appender];
                cmd.Parameters[0].Value = r.DeviceId;
                cmd.Parameters[1].Value = (long)r.Boot;
                cmd.Parameters[2].Value = (long)r.Seq;
                cmd.Parameters[3].Value = r.SchoolId;
                cmd.Parameters[4].Value = r.RoomId;
                cmd.Parameters[5].Value = r.Kind;
                cmd.Parameters[6].Value = r.DeviceTime!.Value.ToUnixTimeMilliseconds();
                cmd.Parameters[7].Value = r.ReceivedAt.ToUnixTimeMilliseconds();
                cmd.Parameters[8].Value = r.EnergyKwh!.Value;
                cmd.Parameters[9].Value = r.PowerW!.Value;
                cmd.Parameters[10].Value = r.VoltageV!.Value;
                cmd.Parameters[11].Value = r.CurrentA!.Value;
                await cmd.ExecuteNonQueryAsync();
            });
        }
        finally
        {
            for (var a = 0; a < concurrency; a++)
            {
                await commands[a].DisposeAsync();
                await connections[a].DisposeAsync();
            }
        }
    }

    /// <summary>Runs <paramref name="concurrency"/> appenders, each awaiting its append before the next, for the duration.</summary>
    private static async Task<Run> MeasureAsync(int concurrency, TimeSpan duration, Func<int, long, Task> append)
    {
        // Warm-up: a few appends per appender (connections, JIT, prepared statements).
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async a =>
        {
            for (long i = 0; i < 3; i++)
            {
                await append(a, i);
            }
        }));
        var latencies = new List<double>[concurrency];
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        var counts = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(a => Task.Run(async () =>
        {
            var mine = latencies[a] = new List<double>(4096);
            long i = 3;
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var t0 = Stopwatch.GetTimestamp();
                await append(a, i++);
                mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            return i - 3;
        })));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new Run(counts.Sum(), elapsed, Percentile(all, 0.50), Percentile(all, 0.99));
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private sealed record Run(long Count, double Seconds, double P50Ms, double P99Ms)
    {
        public double PerSecond => Count / Seconds;
        public double? ProcessMicrosecondsPerAppend { get; init; }
        public double? DatabaseMicrosecondsPerAppend { get; init; }

        public JsonObject ToJson() => new()
        {
            ["appends"] = Count,
            ["seconds"] = Math.Round(Seconds, 2),
            ["perSecond"] = Math.Round(PerSecond),
            ["p50Ms"] = Math.Round(P50Ms, 2),
            ["p99Ms"] = Math.Round(P99Ms, 2),
            ["processCpuMicrosecondsPerAppend"] = ProcessMicrosecondsPerAppend is { } p ? Math.Round(p, 1) : null,
            ["postgresCpuMicrosecondsPerAppend"] = DatabaseMicrosecondsPerAppend is { } d ? Math.Round(d, 1) : null,
        };
    }
}
