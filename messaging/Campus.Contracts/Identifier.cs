namespace Campus.Contracts;

/// <summary>
/// The identifier rule of the topic scheme: 1–32 characters of <c>a-z</c>, <c>0-9</c> and <c>-</c>,
/// starting with a letter or a digit. Schools, rooms, devices and command names follow it.
/// </summary>
public static class Identifier
{
    /// <summary>Longest identifier, in characters.</summary>
    public const int MaxLength = 32;

    /// <summary>True when <paramref name="value"/> is a valid identifier.</summary>
    public static bool IsValid(ReadOnlySpan<char> value) => Check(value) == IdentifierFault.None;

    /// <summary>True when the UTF-8 <paramref name="value"/> is a valid identifier.</summary>
    public static bool IsValid(ReadOnlySpan<byte> value) => Check(value) == IdentifierFault.None;

    internal static IdentifierFault Check(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            return IdentifierFault.Empty;
        }
        if (value.Length > MaxLength)
        {
            return IdentifierFault.TooLong;
        }
        if (value[0] == '-')
        {
            return IdentifierFault.BadStart;
        }
        foreach (var c in value)
        {
            if (!IsAllowed(c))
            {
                return IdentifierFault.BadCharacter;
            }
        }
        return IdentifierFault.None;
    }

    internal static IdentifierFault Check(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return IdentifierFault.Empty;
        }
        if (value.Length > MaxLength)
        {
            return IdentifierFault.TooLong;
        }
        if (value[0] == (byte)'-')
        {
            return IdentifierFault.BadStart;
        }
        foreach (var b in value)
        {
            if (!IsAllowed((char)b))
            {
                return IdentifierFault.BadCharacter;
            }
        }
        return IdentifierFault.None;
    }

    internal static bool IsAllowed(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-';

    /// <summary>Throws <see cref="ArgumentException"/> naming the segment and the fault when the value is not an identifier.</summary>
    internal static string Require(string? value, string segment, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        var fault = Check(value);
        if (fault != IdentifierFault.None)
        {
            throw new ArgumentException(Describe(value, segment, fault), paramName);
        }
        return value;
    }

    internal static string Describe(ReadOnlySpan<char> value, string segment, IdentifierFault fault)
    {
        switch (fault)
        {
            case IdentifierFault.Empty:
                return $"The {segment} segment is empty; it needs 1-{MaxLength} characters of a-z, 0-9 or '-'.";
            case IdentifierFault.TooLong:
                return $"The {segment} segment has {value.Length} characters; at most {MaxLength} are allowed.";
            case IdentifierFault.BadStart:
                return $"The {segment} segment '{value}' starts with '-'; it must start with a-z or 0-9.";
            default:
                var at = 0;
                while (at < value.Length && IsAllowed(value[at]))
                {
                    at++;
                }
                var shown = at < value.Length ? $"'{value[at]}' (U+{(int)value[at]:X4})" : "?";
                return $"The {segment} segment '{value}' has {shown} at position {at}; only a-z, 0-9 and '-' are allowed.";
        }
    }
}

internal enum IdentifierFault
{
    None,
    Empty,
    TooLong,
    BadStart,
    BadCharacter,
}
