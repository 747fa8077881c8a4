using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Campus.Grains;
using Campus.Grains.Storage;
using Campus.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static Campus.Benchmarks.BenchArgs;

namespace Campus.Benchmarks;

/// <summary>
/// <c>grain-storage [--grains N] [--concurrency C] [--seconds S] [--paced-rate R] [--paced-seconds P] [--pool-warm W]</c>:
/// grain state writes into PostgreSQL through the grain storage (writes coalesced by one writer loop on a
/// connection of its own) against the way it wrote before, in the same run: one autocommitted UPDATE per
/// write on a pooled connection of the same data source. Each write is a WriteStateAsync of a ~500-byte
/// state with the right etag. Two loads: C callers writing as fast as they can for S seconds, and a paced
/// R writes/s for P seconds (10,000 devices checkpointing every 10 s make 1,000/s). Before each run, W
/// connections are opened at once and closed again, as the state reads of a startup burst of
/// activations leave the pool. Reported: writes/s, PostgreSQL CPU per write (all server processes,
/// from /proc), this process's CPU per write, latency.
/// </summary>
internal sealed class GrainStorageMode : IBenchmarkMode
{
    private const string StorageName = "bench";
    private const string StateName = "device";

    public string Name => "grain-storage";
    public string Description => "grain state writes/s and PostgreSQL CPU per write: coalesced vs one UPDATE per write [--grains N] [--concurrency C] [--seconds S] [--paced-rate R]";

    public async Task<int> RunAsync(string[] args)
    {
        var grains = Arg(args, "--grains", 10_000);
        var concurrency = Arg(args, "--concurrency", 64);
        var seconds = Arg(args, "--seconds", 20);
        var pacedRate = Arg(args, "--paced-rate", 1_000);
        var pacedSeconds = Arg(args, "--paced-seconds", 20);
        // The pool's size less the writer loop's own connection (Max Pool Size is 100 by default).
        var poolWarm = Arg(args, "--pool-warm", 99);
        var loadBefore = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null;

        var database = await (await PostgresServer.GetAsync()).CreateDatabaseAsync("bench_grains");
        var port = new NpgsqlConnectionStringBuilder(database).Port;
        // The grain host's own wiring: the storage and the data source it shares with the baseline.
        var services = new ServiceCollection();
        services.AddGrainRuntime();
        services.AddPostgresGrainStorage(StorageName, database);
        await using var provider = services.BuildServiceProvider();
        var storage = (PostgresGrainStorage)provider.GetRequiredKeyedService<IGrainStorage>(StorageName);
        var dataSource = PostgresDataSources.Get(provider, database);
        var serializer = new GrainStorageOptions().SerializerOptions;

        var ids = new GrainId[grains];
        var states = new GrainState<BenchState>[grains];
        for (var g = 0; g < grains; g++)
        {
            ids[g] = new GrainId("device", "dev-" + g.ToString("D5", CultureInfo.InvariantCulture));
            states[g] = new GrainState<BenchState>(BenchState.For(g));
        }
        var jsonBytes = JsonSerializer.SerializeToUtf8Bytes(states[0].State, serializer).Length;
        Console.WriteLine($"grain-storage: {grains:N0} grains, {jsonBytes} bytes of JSON per state, {concurrency} callers x {seconds} s, paced {pacedRate:N0}/s x {pacedSeconds} s, pool warmed to {poolWarm} before each run");
        Console.WriteLine($"  PostgreSQL {await ScalarAsync(dataSource, "SELECT current_setting('server_version') || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')")}");

        Console.WriteLine($"  seeding {grains:N0} states (first writes, inserts) ...");
        var seeded = await SaturateAsync(concurrency, TimeSpan.MaxValue, grains, (g) => storage.WriteStateAsync(StateName, ids[g], states[g]), stopAfterEachGrainOnce: true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  seeded in {seeded.Seconds:N1} s ({seeded.Writes / seeded.Seconds:N0}/s)"));

        Task Coalesced(int g) => storage.WriteStateAsync(StateName, ids[g], Touch(states[g]));
        Task Baseline(int g) => OneUpdatePerWriteAsync(dataSource, serializer, ids[g], Touch(states[g]));

        var runs = new List<(string Name, Func<Task<Run>> Measure)>
        {
            ("coalesced", () => MeasureAsync("coalesced", dataSource, port, poolWarm, storage, () => SaturateAsync(concurrency, TimeSpan.FromSeconds(seconds), grains, Coalesced))),
            ("one-update-per-write", () => MeasureAsync("one-update-per-write", dataSource, port, poolWarm, null, () => SaturateAsync(concurrency, TimeSpan.FromSeconds(seconds), grains, Baseline))),
            ("coalesced-paced", () => MeasureAsync("coalesced-paced", dataSource, port, poolWarm, storage, () => PacedAsync(pacedRate, TimeSpan.FromSeconds(pacedSeconds), grains, Coalesced))),
            ("one-update-per-write-paced", () => MeasureAsync("one-update-per-write-paced", dataSource, port, poolWarm, null, () => PacedAsync(pacedRate, TimeSpan.FromSeconds(pacedSeconds), grains, Baseline))),
        };
        var results = new Dictionary<string, Run>(StringComparer.Ordinal);
        foreach (var (name, measure) in runs)
        {
            var run = await measure();
            results[name] = run;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-27} {run.PerSecond,8:N0} writes/s{(run.WritesPerTick is { } t ? string.Create(CultureInfo.InvariantCulture, $" ({t:N1} started together)") : "")}   PostgreSQL {Micro(run.DatabaseMicrosecondsPerWrite)} µs CPU/write   this process {Micro(run.ProcessMicrosecondsPerWrite)} µs CPU/write   p50 {run.P50Ms:N2} ms, p99 {run.P99Ms:N2} ms{(run.AverageBatch is { } b ? string.Create(CultureInfo.InvariantCulture, $"   {b:N1} writes/batch") : "")}"));
        }

        var fast = results["coalesced"];
        var slow = results["one-update-per-write"];
        var pacedFast = results["coalesced-paced"];
        var pacedSlow = results["one-update-per-write-paced"];
        var throughputRatio = fast.PerSecond / slow.PerSecond;
        var cpuRatio = Ratio(slow.DatabaseMicrosecondsPerWrite, fast.DatabaseMicrosecondsPerWrite);
        var pacedCpuRatio = Ratio(pacedSlow.DatabaseMicrosecondsPerWrite, pacedFast.DatabaseMicrosecondsPerWrite);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  saturated: {throughputRatio:N2}x the writes/s, {cpuRatio:N2}x less PostgreSQL CPU per write; paced {pacedRate:N0}/s: {pacedCpuRatio:N2}x less PostgreSQL CPU per write"));

        var figures = new JsonObject
        {
            ["grains"] = grains,
            ["stateJsonBytes"] = jsonBytes,
            ["concurrency"] = concurrency,
            ["secondsPerRun"] = seconds,
            ["pacedRatePerSecond"] = pacedRate,
            ["pacedSeconds"] = pacedSeconds,
            ["poolWarmedTo"] = poolWarm,
            ["maxBatchSize"] = PostgresGrainStorage.MaxBatchSize,
            ["coalesced"] = "WriteStateAsync of the PostgreSQL grain storage: queued, one writer loop on its own connection, one multi-row UPDATE per round trip",
            ["baseline"] = "the former write: one autocommitted UPDATE ... WHERE version = expected per WriteStateAsync, on a pooled connection of the same data source",
            ["cpu"] = "PostgreSQL: utime+stime of the postmaster, its backends and the reaped ones (/proc/<pid>/stat), per write",
            ["saturated"] = new JsonObject
            {
                ["coalesced"] = fast.ToJson(),
                ["baseline"] = slow.ToJson(),
                ["throughputRatio"] = Math.Round(throughputRatio, 2),
                ["postgresCpuPerWriteRatio"] = cpuRatio is { } c ? Math.Round(c, 2) : null,
            },
            ["paced"] = new JsonObject
            {
                ["coalesced"] = pacedFast.ToJson(),
                ["baseline"] = pacedSlow.ToJson(),
                ["postgresCpuPerWriteRatio"] = pacedCpuRatio is { } p ? Math.Round(p, 2) : null,
            },
            ["loadAverageBefore"] = loadBefore,
            ["loadAverageAtEnd"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
        };
        BenchResults.Write("grain-storage", figures);
        return 0;
    }

    private static string Micro(double? us) => us is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "?";

    private static double? Ratio(double? baseline, double? coalesced) =>
        baseline is { } b && coalesced is { } c && c > 0 ? b / c : null;


    private static GrainState<BenchState> Touch(GrainState<BenchState> state)
    {
        var s = state.State;
        s.Readings++;
        s.Values[s.Readings % s.Values.Length] = 20 + (s.Readings % 100) * 0.05;
        s.LastSeen = s.LastSeen.AddSeconds(10);
        return state;
    }

    /// <summary>The former write, kept here as the baseline: one autocommitted UPDATE on a pooled connection.</summary>
    private static async Task OneUpdatePerWriteAsync(NpgsqlDataSource dataSource, JsonSerializerOptions serializer, GrainId id, GrainState<BenchState> state)
    {
        var json = JsonSerializer.Serialize(state.State, serializer);
        var expected = long.Parse(state.ETag!, CultureInfo.InvariantCulture);
        await using var cmd = dataSource.CreateCommand(
            "UPDATE grain_state SET version = version + 1, payload = $4, modified_utc = now() " +
            "WHERE grain_type = $1 AND grain_key = $2 AND state_name = $3 AND version = $5");
        cmd.Parameters.Add(new NpgsqlParameter { Value = id.Type });
        cmd.Parameters.Add(new NpgsqlParameter { Value = id.Key });
        cmd.Parameters.Add(new NpgsqlParameter { Value = StateName });
        cmd.Parameters.Add(new NpgsqlParameter { Value = json, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new NpgsqlParameter { Value = expected });
        if (await cmd.ExecuteNonQueryAsync() != 1)
            throw new InvalidOperationException($"baseline write of {id} met another version than {expected}");
        state.ETag = (expected + 1).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Warms the pool as a burst of activations would, then measures one run with the server's and this process's CPU.</summary>
    private static async Task<Run> MeasureAsync(string name, NpgsqlDataSource dataSource, int port, int poolWarm, PostgresGrainStorage? storage, Func<Task<Run>> run)
    {
        Console.WriteLine($"  {name}: warming the pool to {poolWarm} connections ...");
        var open = await Task.WhenAll(Enumerable.Range(0, poolWarm).Select(_ => dataSource.OpenConnectionAsync().AsTask()));
        foreach (var c in open) await c.DisposeAsync();
        // Settle the table, so that clean-up work left by the run before is not charged to this one.
        await using (var vacuum = dataSource.CreateCommand("VACUUM ANALYZE grain_state"))
            await vacuum.ExecuteNonQueryAsync();
        await using (var checkpoint = dataSource.CreateCommand("CHECKPOINT"))
            await checkpoint.ExecuteNonQueryAsync();
        var batches0 = storage?.Batches;
        var db0 = ProcessCpu.OfPostgres(port);
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var result = await run();
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        var db = db0 is { } d0 && ProcessCpu.OfPostgres(port) is { } d1 ? d1 - d0 : (double?)null;
        return result with
        {
            ProcessMicrosecondsPerWrite = result.Writes > 0 ? cpu * 1e6 / result.Writes : null,
            DatabaseMicrosecondsPerWrite = db is { } x && result.Writes > 0 ? x * 1e6 / result.Writes : null,
            AverageBatch = storage is not null && storage.Batches - batches0 is > 0 and var b ? (double)result.Writes / b : null,
        };
    }

    /// <summary>
    /// <paramref name="concurrency"/> callers, each writing its own grains (g % concurrency == caller) in
    /// turn and awaiting each write, until the time is up (or, seeding, each grain was written once).
    /// </summary>
    private static async Task<Run> SaturateAsync(int concurrency, TimeSpan duration, int grains, Func<int, Task> write, bool stopAfterEachGrainOnce = false)
    {
        var started = Stopwatch.GetTimestamp();
        var stopAt = duration == TimeSpan.MaxValue ? long.MaxValue : started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var latencies = new List<double>[concurrency];
        long done = 0;
        using var progress = Progress(() => Interlocked.Read(ref done), started);
        var counts = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(caller => Task.Run(async () =>
        {
            var mine = latencies[caller] = new List<double>(4096);
            long n = 0;
            for (var g = caller; Stopwatch.GetTimestamp() < stopAt; g += concurrency)
            {
                if (g >= grains)
                {
                    if (stopAfterEachGrainOnce) break;
                    g = caller;
                }
                var t0 = Stopwatch.GetTimestamp();
                await write(g);
                mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                n++;
                Interlocked.Increment(ref done);
            }
            return n;
        })));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new Run(counts.Sum(), elapsed, Percentile(all, 0.50), Percentile(all, 0.99));
    }

    /// <summary>Starts writes at <paramref name="rate"/> per second (grains in turn, each write on its own), for the duration.</summary>
    private static async Task<Run> PacedAsync(int rate, TimeSpan duration, int grains, Func<int, Task> write)
    {
        var latencies = new List<double>(rate * (int)Math.Ceiling(duration.TotalSeconds) + 16);
        var gate = new Lock();
        var inFlight = new List<Task>();
        long issued = 0, done = 0, ticks = 0;
        var failures = 0;
        var started = Stopwatch.GetTimestamp();
        using var progress = Progress(() => Interlocked.Read(ref done), started);
        var next = 0;
        while (true)
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed >= duration) break;
            var due = (long)(elapsed.TotalSeconds * rate) - issued;
            if (due > 0) ticks++;
            for (; due > 0; due--, issued++)
            {
                var g = next;
                next = (next + 1) % grains;
                inFlight.Add(Task.Run(async () =>
                {
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        await write(g);
                    }
                    catch (Exception e) when (e is NpgsqlException or InvalidOperationException or InconsistentStateException)
                    {
                        Interlocked.Increment(ref failures);
                        return;
                    }
                    var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    lock (gate) latencies.Add(ms);
                    Interlocked.Increment(ref done);
                }));
            }
            await Task.Delay(1);
        }
        await Task.WhenAll(inFlight);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (failures > 0) Console.WriteLine($"    {failures} paced writes failed");
        var all = latencies.Order().ToArray();
        return new Run(done, seconds, Percentile(all, 0.50), Percentile(all, 0.99)) { WritesPerTick = ticks > 0 ? (double)issued / ticks : null };
    }

    /// <summary>A line every 5 s while a run goes on.</summary>
    private static Timer Progress(Func<long> done, long started) =>
        new(_ => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    {Stopwatch.GetElapsedTime(started).TotalSeconds,5:N0} s: {done(),9:N0} writes")), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private static async Task<string?> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        return (string?)await cmd.ExecuteScalarAsync();
    }

    private sealed record Run(long Writes, double Seconds, double P50Ms, double P99Ms)
    {
        public double PerSecond => Writes / Seconds;
        public double? ProcessMicrosecondsPerWrite { get; init; }
        public double? DatabaseMicrosecondsPerWrite { get; init; }
        public double? AverageBatch { get; init; }
        /// <summary>Paced runs: writes started together at each wake-up of the pacing loop (about every millisecond).</summary>
        public double? WritesPerTick { get; init; }

        public JsonObject ToJson() => new()
        {
            ["writes"] = Writes,
            ["seconds"] = Math.Round(Seconds, 2),
            ["writesPerSecond"] = Math.Round(PerSecond),
            ["p50Ms"] = Math.Round(P50Ms, 2),
            ["p99Ms"] = Math.Round(P99Ms, 2),
            ["postgresCpuMicrosecondsPerWrite"] = DatabaseMicrosecondsPerWrite is { } d ? Math.Round(d, 1) : null,
            ["processCpuMicrosecondsPerWrite"] = ProcessMicrosecondsPerWrite is { } p ? Math.Round(p, 1) : null,
            ["writesPerBatch"] = AverageBatch is { } b ? Math.Round(b, 1) : null,
            ["writesStartedTogether"] = WritesPerTick is { } t ? Math.Round(t, 1) : null,
        };
    }

    /// <summary>A device grain's checkpoint: about 500 bytes of JSON.</summary>
    internal sealed class BenchState
    {
        public string Device { get; set; } = "";
        public string School { get; set; } = "";
        public string Room { get; set; } = "";
        public string Kind { get; set; } = "";
        public long Readings { get; set; }
        public DateTimeOffset LastSeen { get; set; }
        public double[] Values { get; set; } = [];

        public static BenchState For(int g) => new()
        {
            Device = "dev-" + g.ToString("D5", CultureInfo.InvariantCulture),
            School = "s" + (g % 50).ToString("D2", CultureInfo.InvariantCulture),
            Room = "r" + (g % 40).ToString(CultureInfo.InvariantCulture),
            Kind = "energy",
            LastSeen = new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero),
            Values = Enumerable.Range(0, 56).Select(i => 20 + i * 0.125 + g % 7).ToArray(),
        };
    }
}
