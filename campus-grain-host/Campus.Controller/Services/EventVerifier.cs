using Campus.Contracts;

namespace Campus.Controller.Services;

/// <summary>What the check of one signed event found.</summary>
public enum SignatureVerdict
{
    /// <summary>Good MAC, and later than the last verified (boot, seq), or the byte-identical re-send of a taken-back event.</summary>
    Valid,
    /// <summary>A byte-identical copy of a recently verified event: a QoS 1 redelivery (drop silently) when the device sent it with DUP, else a replay (the door grain decides).</summary>
    Duplicate,
    /// <summary>Good MAC but not later than the last verified (boot, seq), and neither a taken-back event nor a recent copy.</summary>
    Replayed,
    /// <summary>No signature, a malformed one, no device key, or a wrong MAC.</summary>
    Forged,
}

/// <summary>Verifies the HMAC and the sequence of signed device events (contracts: "Signed events").</summary>
public interface IEventVerifier
{
    /// <returns>The verdict and, for <see cref="SignatureVerdict.Valid"/>, the guard state to keep.</returns>
    (SignatureVerdict Verdict, ReplayGuardState Guard) Verify(string device, ReadOnlySpan<byte> payload, byte[]? key, uint boot, uint seq, ReplayGuardState guard);

    /// <summary>
    /// An event found <see cref="SignatureVerdict.Valid"/> could not be applied (storage down) and will be sent again:
    /// returns <paramref name="guardBefore"/> (the guard state before that event was verified) changed so that its
    /// byte-identical re-send is valid once, even after newer events were verified.
    /// </summary>
    ReplayGuardState TakeBack(ReplayGuardState guardBefore, uint boot, uint seq, ReadOnlySpan<byte> payload);
}

/// <summary>The contracts' <see cref="EventSigner"/> (constant-time MAC check) then <see cref="ReplayGuard"/>.</summary>
internal sealed class ContractsEventVerifier : IEventVerifier
{
    public (SignatureVerdict Verdict, ReplayGuardState Guard) Verify(string device, ReadOnlySpan<byte> payload, byte[]? key, uint boot, uint seq, ReplayGuardState guard)
    {
        if (key is null || EventSigner.Verify(device, key, payload) != SignatureStatus.Valid) return (SignatureVerdict.Forged, guard);
        var replay = new ReplayGuard(guard);
        return replay.Check(boot, seq, payload) switch
        {
            ReplayVerdict.Accepted => (SignatureVerdict.Valid, replay.GetState()),
            ReplayVerdict.Duplicate => (SignatureVerdict.Duplicate, guard),
            _ => (SignatureVerdict.Replayed, guard),
        };
    }

    public ReplayGuardState TakeBack(ReplayGuardState guardBefore, uint boot, uint seq, ReadOnlySpan<byte> payload)
    {
        var replay = new ReplayGuard(guardBefore);
        replay.TakeBack(boot, seq, payload);
        return replay.GetState();
    }
}
