using System.Globalization;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

public sealed class StandaloneBrokerTests
{
    private static string BrokerDll => Path.Combine(AppContext.BaseDirectory, "Campus.Mqtt.Broker.dll");

    [Fact]
    public async Task Standalone_broker_accepts_mosquitto_pub_and_stops_on_sigterm_with_exit_code_0()
    {
        var port = FreePort.Get();
        var p = port.ToString(CultureInfo.InvariantCulture);
        await using var broker = ExternalProcess.Start("dotnet", [BrokerDll, "--port", p, "--bind", "127.0.0.1", "--allow-anonymous"]);
        await FreePort.WaitUntilListeningAsync(port, TimeSpan.FromSeconds(30), "the standalone broker");
        await Poll.UntilAsync(() => broker.StandardOutput.Contains($"127.0.0.1:{p}", StringComparison.Ordinal), "it printed where it listens");

        await using var sub = ExternalProcess.Start("mosquitto_sub", ["-h", "127.0.0.1", "-p", p, "-t", "hello/#", "-C", "1", "-v"]);
        // mosquitto_sub has no "subscribed" signal; publish retained so the order does not matter.
        var pub = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", p, "-t", "hello/world", "-m", "hi", "-q", "1", "-r"]);
        Assert.True(pub.ExitCode == 0, pub.Error);
        Assert.Equal(0, await sub.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(["hello/world hi"], sub.OutputLines);

        await broker.TerminateAsync(TimeSpan.FromSeconds(15));
        Assert.True(broker.HasExited);
        Assert.Equal(0, broker.ExitCode);
        Assert.Contains("MQTT broker stopped", broker.StandardOutput + broker.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Passwd_subcommand_writes_a_hashed_entry_that_the_broker_accepts()
    {
        var dir = Directory.CreateTempSubdirectory("campus-passwd-").FullName;
        var file = Path.Combine(dir, "passwd");
        var run = await ExternalProcess.RunAsync("dotnet", [BrokerDll, "passwd", file, "gateway", "pa55word"], TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 0, run.Error);
        var line = Assert.Single(File.ReadAllLines(file));
        Assert.StartsWith("gateway:$7$101$", line, StringComparison.Ordinal);
        Assert.DoesNotContain("pa55word", line, StringComparison.Ordinal);
        Assert.True(Security.PasswordFile.Load(file).Verify("gateway", "pa55word"u8));
    }
}
