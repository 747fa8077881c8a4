using Campus.Testing;

namespace Campus.Controller.Tests.EndToEnd;

/// <summary>The host as building this test project builds it (campus-grain-host, Debug), started as a real process.</summary>
internal static class BuiltHost
{
    public static string Root { get; } = FindRoot();

    public static string Dll => Path.Combine(Root, "campus-grain-host", "bin", "Debug", "net10.0", "Campus.GrainHost.dll");

    /// <summary>Starts the built host with <paramref name="arguments"/>, its MQTT and HTTP endpoints on loopback.</summary>
    public static ExternalProcess Start(string dataDir, int mqttPort, int httpPort, IEnumerable<string> arguments)
    {
        if (!File.Exists(Dll)) throw new InvalidOperationException($"Build the host first: {Dll} is missing (./test.sh builds the solution).");
        return ExternalProcess.Start("dotnet",
        [
            Dll,
            $"--Urls=http://127.0.0.1:{httpPort}",
            "--Campus:Mqtt:BindAddress=127.0.0.1",
            $"--Campus:Mqtt:Port={mqttPort}",
            .. arguments,
        ], dataDir);
    }

    /// <summary>Starts the built host with <c>--demo</c> on the small district and the given storage arguments.</summary>
    public static ExternalProcess StartDemo(string dataDir, int mqttPort, int httpPort, params string[] storage) =>
        Start(dataDir, mqttPort, httpPort,
        [
            "--demo",
            "--demo-district", Path.Combine(Root, "simulators", "districts", "small.yaml"),
            .. storage,
            "--Logging:LogLevel:Default=Warning",
        ]);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Campus.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Campus.sln not found above the test folder.");
    }
}
