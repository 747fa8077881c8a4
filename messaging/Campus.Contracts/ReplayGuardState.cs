namespace Campus.Contracts;

/// <summary>
/// What a <see cref="ReplayGuard"/> must remember across restarts: the last verified (boot, seq),
/// SHA-256 hashes of the most recent accepted payloads, oldest first, and the messages that were
/// taken back (<see cref="ReplayGuard.TakeBack"/>), oldest first.
/// </summary>
public sealed record ReplayGuardState
{
    /// <summary>Boot of the last accepted message (0 when none).</summary>
    public uint LastBoot { get; init; }
    /// <summary>Seq of the last accepted message (0 when none).</summary>
    public uint LastSeq { get; init; }
    /// <summary>SHA-256 of recent accepted payloads (32 bytes each), oldest first.</summary>
    public IReadOnlyList<byte[]> RecentHashes { get; init; } = [];
    /// <summary>Messages accepted and then taken back, whose re-send may still come after newer ones; oldest first.</summary>
    public IReadOnlyList<TakenBackMessage> TakenBack { get; init; } = [];
}

/// <summary>A message a <see cref="ReplayGuard"/> accepted and its owner then took back: (boot, seq) and the SHA-256 of its payload.</summary>
public sealed record TakenBackMessage
{
    /// <summary>Boot of the message.</summary>
    public uint Boot { get; init; }
    /// <summary>Seq of the message.</summary>
    public uint Seq { get; init; }
    /// <summary>SHA-256 of the exact payload (32 bytes): only a byte-identical re-send is let in.</summary>
    public byte[] Hash { get; init; } = [];
}
