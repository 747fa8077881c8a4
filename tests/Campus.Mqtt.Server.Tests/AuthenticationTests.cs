using System.Globalization;
using Campus.Mqtt.Server.Security;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

public sealed class AuthenticationTests : IDisposable
{
    private readonly TempDirectory _temp = TempDirectory.Create("campus-mqtt-test-");

    public void Dispose() => _temp.Dispose();

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private async Task<string> MosquittoPasswdFileAsync(params (string User, string Password)[] users)
    {
        var path = _temp.File("passwd", "");
        foreach (var (user, password) in users)
        {
            var run = await ExternalProcess.RunAsync("mosquitto_passwd", ["-b", path, user, password]);
            Assert.True(run.ExitCode == 0, run.Error + run.Output);
        }
        return path;
    }

    [Fact]
    public async Task Password_file_made_by_mosquitto_passwd_is_accepted()
    {
        var passwd = await MosquittoPasswdFileAsync(("gateway-s01", "s3cret-pass"), ("dashboard", "other"));
        Assert.StartsWith("gateway-s01:$7$", File.ReadAllLines(passwd)[0], StringComparison.Ordinal);
        await using var server = await TestBroker.StartAsync(o => { o.PasswordFile = passwd; o.AllowAnonymous = false; });

        await using var sub = ExternalProcess.Start("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", P(server.Port), "-u", "dashboard", "-P", "other", "-i", "dash", "-t", "t/#", "-C", "1"]);
        await Poll.UntilAsync(() => server.Core.TryGetSession("dash", out var s) && s!.SubscriptionCount == 1, "the subscriber is in");
        var pub = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", P(server.Port), "-u", "gateway-s01", "-P", "s3cret-pass", "-t", "t/1", "-m", "hi"]);
        Assert.True(pub.ExitCode == 0, pub.Error);
        Assert.Equal(0, await sub.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(["hi"], sub.OutputLines);
    }

    [Fact]
    public async Task Wrong_password_is_refused_with_connack_4_and_mosquitto_pub_fails()
    {
        var passwd = await MosquittoPasswdFileAsync(("gateway-s01", "right"));
        var logger = new CapturingLogger();
        await using var server = await TestBroker.StartAsync(o => { o.PasswordFile = passwd; o.AllowAnonymous = false; }, logger);
        using var metrics = new MetricCapture(server.Meter);

        var pub = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", P(server.Port), "-u", "gateway-s01", "-P", "wrong", "-t", "t", "-m", "x"]);
        Assert.NotEqual(0, pub.ExitCode);
        Assert.Contains("bad user name or password", pub.Error + pub.Output, StringComparison.OrdinalIgnoreCase);

        await using var raw = await RawMqttClient.OpenAsync(server.Port);
        var connAck = await raw.SendConnectAsync("intruder", userName: "gateway-s01", password: "wrong");
        Assert.Equal(MqttConnectReturnCode.BadUserNameOrPassword, connAck.ConnectReturnCode);
        await raw.Closed.WaitAsync(TimeSpan.FromSeconds(10));

        await using var unknown = await RawMqttClient.OpenAsync(server.Port);
        Assert.Equal(MqttConnectReturnCode.BadUserNameOrPassword, (await unknown.SendConnectAsync("x", userName: "nobody", password: "right")).ConnectReturnCode);
        Assert.True(metrics["campus.mqtt.broker.rejected[reason=auth]"] >= 3);
        Assert.True(logger.Contains("intruder", "BadUserNameOrPassword"), logger.Dump());
    }

    [Fact]
    public async Task Anonymous_client_is_refused_with_connack_5_unless_allowed()
    {
        await using var closed = await TestBroker.StartAsync(o => o.AllowAnonymous = false);
        await using (var raw = await RawMqttClient.OpenAsync(closed.Port))
            Assert.Equal(MqttConnectReturnCode.NotAuthorized, (await raw.SendConnectAsync("anon")).ConnectReturnCode);
        var pub = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", P(closed.Port), "-t", "t", "-m", "x"]);
        Assert.NotEqual(0, pub.ExitCode);

        await using var open = await TestBroker.StartAsync(o => o.AllowAnonymous = true);
        await using var ok = await RawMqttClient.OpenAsync(open.Port);
        Assert.Equal(MqttConnectReturnCode.Accepted, (await ok.SendConnectAsync("anon")).ConnectReturnCode);
    }

    [Fact]
    public async Task Validating_hook_can_refuse_a_client_the_password_file_would_accept()
    {
        await using var server = await TestBroker.StartAsync();
        server.ValidatingConnectionAsync += e =>
        {
            if (e.ClientId.StartsWith("banned-", StringComparison.Ordinal)) e.ReasonCode = MqttConnectReturnCode.NotAuthorized;
            return Task.CompletedTask;
        };
        await using var banned = await RawMqttClient.OpenAsync(server.Port);
        Assert.Equal(MqttConnectReturnCode.NotAuthorized, (await banned.SendConnectAsync("banned-1")).ConnectReturnCode);
        await using var fine = await RawMqttClient.OpenAsync(server.Port);
        Assert.Equal(MqttConnectReturnCode.Accepted, (await fine.SendConnectAsync("device-1")).ConnectReturnCode);
    }

    [Fact]
    public async Task Passwd_entries_written_by_us_are_accepted_by_mosquitto_and_by_us()
    {
        var path = _temp.File("passwd");
        PasswordFile.AddOrReplace(path, "kit-7", "first");
        PasswordFile.AddOrReplace(path, "kit-7", "maker-pass");
        PasswordFile.AddOrReplace(path, "kit-8", "other");
        var text = File.ReadAllText(path);
        Assert.DoesNotContain("maker-pass", text, StringComparison.Ordinal);
        Assert.Equal(2, File.ReadAllLines(path).Length);

        var loaded = PasswordFile.Load(path);
        Assert.True(loaded.Verify("kit-7", "maker-pass"u8));
        Assert.False(loaded.Verify("kit-7", "first"u8));

        await using var mosquitto = await MosquittoServer.StartAsync(new MosquittoOptions { AllowAnonymous = false, PasswordFile = path });
        var good = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", P(mosquitto.Port), "-u", "kit-7", "-P", "maker-pass", "-t", "t", "-m", "x"]);
        Assert.True(good.ExitCode == 0, good.Error + mosquitto.Log);
        var bad = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", P(mosquitto.Port), "-u", "kit-7", "-P", "first", "-t", "t", "-m", "x"]);
        Assert.NotEqual(0, bad.ExitCode);
    }
}
