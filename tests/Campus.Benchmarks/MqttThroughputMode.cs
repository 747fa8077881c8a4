using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Campus.Mqtt;
using Campus.Testing;

namespace Campus.Benchmarks;

/// <summary>
/// <c>mqtt [--seconds N] [--publishers N]</c>: several publishers, one subscriber, small
/// messages, QoS 0 then QoS 1, through our broker and through Mosquitto (both in their own
/// process, same settings, same clients, same run); prints messages/s and the ratio.
/// </summary>
internal sealed class MqttThroughputMode : IBenchmarkMode
{
    private const int MaxQueued = 100_000;
    private const int MaxInflight = 100;

    public string Name => "mqtt";
    public string Description => "MQTT fan-in throughput, our broker vs Mosquitto [--seconds N] [--publishers N]";

    public async Task<int> RunAsync(string[] args)
    {
        var seconds = MqttBenchArgs.Int(args, "--seconds", 10);
        var publishers = MqttBenchArgs.Int(args, "--publishers", 4);
        Console.WriteLine($"mqtt fan-in: {publishers} publishers -> 1 subscriber, {seconds} s per case (+1 s warm-up), in-flight window {MaxInflight}, queue {MaxQueued}");

        var results = new JsonObject { ["seconds"] = seconds, ["publishers"] = publishers, ["payloadBytes"] = 25 };
        var cases = new JsonArray();
        foreach (var qos in new[] { MqttQualityOfServiceLevel.AtMostOnce, MqttQualityOfServiceLevel.AtLeastOnce })
        {
            (double Rate, double PerCpuSecond) ours, theirs;
            await using (var broker = await MqttBrokerChild.StartAsync(MaxQueued, MaxInflight))
                ours = await RunCaseAsync("campus", broker.Port, broker.ProcessId, qos, publishers, seconds, cases);
            await using (var mosquitto = await MosquittoServer.StartAsync(new MosquittoOptions
            {
                Persistence = false,
                ExtraConfig = $"max_inflight_messages {MaxInflight}",
            }))
            {
                theirs = await RunCaseAsync("mosquitto", mosquitto.Port, ProcessStats.FindByCommandLine("mosquitto", mosquitto.ConfigFile), qos, publishers, seconds, cases);
            }
            var ratio = ours.Rate / theirs.Rate;
            var cpuRatio = ours.PerCpuSecond / theirs.PerCpuSecond;
            Console.WriteLine($"QoS {(int)qos}: ours {ours.Rate:N0} msg/s, Mosquitto {theirs.Rate:N0} msg/s, ratio ours/Mosquitto {ratio:0.00}; " +
                $"per broker CPU-second ours {ours.PerCpuSecond:N0}, Mosquitto {theirs.PerCpuSecond:N0}, ratio {cpuRatio:0.00}");
            results[$"qos{(int)qos}Ratio"] = Math.Round(ratio, 3);
            results[$"qos{(int)qos}RatioPerBrokerCpuSecond"] = Math.Round(cpuRatio, 3);
        }
        results["cases"] = cases;
        BenchResults.Write("mqtt", results);
        return 0;
    }

    /// <summary>Runs one case; returns messages/s received and messages per CPU-second the broker process used
    /// (the second does not depend on how busy the rest of the machine is).</summary>
    private static async Task<(double Rate, double PerCpuSecond)> RunCaseAsync(string broker, int port, int brokerPid, MqttQualityOfServiceLevel qos, int publisherCount, int seconds, JsonArray cases)
    {
        var label = $"{broker} qos{(int)qos}";
        var run = Guid.NewGuid().ToString("N")[..6];
        using var stop = new CancellationTokenSource();
        var subSocket = await MqttBenchClients.SubscribeAsync(port, $"bench-sub-{run}", "bench/#", qos);
        var subscriber = new MqttBenchClients.Subscriber(subSocket);
        var subTask = subscriber.RunAsync(stop.Token);

        var pubs = new List<(Socket Socket, MqttBenchClients.Publisher Publisher, Task Task)>();
        for (var i = 0; i < publisherCount; i++)
        {
            var s = await MqttBenchClients.ConnectAsync(port, $"bench-pub-{run}-{i}");
            var p = new MqttBenchClients.Publisher(s, $"bench/p{i}", qos);
            pubs.Add((s, p, Task.Run(() => p.RunAsync(stop.Token))));
        }

        await Task.Delay(TimeSpan.FromSeconds(1)); // warm-up
        var startReceived = subscriber.Received;
        var startSent = SumSent(pubs);
        var startCpu = ProcessStats.CpuSeconds(brokerPid);
        var clock = Stopwatch.StartNew();
        for (var s = 1; s <= seconds; s++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var rate = (subscriber.Received - startReceived) / clock.Elapsed.TotalSeconds;
            Console.WriteLine($"  {label,-14} {s,3}/{seconds} s  received {subscriber.Received - startReceived,12:N0}  ({rate,12:N0} msg/s)");
        }
        var elapsed = clock.Elapsed.TotalSeconds;
        var received = subscriber.Received - startReceived;
        var sent = SumSent(pubs) - startSent;
        var cpu = ProcessStats.CpuSeconds(brokerPid) - startCpu;
        await stop.CancelAsync();
        foreach (var p in pubs) p.Socket.Dispose();
        subSocket.Dispose();
        await Task.WhenAll(pubs.Select(p => p.Task).Append(subTask)).WaitAsync(TimeSpan.FromSeconds(10));

        var perSecond = received / elapsed;
        cases.Add(new JsonObject
        {
            ["broker"] = broker,
            ["qos"] = (int)qos,
            ["receivedPerSecond"] = Math.Round(perSecond),
            ["sentPerSecond"] = Math.Round(sent / elapsed),
            ["received"] = received,
            ["sent"] = sent,
            ["brokerCpuSeconds"] = Math.Round(cpu, 2),
            ["receivedPerBrokerCpuSecond"] = Math.Round(received / cpu),
        });
        return (perSecond, received / cpu);
    }

    private static long SumSent(List<(Socket Socket, MqttBenchClients.Publisher Publisher, Task Task)> pubs)
    {
        long sum = 0;
        foreach (var p in pubs) sum += p.Publisher.Sent;
        return sum;
    }
}

/// <summary>CPU time and command lines of processes, from /proc.</summary>
internal static class ProcessStats
{
    /// <summary>User + system CPU seconds the process has used.</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name (which is in parentheses and may hold spaces).
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / 100.0; // USER_HZ is 100 on Linux
    }

    public static int FindByCommandLine(string program, string argument)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains(argument, StringComparison.Ordinal) && cmdline.Contains(program, StringComparison.Ordinal)) return pid;
            }
            catch (IOException)
            {
                // Process gone.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours.
            }
        }
        throw new InvalidOperationException($"No {program} process with '{argument}' on its command line.");
    }
}

internal static class MqttBenchArgs
{
    public static int Int(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        if (i < 0) return fallback;
        if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v <= 0)
            throw new ArgumentException($"{name} needs a positive whole number.");
        return v;
    }
}
