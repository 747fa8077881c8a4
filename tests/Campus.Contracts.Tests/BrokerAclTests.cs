using System.Globalization;
using Campus.Testing;

namespace Campus.Contracts.Tests;

public sealed class BrokerAclTests
{
    [Fact]
    public void Acl_file_has_the_documented_device_patterns_and_a_controller_section()
    {
        var acl = BrokerAcl.Build("controller");
        var lines = acl.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            [
                "pattern write campus/v1/+/+/+/%c/telemetry",
                "pattern write campus/v1/+/+/+/%c/status",
                "pattern write campus/v1/+/+/+/%c/event",
                "pattern write campus/v1/+/+/+/%c/cmd/+/ack",
                "pattern read campus/v1/+/+/+/%c/cmd/+",
                "user controller",
                "topic readwrite campus/v1/#",
            ],
            lines.Where(l => !l.StartsWith('#')));
        Assert.Throws<ArgumentException>(() => BrokerAcl.Build("two words"));
    }

    [Fact]
    public async Task Mosquitto_with_the_generated_acl_drops_a_device_writing_as_another_device()
    {
        var dir = Directory.CreateTempSubdirectory("campus-acl-").FullName;
        try
        {
            var passwords = Path.Combine(dir, "passwd");
            var aclFile = Path.Combine(dir, "acl");
            await File.WriteAllTextAsync(aclFile, BrokerAcl.Build("controller"));
            foreach (var (user, i) in new[] { "controller", "d1", "d2" }.Select((u, i) => (u, i)))
            {
                var args = i == 0 ? new[] { "-b", "-c", passwords, user, "pw-" + user } : ["-b", passwords, user, "pw-" + user];
                var made = await ExternalProcess.RunAsync("mosquitto_passwd", args);
                Assert.True(made.ExitCode == 0, made.Error);
            }
            await using var broker = await MosquittoServer.StartAsync(new MosquittoOptions
            {
                AllowAnonymous = false,
                PasswordFile = passwords,
                AclFile = aclFile,
                Persistence = false,
                ExtraConfig = "use_username_as_clientid true",
            });
            var port = broker.Port.ToString(CultureInfo.InvariantCulture);
            string[] Login(string user) => ["-h", broker.Host, "-p", port, "-u", user, "-P", "pw-" + user];

            await using var controller = ExternalProcess.Start("mosquitto_sub", [.. Login("controller"), "-t", TopicFilters.All, "-v", "-q", "1"]);
            var d1 = DeviceTopic.Telemetry("s01", "r101", DeviceKind.Energy, "d1");
            var d2 = DeviceTopic.Telemetry("s01", "r102", DeviceKind.Energy, "d2");

            async Task Publish(string user, string clientId, DeviceTopic topic, string message)
            {
                var r = await ExternalProcess.RunAsync("mosquitto_pub", [.. Login(user), "-i", clientId, "-t", topic.ToString(), "-m", message, "-q", "1"]);
                Assert.True(r.ExitCode == 0, $"{user} -> {topic}: {r.Error}");
            }

            // Wait until the controller's subscription is live.
            var probe = 0;
            await Poll.UntilAsync(async () =>
            {
                await Publish("d1", "d1", d1, "probe" + probe++);
                return controller.StandardOutput.Contains("probe", StringComparison.Ordinal);
            }, "the controller receives the device's own telemetry");

            await Publish("d1", "d1", d2, "forged-by-d1");
            await Publish("d1", "d2", d2, "forged-with-spoofed-client-id");
            await Publish("d1", "d1", d1.WithStream(TopicStream.Command, "unlock"), "command-from-a-device");
            await Publish("d1", "d1", d1.WithStream(TopicStream.CommandAck, "config"), "ack-ok");
            await Publish("d2", "d2", d2.WithStream(TopicStream.Event), "marker");
            await Poll.UntilAsync(() => controller.StandardOutput.Contains("marker", StringComparison.Ordinal), "the last message arrives");

            var seen = controller.StandardOutput;
            Assert.Contains($"{d1.WithStream(TopicStream.CommandAck, "config")} ack-ok", seen, StringComparison.Ordinal);
            Assert.DoesNotContain("forged", seen, StringComparison.Ordinal);
            Assert.DoesNotContain("command-from-a-device", seen, StringComparison.Ordinal);
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }
}
