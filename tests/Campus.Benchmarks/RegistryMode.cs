using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.Testing;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using static Campus.Benchmarks.BenchArgs;

namespace Campus.Benchmarks;

/// <summary>
/// <c>registry [--devices 250000] [--schools 250] [--callers 8]</c>: registers N devices one by one
/// through the registry grain of a whole in-process controller (grain storage in memory, JSON
/// serialised on every write, as the database providers do), then changes one device (credential
/// rotation). Baseline in the same command: the registry as one state document, i.e. the write of
/// the whole registration that each change used to cost, measured at growing sizes on the same
/// storage; its registration total is the sum of those writes (integrated over the sizes).
/// </summary>
internal sealed class RegistryMode : IBenchmarkMode
{
    public string Name => "registry";
    public string Description => "register N devices, then change one, vs the registry as one document [--devices 250000] [--schools 250]";

    public async Task<int> RunAsync(string[] args)
    {
        var devices = int.Parse(Arg(args, "--devices", "250000"), CultureInfo.InvariantCulture);
        var schools = int.Parse(Arg(args, "--schools", "250"), CultureInfo.InvariantCulture);
        var callers = int.Parse(Arg(args, "--callers", "8"), CultureInfo.InvariantCulture);
        Console.WriteLine($"registry: {devices:N0} devices in {schools} schools, {callers} concurrent callers");

        await using var cluster = await CampusTestCluster.StartAsync();
        var registry = cluster.Registry;
        for (var s = 0; s < schools; s++)
        {
            await cluster.AddSchoolAsync(SchoolId(s));
            await cluster.AddRoomAsync(SchoolId(s), "r1");
        }

        // After: one shard per change.
        var sw = Stopwatch.StartNew();
        var next = -1;
        var done = 0;
        var workers = Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < devices)
            {
                await registry.CreateDevice(new DeviceSpec(SchoolId(i % schools), "r1", i % 10 == 0 ? DeviceKind.Door : DeviceKind.Energy, DeviceId(i)), "bench");
                var d = Interlocked.Increment(ref done);
                if (d % 25_000 == 0) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {d:N0} registered ({sw.Elapsed.TotalSeconds:N1} s)"));
            }
        })).ToArray();
        await Task.WhenAll(workers);
        sw.Stop();
        var registerSeconds = sw.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  after: {devices:N0} devices registered in {registerSeconds:N1} s ({devices / registerSeconds:N0}/s)"));

        var changes = new List<double>();
        for (var k = 0; k < 21; k++)
        {
            var t = Stopwatch.StartNew();
            await registry.RotateCredentials(DeviceId((k * 7919) % devices), "bench");
            changes.Add(t.Elapsed.TotalMilliseconds);
        }
        var changeMs = Median(changes);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  after: one device changed at {devices:N0} devices in {changeMs:N2} ms (median of {changes.Count})"));

        // Baseline: the whole registration as one state document, written per change, on the same storage.
        var storage = cluster.Services.GetRequiredKeyedService<IGrainStorage>(GrainStorageNames.Default);
        var sizes = new[] { devices / 16, devices / 8, devices / 4, devices / 2, devices }.Where(n => n > 0).Distinct().ToArray();
        var writeMs = new Dictionary<int, double>();
        var document = new RegistryState();
        var filled = 0;
        var sample = (await registry.ListDevices(SchoolId(0)))[0];
        var now = DateTimeOffset.UtcNow;
        var state = new GrainState<RegistryState>(document);
        foreach (var size in sizes)
        {
            for (; filled < size; filled++)
                document.Devices[DeviceId(filled)] = new DeviceRecord(sample with { Id = DeviceId(filled), School = SchoolId(filled % schools) }, "hash-of-32-bytes-in-base64-xxxxxxxxxxxx=", "salt-16-bytes-base64x==", "key-of-32-bytes-in-base64-xxxxxxxxxxxxxxx=", now);
            var times = new List<double>();
            for (var k = 0; k < 5; k++)
            {
                var t = Stopwatch.StartNew();
                await storage.WriteStateAsync("bench-registry-one-document", new GrainId("bench", "registry"), state);
                times.Add(t.Elapsed.TotalMilliseconds);
            }
            writeMs[size] = Median(times);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  baseline: one-document write at {size:N0} devices: {writeMs[size]:N1} ms"));
        }
        // Each registration i wrote the document of i devices: integrate the measured write time over the sizes (trapezoids, from 0).
        double baselineWritesSeconds = 0;
        var (prevSize, prevMs) = (0, 0.0);
        foreach (var size in sizes)
        {
            baselineWritesSeconds += (size - prevSize) * (prevMs + writeMs[size]) / 2 / 1000;
            (prevSize, prevMs) = (size, writeMs[size]);
        }
        var baselineRegisterSeconds = registerSeconds + baselineWritesSeconds; // at least: the other costs of a registration stay
        var baselineChangeMs = changeMs + writeMs[devices];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  baseline: registering {devices:N0} devices >= {baselineRegisterSeconds:N0} s (of which {baselineWritesSeconds:N0} s rewriting the document); one change >= {baselineChangeMs:N1} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  ratio before/after: registration x{baselineRegisterSeconds / registerSeconds:N1}, one change x{baselineChangeMs / changeMs:N0}"));

        BenchResults.Write("registry", new JsonObject
        {
            ["command"] = $"dotnet run -c Release --project tests/Campus.Benchmarks -- registry --devices {devices} --schools {schools} --callers {callers}",
            ["storage"] = "in-memory grain storage (JSON serialised on every write)",
            ["devices"] = devices,
            ["schools"] = schools,
            ["after"] = new JsonObject
            {
                ["layout"] = $"head document + shards (devices {RegistryGrain.DeviceShards}, people {RegistryGrain.PeopleShards}, rooms {RegistryGrain.RoomShards})",
                ["registerSeconds"] = Math.Round(registerSeconds, 2),
                ["registrationsPerSecond"] = Math.Round(devices / registerSeconds),
                ["changeOneDeviceMs"] = Math.Round(changeMs, 3),
            },
            ["baseline"] = new JsonObject
            {
                ["layout"] = "one document with every registration, rewritten per change",
                ["documentWriteMsBySize"] = new JsonObject(writeMs.Select(kv => KeyValuePair.Create(kv.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)Math.Round(kv.Value, 2)))),
                ["registerSecondsAtLeast"] = Math.Round(baselineRegisterSeconds, 1),
                ["changeOneDeviceMsAtLeast"] = Math.Round(baselineChangeMs, 2),
                ["note"] = "registration total = measured registration + the integral of the measured one-document write over the registry's size; one change = measured change + one one-document write at full size",
            },
            ["ratioBeforeOverAfter"] = new JsonObject
            {
                ["register"] = Math.Round(baselineRegisterSeconds / registerSeconds, 1),
                ["changeOneDevice"] = Math.Round(baselineChangeMs / changeMs, 1),
            },
        });
        return 0;
    }

    private static string SchoolId(int s) => "s" + s.ToString("D3", CultureInfo.InvariantCulture);
    private static string DeviceId(int i) => "d" + i.ToString("D7", CultureInfo.InvariantCulture);

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

}
