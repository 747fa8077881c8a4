using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Campus.Contracts;
using Campus.Controller.Ingestion;
using Campus.Controller.Testing;
using static Campus.Benchmarks.BenchArgs;

namespace Campus.Benchmarks;

/// <summary>
/// <c>ingest-alloc [--devices 1000] [--rounds 50]</c>: managed bytes allocated per telemetry message
/// from the ingestor's entry (topic and payload as the broker hands them over) to the durable
/// acknowledgement, through a whole in-process controller (grain storage and history in memory).
/// Baseline in the same command: the same messages rejected by the ingestor before any grain
/// (an unregistered device), i.e. what the checks in front of the grains cost. The whole process's
/// allocations count, so the periodic device-state writes are set far beyond the run (an hour).
/// </summary>
internal sealed class IngestAllocMode : IBenchmarkMode
{
    public string Name => "ingest-alloc";
    public string Description => "bytes allocated per ingested telemetry message, in-process controller [--devices 1000] [--rounds 50]";

    public async Task<int> RunAsync(string[] args)
    {
        var devices = Arg(args, "--devices", 1_000);
        var rounds = Arg(args, "--rounds", 50);
        await using var cluster = await CampusTestCluster.StartAsync(configure: o => o.Settings["Campus:Controller:DeviceStateWriteInterval"] = "01:00:00");
        await cluster.AddSchoolAsync("s1");
        await cluster.AddRoomAsync("s1", "r1");
        var topics = new string[devices];
        var unknown = new string[devices];
        for (var i = 0; i < devices; i++)
        {
            var id = "m" + i.ToString("D5", CultureInfo.InvariantCulture);
            await cluster.AddDeviceAsync("s1", "r1", DeviceKind.Energy, id);
            topics[i] = $"campus/v1/s1/r1/energy/{id}/telemetry";
            unknown[i] = $"campus/v1/s1/r1/energy/x{id}/telemetry";
        }
        var ingestor = cluster.Ingestor;
        var seq = 0u;

        async Task<double> MeasureAsync(string[] to, int count, IngestDisposition expected)
        {
            // Payloads are made before the measurement: they are the broker's, not the ingestion's.
            var bodies = new byte[count][][];
            for (var r = 0; r < count; r++)
            {
                seq++;
                bodies[r] = new byte[to.Length][];
                var body = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"v\":1,\"boot\":1,\"seq\":{seq},\"ts\":0,\"energyKwh\":{seq * 0.001:0.000},\"powerW\":420}}"));
                for (var i = 0; i < to.Length; i++) bodies[r][i] = body;
            }
            var pending = new ValueTask<IngestDisposition>[to.Length];
            var sw = Stopwatch.StartNew();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            for (var r = 0; r < count; r++)
            {
                for (var i = 0; i < to.Length; i++) pending[i] = ingestor.IngestAsync(to[i], bodies[r][i], sender: null);
                foreach (var p in pending)
                {
                    var got = await p;
                    if (got != expected) throw new InvalidOperationException($"expected {expected}, got {got}");
                }
            }
            var after = GC.GetTotalAllocatedBytes(precise: true);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {count * to.Length:N0} messages in {sw.Elapsed.TotalSeconds:N1} s"));
            return (after - before) / (double)(count * to.Length);
        }

        await MeasureAsync(topics, 5, IngestDisposition.Done); // warm-up: activations, JIT
        using var sampler = args.Contains("--types") ? new AllocationSampler() : null;
        var ingested = await MeasureAsync(topics, rounds, IngestDisposition.Done);
        if (sampler is not null)
        {
            // The listener's own events were counted too: the figure is not written.
            sampler.Print();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ingested (with the sampling's own allocations): {ingested:N0} B/message; no figures written with --types"));
            return 0;
        }
        await MeasureAsync(unknown, 2, IngestDisposition.Rejected);
        var rejected = await MeasureAsync(unknown, rounds, IngestDisposition.Rejected);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ingested: {ingested:N0} B/message; rejected before the grains (baseline): {rejected:N0} B/message"));
        BenchResults.Write("ingest-alloc", new JsonObject
        {
            ["command"] = $"dotnet run -c Release --project tests/Campus.Benchmarks -- ingest-alloc --devices {devices} --rounds {rounds}",
            ["what"] = "managed bytes allocated per telemetry message, ingestor entry to durable result, in-process controller with in-memory storage",
            ["devices"] = devices,
            ["messages"] = devices * rounds,
            ["bytesPerIngestedMessage"] = Math.Round(ingested),
            ["baselineBytesPerRejectedMessage"] = Math.Round(rejected),
        });
        return 0;
    }
}

/// <summary>The runtime's allocation sampling (an event about every 100 KB, with the type allocated), summed per type.</summary>
internal sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
{
    private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null || e.PayloadNames is null) return;
        var type = e.Payload[e.PayloadNames.IndexOf("TypeName")] as string ?? "?";
        var amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")], CultureInfo.InvariantCulture);
        lock (_bytes) _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
    }

    public void Print()
    {
        lock (_bytes)
        {
            var total = _bytes.Values.Sum();
            foreach (var (type, bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(40))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {bytes * 100.0 / total,5:N1}%  {type}"));
        }
    }
}
