using System.Globalization;
using Campus.Testing;

/// <summary>
/// Runs only in the child process that <c>Campus.Contracts.Tests.ServerLifetimeTests</c> starts with
/// DOTNET_STARTUP_HOOKS naming this assembly (a startup hook must be a type named StartupHook outside
/// any namespace): it starts a private PostgreSQL and a Mosquitto, writes "postgres PID FOLDER" and
/// "mosquitto PID FOLDER" to standard output, then waits to be killed or crashes, as asked.
/// </summary>
internal static class StartupHook
{
    public const string ModeVariable = "CAMPUS_SERVER_LIFETIME_CHILD";

    public static void Initialize()
    {
        var mode = Environment.GetEnvironmentVariable(ModeVariable);
        if (mode is null) return;
        RunAsync().GetAwaiter().GetResult();
        if (mode == "throw")
            new Thread(() => throw new InvalidOperationException("Crashing on purpose: an unhandled exception ends the process.")).Start();
        Thread.Sleep(Timeout.Infinite);
    }

    private static async Task RunAsync()
    {
        var postgres = await PostgresServer.GetAsync();
        await postgres.CreateDatabaseAsync("lifetime");
        var mosquitto = await MosquittoServer.StartAsync();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"postgres {postgres.ProcessId} {postgres.Directory}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mosquitto {mosquitto.ProcessId} {mosquitto.DataDirectory}"));
        Console.Out.Flush();
    }
}
