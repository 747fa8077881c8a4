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

    /// <summary>Whether process <paramref name="processId"/> runs (Linux: read from /proc; a zombie has ended).</summary>
    public static bool IsRunning(int processId) => ExitGuard.StartTime(processId) is not null;
    public int ExitCode => _process.ExitCode;
    public string StandardOutput { get { lock (_gate) return _stdout.ToString(); } }
    public string StandardError { get { lock (_gate) return _stderr.ToString(); } }

    /// <summary>Lines written so far to standard output.</summary>
    public string[] OutputLines => StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Starts a program; <paramref name="environment"/> adds or replaces variables of this process's environment (null removes one).
    /// The program is a peer of this process: if this process ends without stopping it (a crash, kill -9), it gets SIGTERM.
    /// </summary>
    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var process = StartProgram(fileName, arguments, workingDirectory, environment);
        EndWithThisProcess(process.Id, "TERM");
        return process;
    }

    /// <summary>
    /// Sends <paramref name="signal"/> (a name kill -s knows: TERM, INT, QUIT, ...) to the process
    /// <paramref name="processId"/> when this process ends, however it ends, unless that process has
    /// ended first. For servers that outlive the program starting them (pg_ctl start).
    /// </summary>
    public static void EndWithThisProcess(int processId, string signal) => ExitGuard.Add(processId, signal);

    private static ExternalProcess StartProgram(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(Tools.Locate(fileName))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
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
        // Short-lived: not handed to the exit guard (it ends by itself, or at the timeout below).
        await using var p = StartProgram(fileName, arguments);
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

/// <summary>
/// Ends the servers and peers of this process when this process ends, however it ends. A
/// ProcessExit handler does not run when the process dies from an unhandled exception or from
/// SIGKILL (nor on every SIGINT path), and neither a daemonised server (pg_ctl start) nor a plain
/// child process (mosquitto) dies with its parent on Linux. So one small shell process, started
/// on first use in its own session (group signals such as Ctrl+C's SIGINT do not reach it) and no
/// longer a child of this process (killing this process's tree does not reach it), ignores
/// HUP/INT/QUIT/TERM and reads "pid start-time signal" lines from a pipe whose only writer is this
/// process. The kernel closes that pipe when this process ends for any reason; at end of input the
/// guard signals every listed process still alive with the same start time (so a reused process
/// id is never hit), waits up to 10 s, and kills what is left. It removes nothing. Chosen over
/// PR_SET_PDEATHSIG, which fires when the creating thread ends (a thread-pool thread may retire
/// while the test runs) and does not survive pg_ctl's fork.
/// </summary>
file static class ExitGuard
{
    // argv: $1 = the guard script. fd 3 carries the pipe past the rule that a background job's
    // standard input is /dev/null; the launcher exits at once, so the guard is reparented.
    private const string Launcher = """exec 3<&0; setsid sh -c "$1" campus-exit-guard <&3 3<&- >/dev/null 2>&1 &""";

    private const string Script = """
        cd /
        trap '' HUP INT QUIT TERM
        alive() {
          s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
          want=$2
          set -- ${s##*) }
          [ "$1" != Z ] && [ "${20}" = "$want" ]
        }
        sort -u | {
          left=
          while read -r pid start sig; do
            if alive "$pid" "$start"; then kill -s "$sig" "$pid"; left="$left $pid:$start"; fi
          done
          n=0
          while [ -n "$left" ] && [ $n -lt 50 ]; do
            still=
            for e in $left; do alive "${e%%:*}" "${e#*:}" && still="$still $e"; done
            left=$still; n=$((n+1)); [ -z "$left" ] || sleep 0.2
          done
          for e in $left; do kill -s KILL "${e%%:*}"; done
        }
        """;

    private static readonly Lock Gate = new();

    // Never disposed: its standard input is the pipe whose closing tells the guard this process has ended.
    private static Process? _launcher;

    public static void Add(int processId, string signal)
    {
        if (!signal.All(char.IsAsciiLetterUpper)) throw new ArgumentException($"'{signal}' is not a signal name such as TERM.", nameof(signal));
        if (StartTime(processId) is not { } start) return; // Already gone.
        lock (Gate)
        {
            if (_launcher is null)
            {
                var info = new ProcessStartInfo(Tools.Locate("sh"))
                {
                    RedirectStandardInput = true,
                    StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
                    UseShellExecute = false,
                    WorkingDirectory = "/",
                };
                foreach (var a in (string[])["-c", Launcher, "sh", Script]) info.ArgumentList.Add(a);
                Tools.Locate("setsid"); // A clear error now rather than an unguarded run.
                _launcher = Process.Start(info) ?? throw new InvalidOperationException("Could not start the exit guard.");
            }
            try
            {
                _launcher.StandardInput.Write(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{processId} {start} {signal}\n"));
                _launcher.StandardInput.Flush();
            }
            catch (IOException e)
            {
                throw new InvalidOperationException("The exit guard has ended, so servers started now would outlive a crash of this process.", e);
            }
        }
    }

    /// <summary>The process's start time in clock ticks since boot (/proc/PID/stat field 22), or null once it is gone.</summary>
    internal static string? StartTime(int processId)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{processId}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields[0] == "Z" ? null : fields[19];
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
