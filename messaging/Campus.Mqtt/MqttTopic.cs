using System.Text.Unicode;

namespace Campus.Mqtt;

/// <summary>
/// Topic names and topic filters (MQTT 3.1.1, section 4.7): validation and matching.
/// Matching follows the spec's rule that a filter starting with a wildcard does not match a
/// topic name starting with '$'. Both work on strings and on UTF-8 bytes; '/', '+', '#' and '$'
/// are ASCII, so byte-wise matching of UTF-8 is exact.
/// </summary>
public static class MqttTopic
{
    /// <summary>The longest topic (name or filter) an MQTT string can carry, in UTF-8 bytes.</summary>
    public const int MaximumLength = ushort.MaxValue;

    /// <summary>True when <paramref name="topicName"/> can be published to: non-empty, no wildcards, no U+0000, at most 65,535 UTF-8 bytes.</summary>
    public static bool IsValidTopicName(string topicName) => topicName is not null && DescribeInvalidTopicName(topicName.AsSpan()) is null;

    /// <summary>True when <paramref name="topicFilter"/> can be subscribed to: non-empty, '#' only as the last level, '+' and '#' alone in their level.</summary>
    public static bool IsValidTopicFilter(string topicFilter) => topicFilter is not null && DescribeInvalidTopicFilter(topicFilter.AsSpan()) is null;

    /// <inheritdoc cref="IsValidTopicName(string)"/>
    public static bool IsValidTopicName(ReadOnlySpan<byte> utf8TopicName) => DescribeInvalidTopicName(utf8TopicName) is null;

    /// <inheritdoc cref="IsValidTopicFilter(string)"/>
    public static bool IsValidTopicFilter(ReadOnlySpan<byte> utf8TopicFilter) => DescribeInvalidTopicFilter(utf8TopicFilter) is null;

    /// <summary>Does the topic name match the topic filter? Both must be valid.</summary>
    public static bool Matches(string topicName, string topicFilter)
    {
        ArgumentNullException.ThrowIfNull(topicName);
        ArgumentNullException.ThrowIfNull(topicFilter);
        return Matches(topicName.AsSpan(), topicFilter.AsSpan(), '/', '+', '#', '$');
    }

    /// <summary>Does the UTF-8 topic name match the UTF-8 topic filter? Both must be valid.</summary>
    public static bool Matches(ReadOnlySpan<byte> utf8TopicName, ReadOnlySpan<byte> utf8TopicFilter) =>
        Matches(utf8TopicName, utf8TopicFilter, (byte)'/', (byte)'+', (byte)'#', (byte)'$');

    /// <summary>Throws <see cref="ArgumentException"/> naming the rule when the topic name is invalid.</summary>
    public static void ThrowIfInvalidTopicName(string topicName, string? paramName = null)
    {
        ArgumentNullException.ThrowIfNull(topicName, paramName);
        var error = DescribeInvalidTopicName(topicName.AsSpan());
        if (error is not null) throw new ArgumentException($"The topic name '{topicName}' is invalid: {error}", paramName);
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the rule when the topic filter is invalid.</summary>
    public static void ThrowIfInvalidTopicFilter(string topicFilter, string? paramName = null)
    {
        ArgumentNullException.ThrowIfNull(topicFilter, paramName);
        var error = DescribeInvalidTopicFilter(topicFilter.AsSpan());
        if (error is not null) throw new ArgumentException($"The topic filter '{topicFilter}' is invalid: {error}", paramName);
    }

    internal static string? DescribeInvalidTopicName(ReadOnlySpan<byte> utf8)
    {
        var common = DescribeInvalidUtf8(utf8);
        if (common is not null) return common;
        if (utf8.IndexOfAny((byte)'+', (byte)'#') >= 0) return "a topic name must not contain the wildcards '+' or '#'";
        return null;
    }

    internal static string? DescribeInvalidTopicFilter(ReadOnlySpan<byte> utf8)
    {
        var common = DescribeInvalidUtf8(utf8);
        return common ?? DescribeInvalidLevels(utf8, (byte)'/', (byte)'+', (byte)'#');
    }

    internal static string? DescribeInvalidTopicName(ReadOnlySpan<char> topic)
    {
        var common = DescribeInvalidUtf16(topic);
        if (common is not null) return common;
        if (topic.IndexOfAny('+', '#') >= 0) return "a topic name must not contain the wildcards '+' or '#'";
        return null;
    }

    internal static string? DescribeInvalidTopicFilter(ReadOnlySpan<char> topic)
    {
        var common = DescribeInvalidUtf16(topic);
        return common ?? DescribeInvalidLevels(topic, '/', '+', '#');
    }

    private static string? DescribeInvalidUtf8(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return "it must be at least one character long";
        if (utf8.Length > MaximumLength) return $"it is {utf8.Length} UTF-8 bytes long, at most {MaximumLength} are allowed";
        if (!Utf8.IsValid(utf8)) return "it is not well-formed UTF-8";
        if (utf8.IndexOf((byte)0) >= 0) return "it must not contain U+0000";
        return null;
    }

    private static string? DescribeInvalidUtf16(ReadOnlySpan<char> topic)
    {
        if (topic.IsEmpty) return "it must be at least one character long";
        var utf8Length = 0;
        for (var i = 0; i < topic.Length; i++)
        {
            var c = topic[i];
            if (c == '\0') return "it must not contain U+0000";
            if (c < 0x80) utf8Length += 1;
            else if (c < 0x800) utf8Length += 2;
            else if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= topic.Length || !char.IsLowSurrogate(topic[i + 1])) return "it contains an unpaired surrogate";
                utf8Length += 4;
                i++;
            }
            else if (char.IsLowSurrogate(c)) return "it contains an unpaired surrogate";
            else utf8Length += 3;
        }
        if (utf8Length > MaximumLength) return $"it is {utf8Length} UTF-8 bytes long, at most {MaximumLength} are allowed";
        return null;
    }

    private static string? DescribeInvalidLevels<T>(ReadOnlySpan<T> filter, T slash, T plus, T hash)
        where T : IEquatable<T>
    {
        var start = 0;
        while (true)
        {
            var rest = filter[start..];
            var length = rest.IndexOf(slash);
            var last = length < 0;
            var level = last ? rest : rest[..length];
            if (level.IndexOf(hash) >= 0)
            {
                if (level.Length != 1) return "the wildcard '#' must occupy a whole level";
                if (!last) return "the wildcard '#' must be the last level";
            }
            if (level.IndexOf(plus) >= 0 && level.Length != 1) return "the wildcard '+' must occupy a whole level";
            if (last) return null;
            start += length + 1;
        }
    }

    private static bool Matches<T>(ReadOnlySpan<T> topic, ReadOnlySpan<T> filter, T slash, T plus, T hash, T dollar)
        where T : IEquatable<T>
    {
        if (topic.IsEmpty || filter.IsEmpty) return false;
        if (topic[0].Equals(dollar) && (filter[0].Equals(plus) || filter[0].Equals(hash))) return false;
        while (true)
        {
            if (filter.Length == 1 && filter[0].Equals(hash)) return true;
            var fEnd = filter.IndexOf(slash);
            var tEnd = topic.IndexOf(slash);
            var filterLevel = fEnd < 0 ? filter : filter[..fEnd];
            var topicLevel = tEnd < 0 ? topic : topic[..tEnd];
            if (!(filterLevel.Length == 1 && filterLevel[0].Equals(plus)) && !filterLevel.SequenceEqual(topicLevel)) return false;
            if (fEnd < 0) return tEnd < 0;
            if (tEnd < 0)
            {
                // "a/#" also matches the parent level "a".
                var restOfFilter = filter[(fEnd + 1)..];
                return restOfFilter.Length == 1 && restOfFilter[0].Equals(hash);
            }
            filter = filter[(fEnd + 1)..];
            topic = topic[(tEnd + 1)..];
        }
    }
}
