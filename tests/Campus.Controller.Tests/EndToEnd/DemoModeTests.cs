using System.Net.Http.Json;
using Campus.Controller.Hosting;
using Campus.Testing;
using Xunit.Abstractions;

namespace Campus.Controller.Tests.EndToEnd;

/// <summary>
/// The built host with <c>--demo</c>: it provisions the small district into its registry, runs
/// the simulated devices (real firmware) in-process against its embedded broker with the issued
/// credentials, and the controller ingests their telemetry.
/// </summary>
public sealed class DemoModeTests(ITestOutputHelper output)
{
    private static bool StartedLine(string line) =>
        line.StartsWith("Demo district 'Small test district'", StringComparison.Ordinal) && line.Contains("1 building(s), 3 rooms", StringComparison.Ordinal)
        && line.Contains("11 simulated devices", StringComparison.Ordinal);

    [Fact]
    public async Task Demo_mode_runs_the_small_district_whose_devices_connect_with_issued_credentials_and_send_telemetry()
    {
        using var dataDir = TempDirectory.Create("campus-demo-");
        var report = await RunDemoAsync(dataDir.Path, "--Campus:Storage:Provider=InMemory");
        Assert.Equal(0, report.Rejected);
    }

    [Fact]
    public async Task A_second_demo_run_on_the_kept_sqlite_database_is_a_new_boot_whose_messages_are_accepted()
    {
        using var dataDir = TempDirectory.Create("campus-demo-");
        var database = $"--Campus:Storage:SqlitePath={dataDir.File("campus.db")}";
        var first = await RunDemoAsync(dataDir.Path, "--Campus:Storage:Provider=Sqlite", database);
        var second = await RunDemoAsync(dataDir.Path, "--Campus:Storage:Provider=Sqlite", database);
        Assert.True(first.Accepted > 0 && second.Accepted > 0, $"both runs must be accepted: first {first}, second {second}");
        Assert.Equal(0, second.Duplicates);
        Assert.Equal(11, second.Devices);
    }

    /// <summary>Runs the demo host on <paramref name="dataDir"/>; the host process has ended when this returns.</summary>
    private async Task<ControllerHealthReport> RunDemoAsync(string dataDir, params string[] storage)
    {
        var mqttPort = FreePort.Get();
        var httpPort = FreePort.Get();
        await using var host = BuiltHost.StartDemo(dataDir, mqttPort, httpPort, storage);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        ControllerHealthReport? report = null;
        try
        {
            await Poll.UntilAsync(async () =>
            {
                if (host.HasExited) throw new InvalidOperationException($"The host exited: {host.StandardError}{host.StandardOutput}");
                try
                {
                    report = await http.GetFromJsonAsync<ControllerHealthReport>(new Uri($"http://127.0.0.1:{httpPort}/healthz"));
                }
                catch (HttpRequestException) { return false; }
                catch (TaskCanceledException) { return false; }
                return report is { Accepted: > 0, BrokerClients: 11, Devices: 11 } && host.OutputLines.Any(StartedLine);
            }, "the 11 simulated devices are connected, the controller accepted their telemetry and the host printed what it started", TimeSpan.FromSeconds(45));
        }
        finally
        {
            output.WriteLine($"last /healthz: {report}");
            output.WriteLine(host.StandardOutput);
        }

        await host.TerminateAsync(TimeSpan.FromSeconds(20));
        return report!;
    }
}
