using System.Globalization;
using System.Text;

namespace Campus.Testing;

/// <summary>Settings for a real Eclipse Mosquitto broker started by a test.</summary>
public sealed record MosquittoOptions
{
    public bool AllowAnonymous { get; init; } = true;

    /// <summary>A password file in mosquitto_passwd format, or null.</summary>
    public string? PasswordFile { get; init; }

    /// <summary>An ACL file in Mosquitto's format, or null.</summary>
    public string? AclFile { get; init; }

    /// <summary>Keep sessions and retained messages across restarts.</summary>
    public bool Persistence { get; init; } = true;

    /// <summary>More lines for mosquitto.conf.</summary>
    public string? ExtraConfig { get; init; }
}

/// <summary>
/// A real Mosquitto broker on a free loopback port with its own data folder. Each instance is
/// its own process, so tests can stop, kill and restart it without touching other tests. Started
/// through ExternalProcess.Start, it also ends (SIGTERM) when the test process dies without stopping it.
/// </summary>
public sealed class MosquittoServer : IAsyncDisposable
{
    private readonly MosquittoOptions _options;
    private ExternalProcess? _process;

    private MosquittoServer(MosquittoOptions options, int port, string directory)
    {
        _options = options;
        Port = port;
        DataDirectory = directory;
    }

    public string Host => "127.0.0.1";
    public int Port { get; }
    public string DataDirectory { get; }
    public string ConfigFile => Path.Combine(DataDirectory, "mosquitto.conf");
    public string Log => _process is null ? "" : _process.StandardError + _process.StandardOutput;
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The broker's process id while it runs (for CPU figures).</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public static async Task<MosquittoServer> StartAsync(MosquittoOptions? options = null)
    {
        var dir = Directory.CreateTempSubdirectory("campus-mosquitto-").FullName;
        var server = new MosquittoServer(options ?? new MosquittoOptions(), FreePort.Get(), dir);
        try
        {
            server.WriteConfig();
            await server.StartProcessAsync();
        }
        catch
        {
            await server.DisposeAsync(); // ends the process and deletes the data folder
            throw;
        }
        return server;
    }

    private void WriteConfig()
    {
        var conf = new StringBuilder();
        conf.AppendLine(CultureInfo.InvariantCulture, $"listener {Port} {Host}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"allow_anonymous {(_options.AllowAnonymous ? "true" : "false")}");
        conf.AppendLine("user root");
        conf.AppendLine(CultureInfo.InvariantCulture, $"persistence {(_options.Persistence ? "true" : "false")}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"persistence_location {DataDirectory}/");
        conf.AppendLine("log_dest stderr");
        conf.AppendLine("log_type error");
        conf.AppendLine("log_type warning");
        conf.AppendLine("log_type notice");
        conf.AppendLine("max_queued_messages 100000");
        if (_options.PasswordFile is not null) conf.AppendLine(CultureInfo.InvariantCulture, $"password_file {_options.PasswordFile}");
        if (_options.AclFile is not null) conf.AppendLine(CultureInfo.InvariantCulture, $"acl_file {_options.AclFile}");
        if (_options.ExtraConfig is not null) conf.AppendLine(_options.ExtraConfig);
        File.WriteAllText(ConfigFile, conf.ToString());
    }

    private async Task StartProcessAsync()
    {
        _process = ExternalProcess.Start("mosquitto", ["-c", ConfigFile]);
        try
        {
            await FreePort.WaitUntilListeningAsync(Port, TimeSpan.FromSeconds(10), "mosquitto");
        }
        catch (TimeoutException e)
        {
            throw new InvalidOperationException($"{e.Message}\nmosquitto log:\n{Log}", e);
        }
    }

    /// <summary>Stops the broker cleanly (SIGTERM); with persistence on, it saves its state.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        await _process.TerminateAsync(TimeSpan.FromSeconds(10));
        await _process.DisposeAsync();
        _process = null;
    }

    /// <summary>Ends the broker at once, like kill -9.</summary>
    public async Task KillAsync()
    {
        if (_process is null) return;
        await _process.DisposeAsync();
        _process = null;
    }

    /// <summary>Starts the broker again on the same port with the same data folder.</summary>
    public async Task StartAgainAsync()
    {
        if (IsRunning) throw new InvalidOperationException("Mosquitto is already running; stop it first.");
        await StartProcessAsync();
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAgainAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        TempDirectory.Delete(DataDirectory);
    }
}
