using System.Globalization;
using Campus.Testing;

namespace Campus.Contracts.Tests;

/// <summary>
/// The private PostgreSQL and the Mosquitto a test process starts stop when that process dies
/// without running its exit handlers. A child process (this test assembly run by dotnet, with a
/// startup hook, see ServerLifetimeChild.cs) starts them; the test ends the child, then waits for
/// both servers to go.
/// </summary>
public sealed class ServerLifetimeTests
{
    [Theory]
    [InlineData("kill")]
    [InlineData("throw")]
    public async Task Private_postgres_and_mosquitto_stop_when_the_process_that_started_them_dies(string death)
    {
        var testAssembly = typeof(ServerLifetimeTests).Assembly.Location;
        var workDir = Directory.CreateTempSubdirectory("campus-lifetime-").FullName;
        var servers = new List<(string Name, int Pid, string Folder)>();
        try
        {
            await using (var child = ExternalProcess.Start("dotnet", ["exec", testAssembly], workDir, new Dictionary<string, string?>
            {
                ["DOTNET_STARTUP_HOOKS"] = testAssembly,
                [StartupHook.ModeVariable] = death == "kill" ? "wait" : "throw",
                [PostgresServer.EnvironmentVariable] = null, // A private server even under ./test.sh.
                ["DOTNET_DbgEnableMiniDump"] = "0",
            }))
            {
                await Poll.UntilAsync(() => child.HasExited || child.OutputLines.Count(l => l.StartsWith("postgres ", StringComparison.Ordinal) || l.StartsWith("mosquitto ", StringComparison.Ordinal)) == 2,
                    "the child reports its servers", TimeSpan.FromSeconds(90));
                foreach (var line in child.OutputLines)
                {
                    var parts = line.Split(' ', 3);
                    if (parts is ["postgres" or "mosquitto", var pid, var folder])
                        servers.Add((parts[0], int.Parse(pid, CultureInfo.InvariantCulture), folder));
                }
                Assert.True(servers.Count == 2, $"The child did not report both servers.\nstdout:\n{child.StandardOutput}\nstderr:\n{child.StandardError}");
                Assert.All(servers, s => Assert.True(IsRunning(s.Pid, s.Folder), $"{s.Name} ({s.Pid}) is not running after the child reported it."));

                if (death == "kill")
                {
                    // SIGKILL of the child alone (not its process tree).
                    var kill = await ExternalProcess.RunAsync("kill", ["-KILL", child.Id.ToString(CultureInfo.InvariantCulture)]);
                    Assert.True(kill.ExitCode == 0, kill.Error);
                }
                var exitCode = await child.WaitForExitAsync(TimeSpan.FromSeconds(60));
                Assert.NotEqual(0, exitCode);
            }

            try
            {
                await Poll.UntilAsync(() => servers.All(s => !IsRunning(s.Pid, s.Folder)),
                    "no server of the dead child runs any more", TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException e)
            {
                var left = servers.Where(s => IsRunning(s.Pid, s.Folder)).Select(s => $"{s.Name} ({s.Pid})");
                throw new TimeoutException($"{e.Message} Still running: {string.Join(", ", left)}.", e);
            }
        }
        finally
        {
            // Whatever the outcome, leave nothing running behind.
            foreach (var (name, pid, folder) in servers)
            {
                if (IsRunning(pid, folder))
                    await ExternalProcess.RunAsync("kill", [name == "postgres" ? "-QUIT" : "-KILL", pid.ToString(CultureInfo.InvariantCulture)]);
            }
            foreach (var folder in servers.Select(s => s.Folder).Append(workDir))
            {
                try { Directory.Delete(folder, recursive: true); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>True while the process runs (not a zombie) and its command line names the server's folder, so a reused process id does not count.</summary>
    private static bool IsRunning(int pid, string folder)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z')) return false;
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(folder, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
