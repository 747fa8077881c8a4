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

    [Theory]
    [InlineData(null, "socket completions inline")]
    [InlineData("false", "socket completions on the thread pool")]
    public async Task Standalone_broker_runs_socket_completions_inline_unless_configured_off(string? setting, string expected)
    {
        Assert.True(Environment.GetEnvironmentVariable(Hosting.InlineSocketCompletions.Variable) is null,
            "the test process must not set the variable itself: the broker would inherit it");
        var port = FreePort.Get();
        var p = port.ToString(CultureInfo.InvariantCulture);
        string[] arguments = setting is null
            ? [BrokerDll, "--port", p, "--bind", "127.0.0.1", "--allow-anonymous"]
            : [BrokerDll, "--port", p, "--bind", "127.0.0.1", "--allow-anonymous", "--inline-socket-completions", setting];
        await using var broker = ExternalProcess.Start("dotnet", arguments);
        await Poll.UntilAsync(() => broker.HasExited || broker.StandardOutput.Contains("Ctrl+C stops it.", StringComparison.Ordinal), "it printed its start line", TimeSpan.FromSeconds(30));
        Assert.False(broker.HasExited, broker.StandardError + broker.StandardOutput);
        Assert.Contains(expected, broker.StandardOutput, StringComparison.Ordinal);
        await broker.TerminateAsync(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Passwd_subcommand_writes_a_hashed_entry_that_the_broker_accepts()
    {
        using var dir = TempDirectory.Create("campus-passwd-");
        var file = dir.File("passwd");
        var run = await ExternalProcess.RunAsync("dotnet", [BrokerDll, "passwd", file, "gateway", "pa55word"], TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 0, run.Error);
        var line = Assert.Single(File.ReadAllLines(file));
        Assert.StartsWith("gateway:$7$101$", line, StringComparison.Ordinal);
        Assert.DoesNotContain("pa55word", line, StringComparison.Ordinal);
        Assert.True(Security.PasswordFile.Load(file).Verify("gateway", "pa55word"u8));
    }

    [Fact]
    public async Task Standalone_broker_with_use_username_as_clientid_applies_client_id_patterns_to_the_user_name()
    {
        // Declared before the broker process, so deleted after it has ended.
        using var dir = TempDirectory.Create("campus-idflag-");
        var passwd = dir.File("passwd");
        Security.PasswordFile.AddOrReplace(passwd, "d1", "d1-pass");
        var acl = dir.File("acl");
        File.WriteAllText(acl, "pattern write campus/v1/s/r/door/%c/status\npattern read campus/v1/#\n");
        var port = FreePort.Get();
        var p = port.ToString(CultureInfo.InvariantCulture);
        await using var broker = ExternalProcess.Start("dotnet",
            [BrokerDll, "--port", p, "--bind", "127.0.0.1", "--password-file", passwd, "--acl-file", acl, "--use-username-as-clientid"]);
        await FreePort.WaitUntilListeningAsync(port, TimeSpan.FromSeconds(30), "the standalone broker");

        // d1 claims client id "d2": its writes to d2's topic are dropped, to its own (by user name) kept.
        string[] common = ["-h", "127.0.0.1", "-p", p, "-u", "d1", "-P", "d1-pass", "-i", "d2", "-q", "1", "-r"];
        var forged = await ExternalProcess.RunAsync("mosquitto_pub", [.. common, "-t", "campus/v1/s/r/door/d2/status", "-m", "forged"]);
        Assert.True(forged.ExitCode == 0, forged.Error);
        var own = await ExternalProcess.RunAsync("mosquitto_pub", [.. common, "-t", "campus/v1/s/r/door/d1/status", "-m", "own"]);
        Assert.True(own.ExitCode == 0, own.Error);

        // Retained messages tell what was kept: subscribed to d2's topic first, a forged message
        // would arrive before d1's own one.
        var sub = await ExternalProcess.RunAsync("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", p, "-u", "d1", "-P", "d1-pass", "-t", "campus/v1/s/r/door/d2/status", "-t", "campus/v1/s/r/door/d1/status", "-v", "-C", "1"],
            TimeSpan.FromSeconds(30));
        Assert.True(sub.ExitCode == 0, sub.Error);
        Assert.Equal("campus/v1/s/r/door/d1/status own", sub.Output.Trim());
        await broker.TerminateAsync(TimeSpan.FromSeconds(15));
    }
}
