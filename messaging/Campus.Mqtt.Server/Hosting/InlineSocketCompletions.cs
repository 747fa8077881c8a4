namespace Campus.Mqtt.Server.Hosting;

/// <summary>
/// Socket completions on the socket engine's own threads instead of the thread pool (Linux). The
/// broker's per-message work is short and never blocks, and with thousands of connections the
/// thread-pool hop per read and per send was a third of its CPU per message (the ingest
/// benchmark's bare broker: 45 µs per message with the hop, 24–28 µs without). .NET reads the
/// variable once, when the process first uses an asynchronous socket, so a host turns this on
/// before it opens any socket; a variable set explicitly (to 0 or 1) always wins.
/// </summary>
public static class InlineSocketCompletions
{
    /// <summary>The variable .NET's socket engine reads.</summary>
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Sets the variable when <paramref name="wanted"/> and it is not set yet; returns whether completions now run inline.</summary>
    public static bool Apply(bool wanted)
    {
        if (wanted && Environment.GetEnvironmentVariable(Variable) is null) Environment.SetEnvironmentVariable(Variable, "1");
        return IsOn;
    }

    /// <summary>Whether the variable asks for inline completions (what the socket engine will use, if it has not started yet).</summary>
    public static bool IsOn => Environment.GetEnvironmentVariable(Variable) is { } v && (v == "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase));
}
