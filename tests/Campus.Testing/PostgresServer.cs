using System.Globalization;
using Npgsql;

namespace Campus.Testing;

/// <summary>
/// A real PostgreSQL server for tests. ./test.sh starts one and passes its admin connection
/// string in CAMPUS_TEST_POSTGRES; without it (a plain `dotnet test`), the first use starts a
/// private server on a free loopback port in a temporary folder and stops it at exit (also when
/// this process crashes or is killed; see ExternalProcess.EndWithThisProcess).
/// Each test class asks for its own database, so tests never share state.
/// </summary>
public sealed class PostgresServer
{
    public const string EnvironmentVariable = "CAMPUS_TEST_POSTGRES";
    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(StartSharedAsync);
    private readonly string _adminConnectionString;
    private int _databases;

    private PostgresServer(string adminConnectionString, int? processId = null, string? directory = null)
    {
        _adminConnectionString = adminConnectionString;
        ProcessId = processId;
        Directory = directory;
    }

    /// <summary>The postmaster's process id when this process started the server; null for one named by CAMPUS_TEST_POSTGRES.</summary>
    public int? ProcessId { get; }

    /// <summary>The temporary folder with the private server's data, socket and log; null for one named by CAMPUS_TEST_POSTGRES.</summary>
    public string? Directory { get; }

    public static Task<PostgresServer> GetAsync() => SharedServer.Value;

    /// <summary>Creates an empty database and returns a connection string for it.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = string.Create(CultureInfo.InvariantCulture,
            $"{Sanitize(prefix)}_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}");
        name = name[..Math.Min(name.Length, 60)];
        await using (var conn = new NpgsqlConnection(_adminConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    private static string Sanitize(string prefix)
    {
        var chars = prefix.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c == '_').ToArray();
        var s = new string(chars);
        return s.Length == 0 ? "t" : s[..Math.Min(s.Length, 20)];
    }

    private const string FolderPrefix = "campus-pg-";

    /// <summary>
    /// Removes the private server folders (<c>campus-pg-*</c> under <paramref name="tempRoot"/>) that test
    /// processes which died could not delete: the exit guard stops their server but deletes nothing. A
    /// folder goes only when its server is not running (no <c>data/postmaster.pid</c>, or its process is
    /// gone) and the folder itself was created or last changed more than <paramref name="olderThan"/> ago
    /// (a folder still being set up, before its server wrote its pid file, is young). Best effort: a
    /// folder that cannot be deleted stays. Returns how many went.
    /// </summary>
    public static int RemoveStaleFolders(string tempRoot, TimeSpan olderThan)
    {
        // Whether a server still runs is read from /proc (as the exit guard does); elsewhere nothing goes.
        if (!OperatingSystem.IsLinux()) return 0;
        var removed = 0;
        foreach (var dir in System.IO.Directory.EnumerateDirectories(tempRoot, FolderPrefix + "*"))
        {
            try
            {
                if (DateTime.UtcNow - System.IO.Directory.GetLastWriteTimeUtc(dir) < olderThan) continue;
                var pidFile = Path.Combine(dir, "data", "postmaster.pid");
                if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                    && ExternalProcess.IsRunning(pid)) continue;
            }
            catch (IOException) { continue; }                 // a pid file this user cannot read: leave the folder
            catch (UnauthorizedAccessException) { continue; }
            TempDirectory.Delete(dir);
            if (!System.IO.Directory.Exists(dir)) removed++;
        }
        return removed;
    }

    private static async Task<PostgresServer> StartSharedAsync()
    {
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv)) return new PostgresServer(fromEnv);

        RemoveStaleFolders(Path.GetTempPath(), TimeSpan.FromHours(1));
        var dir = System.IO.Directory.CreateTempSubdirectory(FolderPrefix).FullName;
        var data = Path.Combine(dir, "data");
        var port = FreePort.Get();
        var asRoot = Environment.UserName == "root";
        string[] Wrap(string tool, params string[] args) =>
            asRoot ? ["-u", "postgres", "--", Tools.Locate(tool), .. args] : [Tools.Locate(tool), .. args];
        if (asRoot) await ExternalProcess.RunAsync("chown", ["postgres:postgres", dir]);

        var init = asRoot
            ? await ExternalProcess.RunAsync("runuser", Wrap("initdb", "-D", data, "-U", "campus", "-A", "trust", "--no-sync"), TimeSpan.FromMinutes(2))
            : await ExternalProcess.RunAsync("initdb", ["-D", data, "-U", "campus", "-A", "trust", "--no-sync"], TimeSpan.FromMinutes(2));
        if (init.ExitCode != 0) throw new InvalidOperationException($"initdb failed: {init.Error}{init.Output}");

        // shared_buffers as a server for this load would have it (the default 128 MB is smaller than the
        // hot index pages of 10,000 devices' telemetry; it is only taken as used).
        var opts = string.Create(CultureInfo.InvariantCulture,
            $"-p {port} -c listen_addresses=127.0.0.1 -k {dir} -c fsync=off -c max_connections=300 -c shared_buffers=1GB -c max_wal_size=4GB");
        var ctlArgs = new[] { "-D", data, "-l", Path.Combine(dir, "log"), "-o", opts, "-w", "start" };
        var start = asRoot
            ? await ExternalProcess.RunAsync("runuser", Wrap("pg_ctl", ctlArgs), TimeSpan.FromMinutes(1))
            : await ExternalProcess.RunAsync("pg_ctl", ctlArgs, TimeSpan.FromMinutes(1));
        if (start.ExitCode != 0) throw new InvalidOperationException($"pg_ctl start failed: {start.Error}{start.Output}");

        // pg_ctl detaches the postmaster, so it would outlive this process if this process dies
        // without running ProcessExit below (unhandled exception, SIGKILL, some Ctrl+C paths). The
        // exit guard sends it SIGQUIT (pg_ctl's immediate mode: the data is throwaway) when this
        // process ends in any way; pg_ctl start -w itself stays as it was, so startup takes as long.
        var postmaster = int.Parse(File.ReadLines(Path.Combine(data, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        ExternalProcess.EndWithThisProcess(postmaster, "QUIT");

        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            var stopArgs = new[] { "-D", data, "-m", "immediate", "stop" };
            var stop = asRoot
                ? ExternalProcess.RunAsync("runuser", Wrap("pg_ctl", stopArgs))
                : ExternalProcess.RunAsync("pg_ctl", stopArgs);
            stop.GetAwaiter().GetResult();
            TempDirectory.Delete(dir);
        };
        return new PostgresServer(string.Create(CultureInfo.InvariantCulture,
            $"Host=127.0.0.1;Port={port};Username=campus;Database=postgres;Pooling=false"), postmaster, dir);
    }
}
