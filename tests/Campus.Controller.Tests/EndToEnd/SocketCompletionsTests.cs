using System.Text.Json.Nodes;
using Campus.Testing;

namespace Campus.Controller.Tests.EndToEnd;

/// <summary>
/// The built host runs socket completions inline by default (Campus:Host:InlineSocketCompletions), which
/// must be decided before its first socket; /healthz reports what the process runs with.
/// </summary>
public sealed class SocketCompletionsTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData("false", false)]
    public async Task The_host_runs_socket_completions_inline_unless_configured_off(string? setting, bool expected)
    {
        Assert.True(Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null,
            "the test process must not set the variable itself: the host would inherit it");
        var dir = Directory.CreateTempSubdirectory("campus-sockets-").FullName;
        var httpPort = FreePort.Get();
        string[] arguments = setting is null
            ? ["--Logging:LogLevel:Default=Warning"]
            : [$"--Campus:Host:InlineSocketCompletions={setting}", "--Logging:LogLevel:Default=Warning"];
        try
        {
            await using var host = BuiltHost.Start(dir, FreePort.Get(), httpPort, arguments);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            JsonNode? report = null;
            await Poll.UntilAsync(async () =>
            {
                if (host.HasExited) throw new InvalidOperationException($"The host exited: {host.StandardError}{host.StandardOutput}");
                try
                {
                    var response = await http.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/healthz"));
                    if (!response.IsSuccessStatusCode) return false;
                    report = JsonNode.Parse(await response.Content.ReadAsStringAsync());
                    return true;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            }, "the host answers /healthz with 200", TimeSpan.FromSeconds(60));
            Assert.Equal(expected, report!["inlineSocketCompletions"]!.GetValue<bool>());
            await host.TerminateAsync(TimeSpan.FromSeconds(20));
        }
        finally
        {
            TempDirectory.Delete(dir); // the host has ended: disposed at the end of the try block
        }
    }
}
