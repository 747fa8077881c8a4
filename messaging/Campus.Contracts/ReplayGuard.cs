using System.Security.Cryptography;

namespace Campus.Contracts;

/// <summary>Outcome of <see cref="ReplayGuard.Check"/>.</summary>
public enum ReplayVerdict
{
    /// <summary>A new (boot, seq), or the byte-identical re-send of a taken-back message: count it.</summary>
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
/// One exception: a message its owner accepted but could not apply (a storage outage) is handed back with
/// <see cref="TakeBack"/>; its byte-identical re-send is accepted once even when newer messages were accepted
/// meanwhile (the newest <see cref="TakenBackCount"/> such messages are remembered). Anything else at or below
/// the last (boot, seq) stays a replay, and a copy of a message accepted late is a duplicate like any other.
/// Not thread-safe: one guard per device, used by one owner (the device's grain), which persists
/// <see cref="GetState"/> with the event and restores it with <see cref="ReplayGuard(ReplayGuardState, int)"/>.
/// </summary>
public sealed class ReplayGuard
{
    /// <summary>Default number of recent payload hashes kept.</summary>
    public const int DefaultRecentCount = 32;

    /// <summary>How many taken-back messages are remembered (oldest forgotten first).</summary>
    public const int TakenBackCount = 32;

    private const int HashSize = 32;
    private readonly byte[] _hashes;
    private int _count;
    private int _next;

    // Taken-back messages, oldest first; allocated on first use (most guards never have any).
    private (uint Boot, uint Seq)[]? _takenBack;
    private byte[]? _takenBackHashes;
    private int _takenBackCount;

    /// <summary>A guard that has seen nothing.</summary>
    public ReplayGuard(int recentCount = DefaultRecentCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(recentCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(recentCount, 4096);
        RecentCount = recentCount;
        _hashes = new byte[recentCount * HashSize];
    }

    /// <summary>
    /// A guard restored from <paramref name="state"/> (keeps the newest <paramref name="recentCount"/> hashes and the
    /// newest <see cref="TakenBackCount"/> taken-back messages; state written before those existed has none).
    /// </summary>
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
        var takenBack = state.TakenBack ?? [];
        for (var i = Math.Max(0, takenBack.Count - TakenBackCount); i < takenBack.Count; i++)
        {
            if (takenBack[i] is not { Hash: { Length: HashSize } hash } message)
            {
                throw new ArgumentException($"Taken-back message {i} has no {HashSize}-byte hash (SHA-256).", nameof(state));
            }
            AddTakenBack(message.Boot, message.Seq, hash);
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
            // Accepted now: a taken-back copy of this (boot, seq) must not be let in a second time.
            if (_takenBackCount > 0 && IndexOfTakenBack(boot, seq) is >= 0 and var at) RemoveTakenBack(at);
            Remember(hash);
            return ReplayVerdict.Accepted;
        }
        if (_takenBackCount > 0 && IndexOfTakenBack(boot, seq) is >= 0 and var taken
            && hash.SequenceEqual(_takenBackHashes.AsSpan(taken * HashSize, HashSize)))
        {
            // The re-send of a message that was taken back, arriving after newer ones: let it in, once.
            RemoveTakenBack(taken);
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

    /// <summary>
    /// Records that the message (<paramref name="boot"/>, <paramref name="seq"/>, exact <paramref name="payload"/>)
    /// was accepted by <see cref="Check"/> but could not be applied, so it was not acknowledged and will be sent
    /// again: that byte-identical re-send is then accepted once, even after newer messages. Call it on the guard
    /// that accepted the message, or on a guard restored to the state before that check. Last (boot, seq) and
    /// the recent hashes do not change. Only the newest <see cref="TakenBackCount"/> are remembered; the re-send
    /// of an older one is judged like any other old message.
    /// </summary>
    public void TakeBack(uint boot, uint seq, ReadOnlySpan<byte> payload)
    {
        Span<byte> hash = stackalloc byte[HashSize];
        SHA256.HashData(payload, hash);
        if (_takenBackCount > 0 && IndexOfTakenBack(boot, seq) is >= 0 and var at) RemoveTakenBack(at);
        AddTakenBack(boot, seq, hash);
    }

    /// <summary>How many taken-back messages wait for their re-send.</summary>
    public int TakenBackWaiting => _takenBackCount;

    /// <summary>A snapshot to persist: last (boot, seq), the recent hashes and the taken-back messages, oldest first.</summary>
    public ReplayGuardState GetState()
    {
        var hashes = new byte[_count][];
        var oldest = _count < RecentCount ? 0 : _next;
        for (var i = 0; i < _count; i++)
        {
            hashes[i] = _hashes.AsSpan(((oldest + i) % RecentCount) * HashSize, HashSize).ToArray();
        }
        var takenBack = _takenBackCount == 0 ? [] : new TakenBackMessage[_takenBackCount];
        for (var i = 0; i < takenBack.Length; i++)
        {
            var (boot, seq) = _takenBack![i];
            takenBack[i] = new TakenBackMessage { Boot = boot, Seq = seq, Hash = _takenBackHashes.AsSpan(i * HashSize, HashSize).ToArray() };
        }
        return new ReplayGuardState { LastBoot = LastBoot, LastSeq = LastSeq, RecentHashes = hashes, TakenBack = takenBack };
    }

    private int IndexOfTakenBack(uint boot, uint seq)
    {
        var takenBack = _takenBack!;
        for (var i = 0; i < _takenBackCount; i++)
        {
            if (takenBack[i].Boot == boot && takenBack[i].Seq == seq) return i;
        }
        return -1;
    }

    private void AddTakenBack(uint boot, uint seq, ReadOnlySpan<byte> hash)
    {
        _takenBack ??= new (uint, uint)[TakenBackCount];
        _takenBackHashes ??= new byte[TakenBackCount * HashSize];
        if (_takenBackCount == TakenBackCount) RemoveTakenBack(0); // the oldest is forgotten
        _takenBack[_takenBackCount] = (boot, seq);
        hash.CopyTo(_takenBackHashes.AsSpan(_takenBackCount * HashSize, HashSize));
        _takenBackCount++;
    }

    private void RemoveTakenBack(int index)
    {
        var after = _takenBackCount - index - 1;
        Array.Copy(_takenBack!, index + 1, _takenBack!, index, after);
        Buffer.BlockCopy(_takenBackHashes!, (index + 1) * HashSize, _takenBackHashes!, index * HashSize, after * HashSize);
        _takenBackCount--;
    }

    private void Remember(ReadOnlySpan<byte> hash)
    {
        hash.CopyTo(_hashes.AsSpan(_next * HashSize, HashSize));
        _next = (_next + 1) % RecentCount;
        _count = Math.Min(_count + 1, RecentCount);
    }
}
