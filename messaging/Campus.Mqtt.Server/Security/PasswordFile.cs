using System.Security.Cryptography;
using System.Text;

namespace Campus.Mqtt.Server.Security;

/// <summary>
/// Users and password hashes in mosquitto_passwd's format, one <c>user:hash</c> a line.
/// Reads <c>$7$ITERATIONS$SALT$HASH</c> (PBKDF2-HMAC-SHA512, base64 salt and hash) and the
/// older <c>$6$SALT$HASH</c> (SHA-512 over password then salt); writes <c>$7$</c> entries only.
/// </summary>
public sealed class PasswordFile
{
    /// <summary>mosquitto_passwd's iteration count for new entries.</summary>
    public const int DefaultIterations = 101;
    private const int SaltBytes = 12;
    private const int HashBytes = 64;

    private readonly Dictionary<string, string> _entries;

    private PasswordFile(Dictionary<string, string> entries) => _entries = entries;

    public int Count => _entries.Count;

    public static PasswordFile Empty() => new(new Dictionary<string, string>(StringComparer.Ordinal));

    /// <summary>Reads a password file; lines that are empty or start with '#' are skipped.</summary>
    /// <exception cref="FormatException">A line is not <c>user:hash</c> or the hash is of an unknown kind.</exception>
    public static PasswordFile Load(string path)
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r', '\n', ' ', '\t');
            if (line.Length == 0 || line[0] == '#') continue;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == line.Length - 1)
                throw new FormatException($"{path}:{lineNumber}: expected 'user:hash', got a line without both parts.");
            var user = line[..colon];
            var hash = line[(colon + 1)..];
            if (!IsKnownHash(hash))
                throw new FormatException($"{path}:{lineNumber}: the hash of user '{user}' is neither a $7$ (PBKDF2-SHA512) nor a $6$ (SHA-512) entry; plain passwords are not accepted.");
            entries[user] = hash;
        }
        return new PasswordFile(entries);
    }

    public bool Contains(string user) => _entries.ContainsKey(user);

    /// <summary>True when <paramref name="user"/> exists and <paramref name="password"/> matches its hash.</summary>
    public bool Verify(string user, ReadOnlySpan<byte> password)
    {
        if (!_entries.TryGetValue(user, out var hash)) return false;
        return VerifyHash(hash, password);
    }

    /// <summary>Adds or replaces <paramref name="user"/> with a freshly salted $7$ hash of <paramref name="password"/>.</summary>
    public void Set(string user, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        if (user.Contains(':', StringComparison.Ordinal)) throw new ArgumentException("A user name in a password file cannot contain ':'.", nameof(user));
        _entries[user] = Hash(Encoding.UTF8.GetBytes(password), DefaultIterations);
    }

    /// <summary>Writes all entries, replacing the file.</summary>
    public void Save(string path)
    {
        var text = new StringBuilder();
        foreach (var (user, hash) in _entries) text.Append(user).Append(':').Append(hash).Append('\n');
        var temp = path + ".tmp";
        File.WriteAllText(temp, text.ToString());
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Adds or replaces one user in the file at <paramref name="path"/> (created when missing).</summary>
    public static void AddOrReplace(string path, string user, string password)
    {
        var file = File.Exists(path) ? Load(path) : Empty();
        file.Set(user, password);
        file.Save(path);
    }

    internal static string Hash(ReadOnlySpan<byte> password, int iterations)
    {
        Span<byte> salt = stackalloc byte[SaltBytes];
        RandomNumberGenerator.Fill(salt);
        Span<byte> hash = stackalloc byte[HashBytes];
        Rfc2898DeriveBytes.Pbkdf2(password, salt, hash, iterations, HashAlgorithmName.SHA512);
        return $"$7${iterations.ToString(System.Globalization.CultureInfo.InvariantCulture)}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    private static bool IsKnownHash(string hash)
    {
        var parts = hash.Split('$');
        // "$7$101$salt$hash" splits into "", "7", "101", salt, hash; "$6$salt$hash" into "", "6", salt, hash.
        return parts is ["", "7", _, _, _] && int.TryParse(parts[2], out var n) && n > 0 && IsBase64(parts[3]) && IsBase64(parts[4])
            || parts is ["", "6", _, _] && IsBase64(parts[2]) && IsBase64(parts[3]);
    }

    private static bool IsBase64(string s)
    {
        Span<byte> buffer = stackalloc byte[256];
        return s.Length > 0 && s.Length <= 340 && Convert.TryFromBase64String(s, buffer, out _);
    }

    private static bool VerifyHash(string hash, ReadOnlySpan<byte> password)
    {
        var parts = hash.Split('$');
        if (parts is ["", "7", _, _, _])
        {
            var iterations = int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
            var salt = Convert.FromBase64String(parts[3]);
            var expected = Convert.FromBase64String(parts[4]);
            Span<byte> actual = stackalloc byte[expected.Length];
            Rfc2898DeriveBytes.Pbkdf2(password, salt, actual, iterations, HashAlgorithmName.SHA512);
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        if (parts is ["", "6", _, _])
        {
            var salt = Convert.FromBase64String(parts[2]);
            var expected = Convert.FromBase64String(parts[3]);
            var input = new byte[password.Length + salt.Length];
            password.CopyTo(input);
            salt.CopyTo(input.AsSpan(password.Length));
            var actual = SHA512.HashData(input);
            CryptographicOperations.ZeroMemory(input);
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        return false;
    }
}
