using Campus.Mqtt.Server.Routing;

namespace Campus.Mqtt.Server.Security;

/// <summary>What an ACL rule grants.</summary>
internal enum AclAccess
{
    Read = 1,
    Write = 2,
    ReadWrite = 3,
    Deny = 4,
}

internal readonly record struct AclRule(AclAccess Access, string Filter);

/// <summary>
/// Topic access rules in Mosquitto's acl_file format:
/// <code>
/// # rules before the first 'user' line apply to anonymous clients
/// topic read campus/v1/+/+/+/+/status
/// user dashboard
/// topic readwrite campus/#
/// # patterns apply to every client; %c is the client id, %u the user name
/// pattern readwrite campus/v1/+/+/+/%c/#
/// </code>
/// The access word is optional (readwrite) and may also be <c>deny</c>, which wins over grants.
/// With an ACL file in force, anything no rule grants is refused.
/// </summary>
internal sealed class AclFile
{
    private readonly List<AclRule> _anonymous = [];
    private readonly Dictionary<string, List<AclRule>> _users = new(StringComparer.Ordinal);
    private readonly List<AclRule> _patterns = [];

    public static AclFile Load(string path) => Parse(File.ReadLines(path), path);

    public static AclFile Parse(IEnumerable<string> lines, string source = "acl")
    {
        var acl = new AclFile();
        List<AclRule> current = acl._anonymous;
        var lineNumber = 0;
        foreach (var raw in lines)
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var space = line.IndexOfAny([' ', '\t']);
            var keyword = space < 0 ? line : line[..space];
            var rest = space < 0 ? "" : line[(space + 1)..].TrimStart();
            switch (keyword)
            {
                case "user":
                    if (rest.Length == 0) throw new FormatException($"{source}:{lineNumber}: 'user' needs a user name.");
                    if (!acl._users.TryGetValue(rest, out var list)) acl._users[rest] = list = [];
                    current = list;
                    break;
                case "topic":
                    current.Add(ParseRule(rest, source, lineNumber));
                    break;
                case "pattern":
                    acl._patterns.Add(ParseRule(rest, source, lineNumber));
                    break;
                default:
                    throw new FormatException($"{source}:{lineNumber}: expected 'user', 'topic' or 'pattern', got '{keyword}'.");
            }
        }
        return acl;
    }

    private static AclRule ParseRule(string rest, string source, int lineNumber)
    {
        var access = AclAccess.ReadWrite;
        var space = rest.IndexOfAny([' ', '\t']);
        if (space > 0)
        {
            var word = rest[..space];
            AclAccess? parsed = word switch
            {
                "read" => AclAccess.Read,
                "write" => AclAccess.Write,
                "readwrite" => AclAccess.ReadWrite,
                "deny" => AclAccess.Deny,
                _ => null,
            };
            if (parsed is { } a)
            {
                access = a;
                rest = rest[(space + 1)..].TrimStart();
            }
        }
        if (!TopicMatch.IsValidFilter(rest.Replace("%c", "x", StringComparison.Ordinal).Replace("%u", "x", StringComparison.Ordinal)))
            throw new FormatException($"{source}:{lineNumber}: '{rest}' is not a valid topic filter.");
        return new AclRule(access, rest);
    }

    /// <summary>True when the file has a <c>user</c> section for <paramref name="userName"/>.</summary>
    public bool HasUserSection(string userName) => _users.ContainsKey(userName);

    /// <summary>The rules in force for one connection.</summary>
    public ClientAcl ForClient(string clientId, string? userName)
    {
        var rules = new List<AclRule>();
        if (userName is null) rules.AddRange(_anonymous);
        else if (_users.TryGetValue(userName, out var own)) rules.AddRange(own);
        foreach (var p in _patterns)
        {
            var filter = p.Filter;
            if (filter.Contains("%u", StringComparison.Ordinal))
            {
                // A pattern naming the user cannot apply to an anonymous client; names with
                // wildcards or level separators would widen the rule, so they never match either.
                if (userName is null || !IsPlainLevel(userName)) continue;
                filter = filter.Replace("%u", userName, StringComparison.Ordinal);
            }
            if (filter.Contains("%c", StringComparison.Ordinal))
            {
                if (!IsPlainLevel(clientId)) continue;
                filter = filter.Replace("%c", clientId, StringComparison.Ordinal);
            }
            rules.Add(p with { Filter = filter });
        }
        return new ClientAcl([.. rules]);
    }

    private static bool IsPlainLevel(string value) => value.Length > 0 && value.AsSpan().IndexOfAny('+', '#', '/') < 0;
}

/// <summary>The ACL rules of one connection, expanded for its client id and user name.</summary>
internal sealed class ClientAcl
{
    private readonly AclRule[] _rules;

    public ClientAcl(AclRule[] rules) => _rules = rules;

    /// <summary>True when the client may publish to <paramref name="topic"/>.</summary>
    public bool CanPublish(ReadOnlySpan<char> topic) => Check(topic, AclAccess.Write);

    /// <summary>True when the client may receive a message published to <paramref name="topic"/>.</summary>
    public bool CanReceive(ReadOnlySpan<char> topic) => Check(topic, AclAccess.Read);

    /// <summary>True when some read rule covers every topic of <paramref name="filter"/> and no deny rule overlaps it.</summary>
    public bool CanSubscribe(ReadOnlySpan<char> filter)
    {
        var granted = false;
        foreach (var rule in _rules)
        {
            if (rule.Access == AclAccess.Deny)
            {
                if (TopicMatch.Covers(rule.Filter, filter) || TopicMatch.Covers(filter, rule.Filter)) return false;
            }
            else if ((rule.Access & AclAccess.Read) != 0 && TopicMatch.Covers(rule.Filter, filter))
            {
                granted = true;
            }
        }
        return granted;
    }

    private bool Check(ReadOnlySpan<char> topic, AclAccess wanted)
    {
        var granted = false;
        foreach (var rule in _rules)
        {
            if (rule.Access == AclAccess.Deny)
            {
                if (TopicMatch.Matches(rule.Filter, topic)) return false;
            }
            else if (!granted && (rule.Access & wanted) != 0 && TopicMatch.Matches(rule.Filter, topic))
            {
                granted = true;
            }
        }
        return granted;
    }
}
