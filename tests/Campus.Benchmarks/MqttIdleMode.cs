using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Campus.Testing;

namespace Campus.Benchmarks;

/// <summary>
/// <c>mqtt-idle [--connections N]</c>: holds N idle MQTT connections to our broker and then to
/// Mosquitto, and reports the memory each broker process spends per connection.
/// </summary>
internal sealed class MqttIdleMode : IBenchmarkMode
{
    private const int ConnectionsPerSourceAddress = 25_000;

    public string Name => "mqtt-idle";
    public string Description => "memory per idle MQTT connection, our broker vs Mosquitto [--connections N]";

    public async Task<int> RunAsync(string[] args)
    {
        var requested = MqttBenchArgs.Int(args, "--connections", 15_000);
        var fdLimit = RaiseOpenFileLimit((ulong)requested + 2_000);
        // Client sockets live in this process and server sockets in the broker's: each needs one
        // file per connection, so the open-file limit caps what can be measured on this machine.
        var connections = fdLimit == 0 ? requested : (int)Math.Min((ulong)requested, fdLimit - 1_000);
        Console.WriteLine($"mqtt-idle: {connections:N0} idle connections per broker (open-file limit {fdLimit:N0})");
        if (connections < requested)
            Console.WriteLine($"  note: {requested:N0} asked for, but the open-file limit ({fdLimit:N0}, not raisable here) allows {connections:N0}");
        var results = new JsonObject { ["connections"] = connections, ["requestedConnections"] = requested, ["openFileLimit"] = fdLimit };

        await using (var ours = await MqttBrokerChild.StartAsync(maxQueued: 1000, maxInflight: 100))
        {
            var before = await ours.MeasureMemoryAsync();
            var sockets = await OpenIdleAsync(ours.Port, connections, "campus");
            var after = await ours.MeasureMemoryAsync();
            var managed = (after.Managed - before.Managed) / (double)connections;
            var resident = (after.Resident - before.Resident) / (double)connections;
            Console.WriteLine($"campus:    managed {managed:N0} B/connection, process (RSS) {resident:N0} B/connection");
            results["campus"] = new JsonObject
            {
                ["managedBytesPerConnection"] = Math.Round(managed),
                ["residentBytesPerConnection"] = Math.Round(resident),
                ["managedBytesBefore"] = before.Managed,
                ["managedBytesAfter"] = after.Managed,
                ["residentBytesBefore"] = before.Resident,
                ["residentBytesAfter"] = after.Resident,
            };
            Close(sockets);
        }

        await using (var mosquitto = await MosquittoServer.StartAsync(new MosquittoOptions { Persistence = false }))
        {
            var pid = ProcessStats.FindByCommandLine("mosquitto", mosquitto.ConfigFile);
            var before = ResidentBytes(pid);
            var sockets = await OpenIdleAsync(mosquitto.Port, connections, "mosquitto");
            await Task.Delay(500);
            var after = ResidentBytes(pid);
            var resident = (after - before) / (double)connections;
            Console.WriteLine($"mosquitto: process (RSS) {resident:N0} B/connection");
            results["mosquitto"] = new JsonObject
            {
                ["residentBytesPerConnection"] = Math.Round(resident),
                ["residentBytesBefore"] = before,
                ["residentBytesAfter"] = after,
            };
            Close(sockets);
        }
        BenchResults.Write("mqtt-idle", results);
        return 0;
    }

    private static async Task<Socket[]> OpenIdleAsync(int port, int count, string label)
    {
        var sockets = new Socket[count];
        var next = -1;
        var clock = Stopwatch.StartNew();
        var progress = Task.Run(async () =>
        {
            while (Volatile.Read(ref next) < count - 1)
            {
                await Task.Delay(1000);
                Console.WriteLine($"  {label}: {Math.Min(count, Volatile.Read(ref next) + 1):N0}/{count:N0} connected ({clock.Elapsed.TotalSeconds:0} s)");
            }
        });
        var workers = Enumerable.Range(0, 128).Select(async _ =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= count) return;
                // 127.0.0.2, 127.0.0.3, ...: each source address has its own range of ports.
                var source = new IPAddress(new byte[] { 127, 0, 0, (byte)(2 + i / ConnectionsPerSourceAddress) });
                sockets[i] = await MqttBenchClients.ConnectAsync(port, $"idle-{label}-{i.ToString(CultureInfo.InvariantCulture)}", source);
            }
        }).ToArray();
        await Task.WhenAll(workers);
        await progress;
        Console.WriteLine($"  {label}: {count:N0} connected in {clock.Elapsed.TotalSeconds:0.0} s");
        return sockets;
    }

    private static void Close(Socket[] sockets)
    {
        foreach (var s in sockets) s?.Dispose();
    }

    private static long ResidentBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException("VmRSS missing.");
    }

    /// <summary>Raises this process's open-file limit (children inherit it); returns the limit in force.</summary>
    private static ulong RaiseOpenFileLimit(ulong wanted)
    {
        const int RlimitNofile = 7;
        if (!OperatingSystem.IsLinux()) return 0;
        if (getrlimit(RlimitNofile, out var current) != 0) return 0;
        if (current.Current >= wanted) return current.Current;
        var raised = new RLimit { Current = wanted, Maximum = Math.Max(wanted, current.Maximum) };
        if (setrlimit(RlimitNofile, ref raised) == 0) return wanted;
        raised = new RLimit { Current = current.Maximum, Maximum = current.Maximum };
        return setrlimit(RlimitNofile, ref raised) == 0 ? current.Maximum : current.Current;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

#pragma warning disable SYSLIB1054 // two tiny libc calls; DllImport keeps the project free of unsafe code
    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out RLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref RLimit limit);
#pragma warning restore SYSLIB1054
}
