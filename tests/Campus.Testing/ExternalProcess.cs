using System.Diagnostics;
using System.Text;

namespace Campus.Testing;

/// <summary>Runs real programs (mosquitto_pub, mosquitto_sub, psql, ...) as test peers.</summary>
public sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();

    private ExternalProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _stderr.AppendLine(e.Data); };
    }

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    public string StandardOutput { get { lock (_gate) return _stdout.ToString(); } }
    public string StandardError { get { lock (_gate) return _stderr.ToString(); } }

    /// <summary>Lines written so far to standard output.</summary>
    public string[] OutputLines => StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Starts a program; <paramref name="environment"/> adds or replaces variables of this process's environment (null removes one).</summary>
    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(Tools.Locate(fileName))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                if (value is null) info.Environment.Remove(name);
                else info.Environment[name] = value;
            }
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var wrapper = new ExternalProcess(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return wrapper;
    }

    /// <summary>Runs a program to completion and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        await using var p = Start(fileName, arguments);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await p._process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish in time. stderr: {p.StandardError}");
        }
        return (p.ExitCode, p.StandardOutput, p.StandardError);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Ends the process at once, as kill -9 would.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Asks the process to stop with SIGTERM and waits for it.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return;
        var (code, _, _) = await RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (code != 0 && !_process.HasExited) Kill();
        try
        {
            await WaitForExitAsync(timeout);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            await WaitForExitAsync(TimeSpan.FromSeconds(5));
        }
        catch (OperationCanceledException)
        {
            // Best effort.
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        _process.Dispose();
    }
}

/// <summary>Finds the real programs that tests use as peers.</summary>
public static class Tools
{
    private static readonly string[] SearchPath =
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"])
        .Distinct()
        .ToArray();

    public static string Locate(string fileName)
    {
        if (fileName.Contains('/')) return fileName;
        foreach (var dir in SearchPath)
        {
            var candidate = Path.Combine(dir, fileName);
            if (File.Exists(candidate)) return candidate;
        }
        if (fileName is "initdb" or "pg_ctl" or "postgres")
        {
            var pgRoot = "/usr/lib/postgresql";
            if (Directory.Exists(pgRoot))
            {
                foreach (var version in Directory.GetDirectories(pgRoot).OrderByDescending(d => d, StringComparer.Ordinal))
                {
                    var candidate = Path.Combine(version, "bin", fileName);
                    if (File.Exists(candidate)) return candidate;
                }
            }
        }
        throw new FileNotFoundException(
            $"'{fileName}' is not installed. Run ./test.sh, which installs Mosquitto and PostgreSQL, or install the Debian package that provides it.");
    }
}
