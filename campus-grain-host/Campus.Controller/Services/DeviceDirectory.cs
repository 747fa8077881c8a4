using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Campus.Contracts;
using Campus.Controller.Grains;

namespace Campus.Controller.Services;

/// <summary>Where a registered device lives, and the hash of its MQTT password.</summary>
public sealed record DeviceEntry(string Device, string School, string Room, DeviceKind Kind, string PasswordHash, string PasswordSalt);

/// <summary>
/// The registered devices, in memory, for the hot paths: routing and checking every message
/// and the broker's credential check at connect. Filled by the registry grain (which owns the
/// persisted truth) at start and on every change.
/// </summary>
public sealed class DeviceDirectory
{
    private readonly ConcurrentDictionary<string, Registration> _devices = new(StringComparer.Ordinal);

    public int Count => _devices.Count;

    /// <summary>True once the registry has loaded its devices.</summary>
    public bool Loaded { get; internal set; }

    public bool TryGet(string device, out DeviceEntry entry)
    {
        var found = _devices.TryGetValue(device, out var registration);
        entry = registration?.Entry!;
        return found;
    }

    /// <summary>The device's registration, with the reference to its grain that ingestion keeps there.</summary>
    internal bool TryGetRegistration(string device, [MaybeNullWhen(false)] out Registration registration) => _devices.TryGetValue(device, out registration);

    internal void Set(DeviceEntry entry) => _devices[entry.Device] = new Registration(entry);

    /// <summary>One registered device. A change of the registration replaces it, and with it the grain reference.</summary>
    internal sealed class Registration(DeviceEntry entry)
    {
        public DeviceEntry Entry { get; } = entry;

        /// <summary>
        /// The device's grain, made at its first message (a reference is made once, not per message). A device
        /// that went quiet keeps it, and with it the emptied shell of its last activation until its next message
        /// (some hundreds of bytes per registered device).
        /// </summary>
        public IDeviceGrain? Grain { get; set; }
    }

    /// <summary>Checks a device's MQTT password (constant time).</summary>
    public bool CheckPassword(string device, ReadOnlySpan<byte> password)
    {
        if (!_devices.TryGetValue(device, out var r)) return false;
        return Secrets.Verify(password, r.Entry.PasswordSalt, r.Entry.PasswordHash);
    }
}

/// <summary>
/// Device secrets. MQTT passwords are 256-bit random values, so a salted SHA-256 is enough to
/// keep them from being read back (key stretching protects guessable human passwords, which
/// these are not, and would make thousands of devices reconnecting at once expensive).
/// </summary>
internal static class Secrets
{
    public static string NewPassword() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string NewHmacKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static (string Hash, string Salt) Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        return (Convert.ToBase64String(Digest(Encoding.UTF8.GetBytes(password), salt)), Convert.ToBase64String(salt));
    }

    public static bool Verify(ReadOnlySpan<byte> password, string salt, string hash)
    {
        var expected = Convert.FromBase64String(hash);
        var actual = Digest(password, Convert.FromBase64String(salt));
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    private static byte[] Digest(ReadOnlySpan<byte> password, byte[] salt)
    {
        var buffer = new byte[salt.Length + password.Length];
        salt.CopyTo(buffer, 0);
        password.CopyTo(buffer.AsSpan(salt.Length));
        return SHA256.HashData(buffer);
    }
}
