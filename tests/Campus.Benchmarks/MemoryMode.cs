using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Campus.Grains;
using Campus.Grains.Testing;
using static Campus.Benchmarks.BenchArgs;

namespace Campus.Benchmarks;

/// <summary>
/// <c>memory [--grains N] [--concurrency C]</c>: activates N device-like grains (persisted state of
/// two fields plus two live fields) and reports the managed heap after a full GC and the bytes
/// per activation. Target: 1,000,000 activations within 1 GiB.
/// </summary>
internal sealed class MemoryMode : IBenchmarkMode
{
    private const long TargetBytes = 1L << 30;

    public string Name => "memory";
    public string Description => "managed heap for N activated device-like grains [--grains 1000000] [--concurrency 64]";

    public async Task<int> RunAsync(string[] args)
    {
        var count = int.Parse(Arg(args, "--grains", "1000000"), CultureInfo.InvariantCulture);
        var concurrency = int.Parse(Arg(args, "--concurrency", "64"), CultureInfo.InvariantCulture);
        Console.WriteLine($"memory: activating {count:N0} device grains with {concurrency} concurrent callers");

        await using var runtime = await TestGrainRuntime.StartAsync(s => s.AddGrain<BenchDeviceGrain>());
        // Warm up code paths so JIT data does not count as activation memory.
        for (var i = 0; i < 1000; i++) await runtime.GrainFactory.GetGrain<IBenchDeviceGrain>("warm-" + i).Report(i);
        var before = FullGcHeap();

        var sw = Stopwatch.StartNew();
        var next = -1;
        var done = 0;
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await runtime.GrainFactory.GetGrain<IBenchDeviceGrain>("dev-" + i.ToString("D7", CultureInfo.InvariantCulture)).Report(i);
                var d = Interlocked.Increment(ref done);
                if (d % 100_000 == 0) Console.WriteLine($"  {d:N0} activated ({sw.Elapsed.TotalSeconds:N1} s)");
            }
        })).ToArray();
        await Task.WhenAll(workers);
        sw.Stop();

        // Finished calls leave the response-timeout queue at its next check (at most one second).
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var after = FullGcHeap();
        var activations = runtime.ActivationCount - 1000;
        var perActivation = (double)(after - before) / activations;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {activations:N0} activations in {sw.Elapsed.TotalSeconds:N1} s ({activations / sw.Elapsed.TotalSeconds:N0}/s)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  managed heap {after / 1048576.0:N1} MiB (before activating: {before / 1048576.0:N1} MiB), {perActivation:N0} bytes per activation"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  target <= 1 GiB for 1,000,000 activations: {(after <= TargetBytes && activations >= 1_000_000 ? "met" : activations < 1_000_000 ? "n/a (fewer grains)" : "NOT met")}"));

        BenchResults.Write("memory", new JsonObject
        {
            ["activations"] = activations,
            ["secondsToActivate"] = Math.Round(sw.Elapsed.TotalSeconds, 2),
            ["activationsPerSecond"] = Math.Round(activations / sw.Elapsed.TotalSeconds),
            ["managedHeapBytes"] = after,
            ["managedHeapBytesBefore"] = before,
            ["bytesPerActivation"] = Math.Round(perActivation),
            ["targetBytes"] = TargetBytes,
            ["targetMet"] = after <= TargetBytes && activations >= 1_000_000,
            ["grain"] = "IPersistentState<{double, int}> in memory storage plus two live fields",
        });
        GC.KeepAlive(runtime);
        return 0;
    }

    private static long FullGcHeap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

}
