namespace Campus.Contracts;

/// <summary>
/// What a <see cref="ReplayGuard"/> must remember across restarts: the last verified (boot, seq) and
/// SHA-256 hashes of the most recent accepted payloads, oldest first.
/// </summary>
public sealed record ReplayGuardState
{
    /// <summary>Boot of the last accepted message (0 when none).</summary>
    public uint LastBoot { get; init; }
    /// <summary>Seq of the last accepted message (0 when none).</summary>
    public uint LastSeq { get; init; }
    /// <summary>SHA-256 of recent accepted payloads (32 bytes each), oldest first.</summary>
    public IReadOnlyList<byte[]> RecentHashes { get; init; } = [];
}
