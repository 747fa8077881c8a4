using System.Diagnostics;
using System.Globalization;
using Campus.Mqtt.Server;

namespace Campus.Benchmarks;

/// <summary>
/// Runs our broker in a child process (this same program, mode <c>mqtt-serve</c>), so that it
/// is measured like Mosquitto: its own process, its own memory, not sharing the clients' heap.
/// </summary>
internal sealed class MqttBrokerChild : IAsyncDisposable
{
    private readonly Process _process;

    private MqttBrokerChild(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public int ProcessId => _process.Id;

    public static async Task<MqttBrokerChild> StartAsync(int maxQueued, int maxInflight)
    {
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(MqttBrokerChild).Assembly.Location);
        foreach (var a in new[] { "mqtt-serve", "--max-queued", maxQueued.ToString(CultureInfo.InvariantCulture), "--max-inflight", maxInflight.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (line is null || !line.StartsWith("listening ", StringComparison.Ordinal))
            throw new InvalidOperationException($"The broker child did not start: {line}");
        return new MqttBrokerChild(process, int.Parse(line["listening ".Length..], CultureInfo.InvariantCulture));
    }

    /// <summary>Managed heap (after a full collection) and resident set of the child, in bytes.</summary>
    public async Task<(long Managed, long Resident)> MeasureMemoryAsync()
    {
        await _process.StandardInput.WriteLineAsync("mem");
        await _process.StandardInput.FlushAsync();
        var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var parts = line!.Split(' ');
        return (long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }
}

/// <summary>The child side: <c>mqtt-serve</c> runs the broker until standard input closes.</summary>
internal sealed class MqttServeMode : IBenchmarkMode
{
    public string Name => "mqtt-serve";
    public string Description => "(used by the mqtt modes) runs our broker until stdin closes";

    public async Task<int> RunAsync(string[] args)
    {
        var options = new MqttServerOptions { BindAddress = "127.0.0.1", Port = 0, AllowAnonymous = true };
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            if (args[i] == "--max-queued") options.MaxQueuedMessagesPerSession = value;
            else if (args[i] == "--max-inflight") options.MaxInflightMessagesPerSession = value;
        }
        await using var server = new MqttServer(options);
        await server.StartAsync();
        Console.WriteLine($"listening {server.Port}");
        while (await Console.In.ReadLineAsync() is { } command)
        {
            if (command == "mem")
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                using var self = Process.GetCurrentProcess();
                Console.WriteLine($"mem {GC.GetTotalMemory(false)} {self.WorkingSet64}");
            }
        }
        await server.StopAsync();
        return 0;
    }
}
