using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;

namespace Campus.Contracts;

/// <summary>Outcome of <see cref="EventSigner.Verify"/>.</summary>
public enum SignatureStatus
{
    /// <summary>The MAC matches the device, the key and the body.</summary>
    Valid,
    /// <summary>The document has no <c>sig</c> member.</summary>
    MissingSignature,
    /// <summary>The MAC does not match: forged or altered, or signed with another key or device id.</summary>
    BadSignature,
    /// <summary><c>sig</c> is not the last member in the form <c>,"sig":"&lt;base64 of 32 bytes&gt;"}</c>, or the document is not an object.</summary>
    Malformed,
}

/// <summary>
/// HMAC-SHA256 of door events. The signed bytes are the device id, a line feed (<c>\n</c>), and the UTF-8 payload
/// without its trailing <c>,"sig":"…"</c> member (so it ends with the previous member's value and <c>}</c>).
/// <c>sig</c> is base64 and must be the document's last member, written with no white space.
/// </summary>
public static class EventSigner
{
    /// <summary>Size of the MAC, bytes.</summary>
    public const int MacSize = 32;

    private static ReadOnlySpan<byte> SigMember => ",\"sig\":\""u8;
    private static ReadOnlySpan<byte> SigName => "\"sig\""u8;

    // ,"sig":" + 44 base64 characters + "}
    private const int SigSuffixLength = 8 + 44 + 2;

    /// <summary>
    /// Signs <paramref name="payloadWithoutSig"/> (a JSON object with at least one member, ending with <c>}</c>) and
    /// returns it with <c>,"sig":"…"</c> appended as the last member.
    /// </summary>
    public static byte[] Sign(string deviceId, ReadOnlySpan<byte> key, ReadOnlySpan<byte> payloadWithoutSig)
    {
        Identifier.Require(deviceId, "device", nameof(deviceId));
        RequireKey(key);
        if (payloadWithoutSig.Length < 3 || payloadWithoutSig[0] != (byte)'{' || payloadWithoutSig[^1] != (byte)'}' || payloadWithoutSig[^2] == (byte)'{')
        {
            throw new ArgumentException("The payload must be a JSON object with at least one member, starting with '{' and ending with '}' with no white space around.", nameof(payloadWithoutSig));
        }
        if (payloadWithoutSig.IndexOf(SigName) >= 0)
        {
            throw new ArgumentException("The payload already has a \"sig\" member; sign the document without it.", nameof(payloadWithoutSig));
        }
        Span<byte> mac = stackalloc byte[MacSize];
        ComputeMac(deviceId, key, payloadWithoutSig[..^1], mac);
        var result = new byte[payloadWithoutSig.Length - 1 + SigSuffixLength];
        payloadWithoutSig[..^1].CopyTo(result);
        var at = payloadWithoutSig.Length - 1;
        SigMember.CopyTo(result.AsSpan(at));
        at += SigMember.Length;
        Base64.EncodeToUtf8(mac, result.AsSpan(at), out _, out var written);
        at += written;
        result[at++] = (byte)'"';
        result[at] = (byte)'}';
        return result;
    }

    /// <summary>Verifies the <c>sig</c> of a door event with the device's key; never throws on bad input (only on a bad id or an empty key).</summary>
    public static SignatureStatus Verify(string deviceId, ReadOnlySpan<byte> key, ReadOnlySpan<byte> payload)
    {
        Identifier.Require(deviceId, "device", nameof(deviceId));
        RequireKey(key);
        if (!TrySplit(payload, out var bodyLength, out var status))
        {
            return status;
        }
        Span<byte> expected = stackalloc byte[MacSize];
        Span<byte> actual = stackalloc byte[MacSize];
        var encoded = payload[(bodyLength + SigMember.Length)..^2];
        if (Base64.DecodeFromUtf8(encoded, actual, out var consumed, out var decoded) != OperationStatus.Done || consumed != encoded.Length || decoded != MacSize)
        {
            return SignatureStatus.Malformed;
        }
        ComputeMac(deviceId, key, payload[..bodyLength], expected);
        return CryptographicOperations.FixedTimeEquals(expected, actual) ? SignatureStatus.Valid : SignatureStatus.BadSignature;
    }

    /// <summary>The signed body of <paramref name="payload"/> (without <c>sig</c>), for logging or storage; null when it has no well-placed <c>sig</c>.</summary>
    public static byte[]? StripSignature(ReadOnlySpan<byte> payload)
    {
        if (!TrySplit(payload, out var bodyLength, out _))
        {
            return null;
        }
        var body = new byte[bodyLength + 1];
        payload[..bodyLength].CopyTo(body);
        body[bodyLength] = (byte)'}';
        return body;
    }

    private static bool TrySplit(ReadOnlySpan<byte> payload, out int bodyLength, out SignatureStatus status)
    {
        bodyLength = payload.LastIndexOf(SigMember);
        if (bodyLength < 0)
        {
            status = payload.IndexOf(SigName) >= 0 ? SignatureStatus.Malformed : SignatureStatus.MissingSignature;
            return false;
        }
        var tail = payload[(bodyLength + SigMember.Length)..];
        if (payload[0] != (byte)'{' || bodyLength < 2 || tail.Length < 2 || !tail.EndsWith("\"}"u8) || tail[..^2].IndexOf((byte)'"') >= 0)
        {
            status = SignatureStatus.Malformed;
            return false;
        }
        status = SignatureStatus.Valid;
        return true;
    }

    /// <summary>HMAC-SHA256 over <c>{device}\n</c> + <paramref name="bodyWithoutClosingBrace"/> + <c>}</c>.</summary>
    private static void ComputeMac(string deviceId, ReadOnlySpan<byte> key, ReadOnlySpan<byte> bodyWithoutClosingBrace, Span<byte> mac)
    {
        var length = deviceId.Length + 1 + bodyWithoutClosingBrace.Length + 1;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            // Device ids are ASCII (checked by Identifier.Require), so one char is one byte.
            for (var i = 0; i < deviceId.Length; i++)
            {
                buffer[i] = (byte)deviceId[i];
            }
            buffer[deviceId.Length] = (byte)'\n';
            bodyWithoutClosingBrace.CopyTo(buffer.AsSpan(deviceId.Length + 1));
            buffer[length - 1] = (byte)'}';
            HMACSHA256.HashData(key, buffer.AsSpan(0, length), mac);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void RequireKey(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("The device key is empty; use the 32-byte key issued with the device's credentials (DeviceKeys.Generate).", nameof(key));
        }
    }
}

/// <summary>Device HMAC keys: 32 random bytes, carried as base64.</summary>
public static class DeviceKeys
{
    /// <summary>Key size, bytes.</summary>
    public const int KeySize = 32;

    /// <summary>A new random key, base64.</summary>
    public static string Generate()
    {
        Span<byte> key = stackalloc byte[KeySize];
        RandomNumberGenerator.Fill(key);
        var text = Convert.ToBase64String(key);
        CryptographicOperations.ZeroMemory(key);
        return text;
    }

    /// <summary>Decodes a base64 key; false unless it is exactly <see cref="KeySize"/> bytes.</summary>
    public static bool TryDecode(string? base64, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? key)
    {
        key = null;
        if (base64 is null)
        {
            return false;
        }
        Span<byte> buffer = stackalloc byte[KeySize + 3];
        if (!Convert.TryFromBase64String(base64, buffer, out var n) || n != KeySize)
        {
            return false;
        }
        key = buffer[..KeySize].ToArray();
        return true;
    }
}
