using System.Security.Cryptography;

namespace Campus.Contracts;

/// <summary>Outcome of <see cref="ReplayGuard.Check"/>.</summary>
public enum ReplayVerdict
{
    /// <summary>A new (boot, seq): count it.</summary>
    Accepted,
    /// <summary>A byte-identical copy of a recent accepted message (QoS 1 redelivery): drop it silently.</summary>
    Duplicate,
    /// <summary>A (boot, seq) at or below the last accepted one with other bytes: raise an alert, never count it.</summary>
    Replay,
}

/// <summary>
/// Replay protection for one device's signed events, used after <see cref="EventSigner.Verify"/> returned
/// <see cref="SignatureStatus.Valid"/>. (boot, seq) must increase (a higher boot starts a new epoch); an older or
/// equal (boot, seq) is a <see cref="ReplayVerdict.Duplicate"/> when its bytes equal one of the last
/// <see cref="RecentCount"/> accepted payloads and a <see cref="ReplayVerdict.Replay"/> otherwise.
/// Not thread-safe: one guard per device, used by one owner (the device's grain), which persists
/// <see cref="GetState"/> with the event and restores it with <see cref="ReplayGuard(ReplayGuardState, int)"/>.
/// </summary>
public sealed class ReplayGuard
{
    /// <summary>Default number of recent payload hashes kept.</summary>
    public const int DefaultRecentCount = 32;

    private const int HashSize = 32;
    private readonly byte[] _hashes;
    private int _count;
    private int _next;

    /// <summary>A guard that has seen nothing.</summary>
    public ReplayGuard(int recentCount = DefaultRecentCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(recentCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(recentCount, 4096);
        RecentCount = recentCount;
        _hashes = new byte[recentCount * HashSize];
    }

    /// <summary>A guard restored from <paramref name="state"/> (keeps the newest <paramref name="recentCount"/> hashes).</summary>
    public ReplayGuard(ReplayGuardState state, int recentCount = DefaultRecentCount)
        : this(recentCount)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(state.RecentHashes, nameof(state.RecentHashes));
        LastBoot = state.LastBoot;
        LastSeq = state.LastSeq;
        var hashes = state.RecentHashes;
        for (var i = Math.Max(0, hashes.Count - recentCount); i < hashes.Count; i++)
        {
            if (hashes[i] is not { Length: HashSize } hash)
            {
                throw new ArgumentException($"Recent hash {i} is not {HashSize} bytes (SHA-256).", nameof(state));
            }
            Remember(hash);
        }
    }

    /// <summary>How many recent payload hashes are kept.</summary>
    public int RecentCount { get; }

    /// <summary>Boot of the last accepted message (0 before any).</summary>
    public uint LastBoot { get; private set; }

    /// <summary>Seq of the last accepted message (0 before any).</summary>
    public uint LastSeq { get; private set; }

    /// <summary>
    /// Judges a verified message and, when it is <see cref="ReplayVerdict.Accepted"/>, records it.
    /// <paramref name="payload"/> is the exact payload received (with its signature).
    /// </summary>
    public ReplayVerdict Check(uint boot, uint seq, ReadOnlySpan<byte> payload)
    {
        Span<byte> hash = stackalloc byte[HashSize];
        SHA256.HashData(payload, hash);
        if (boot > LastBoot || (boot == LastBoot && seq > LastSeq))
        {
            LastBoot = boot;
            LastSeq = seq;
            Remember(hash);
            return ReplayVerdict.Accepted;
        }
        for (var i = 0; i < _count; i++)
        {
            if (hash.SequenceEqual(_hashes.AsSpan(i * HashSize, HashSize)))
            {
                return ReplayVerdict.Duplicate;
            }
        }
        return ReplayVerdict.Replay;
    }

    /// <summary>A snapshot to persist: last (boot, seq) and the recent hashes, oldest first.</summary>
    public ReplayGuardState GetState()
    {
        var hashes = new byte[_count][];
        var oldest = _count < RecentCount ? 0 : _next;
        for (var i = 0; i < _count; i++)
        {
            hashes[i] = _hashes.AsSpan(((oldest + i) % RecentCount) * HashSize, HashSize).ToArray();
        }
        return new ReplayGuardState { LastBoot = LastBoot, LastSeq = LastSeq, RecentHashes = hashes };
    }

    private void Remember(ReadOnlySpan<byte> hash)
    {
        hash.CopyTo(_hashes.AsSpan(_next * HashSize, HashSize));
        _next = (_next + 1) % RecentCount;
        _count = Math.Min(_count + 1, RecentCount);
    }
}
