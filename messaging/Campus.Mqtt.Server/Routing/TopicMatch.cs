namespace Campus.Mqtt.Server.Routing;

/// <summary>
/// MQTT 3.1.1 topic/filter comparison on spans (no allocation): <c>+</c> matches one level,
/// <c>#</c> the rest (including the parent level), and filters starting with a wildcard do not
/// match topics starting with <c>$</c>.
/// </summary>
internal static class TopicMatch
{
    /// <summary>True when <paramref name="topic"/> (no wildcards) is matched by <paramref name="filter"/>.</summary>
    public static bool Matches(ReadOnlySpan<char> filter, ReadOnlySpan<char> topic)
    {
        if (topic.Length > 0 && topic[0] == '$' && filter.Length > 0 && filter[0] is '+' or '#') return false;
        while (true)
        {
            var fs = filter.IndexOf('/');
            var fl = fs < 0 ? filter : filter[..fs];
            if (fl is "#") return true;
            var ts = topic.IndexOf('/');
            var tl = ts < 0 ? topic : topic[..ts];
            if (!(fl is "+" || fl.SequenceEqual(tl))) return false;
            if (fs < 0 || ts < 0)
            {
                // Both must end here, except that "a/#" also matches "a".
                if (fs < 0 && ts < 0) return true;
                return ts < 0 && filter[(fs + 1)..] is "#";
            }
            filter = filter[(fs + 1)..];
            topic = topic[(ts + 1)..];
        }
    }

    /// <summary>
    /// True when every topic that <paramref name="inner"/> matches is also matched by
    /// <paramref name="outer"/> (used to decide whether an ACL rule allows a subscription).
    /// </summary>
    public static bool Covers(ReadOnlySpan<char> outer, ReadOnlySpan<char> inner)
    {
        // A wildcard first level never reaches '$' topics.
        if (inner.Length > 0 && inner[0] == '$' && outer.Length > 0 && outer[0] is '+' or '#') return false;
        while (true)
        {
            var os = outer.IndexOf('/');
            var ol = os < 0 ? outer : outer[..os];
            if (ol is "#") return true;
            var @is = inner.IndexOf('/');
            var il = @is < 0 ? inner : inner[..@is];
            if (il is "#") return false; // only '#' covers '#'
            if (ol is "+") { /* covers any single level, including '+' */ }
            else if (il is "+" || !ol.SequenceEqual(il)) return false;
            if (os < 0 || @is < 0)
            {
                if (os < 0 && @is < 0) return true;
                // inner "a/#"-style tails are handled above; outer "a/#" covers inner "a".
                return @is < 0 && outer[(os + 1)..] is "#";
            }
            outer = outer[(os + 1)..];
            inner = inner[(@is + 1)..];
        }
    }

    /// <summary>True for a valid filter: levels of '+' or '#' alone, '#' only last, no NUL.</summary>
    public static bool IsValidFilter(ReadOnlySpan<char> filter)
    {
        if (filter.IsEmpty) return false;
        for (var i = 0; i < filter.Length; i++)
        {
            var c = filter[i];
            if (c == '\0') return false;
            if (c is '+' or '#')
            {
                if (i > 0 && filter[i - 1] != '/') return false;
                if (i + 1 < filter.Length && filter[i + 1] != '/') return false;
                if (c == '#' && i != filter.Length - 1) return false;
            }
        }
        return true;
    }

    /// <summary>True for a valid topic name to publish to: not empty, no wildcards, no NUL.</summary>
    public static bool IsValidTopic(ReadOnlySpan<char> topic) => !topic.IsEmpty && topic.IndexOfAny('+', '#', '\0') < 0;
}
