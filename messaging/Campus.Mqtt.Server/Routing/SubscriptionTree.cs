namespace Campus.Mqtt.Server.Routing;

/// <summary>One subscription of one subscriber at one node of the tree.</summary>
internal readonly record struct Subscription<TSubscriber>(TSubscriber Subscriber, byte Qos)
    where TSubscriber : class;

/// <summary>
/// Receives the subscribers that match a topic. Overlapping subscriptions of one subscriber
/// are merged: it is reported once with the highest granted QoS (MQTT 3.1.1, section 3.3.5).
/// Reused across calls, so routing a message allocates nothing once the collector is warm.
/// </summary>
internal sealed class MatchCollector<TSubscriber>
    where TSubscriber : class
{
    private readonly Dictionary<TSubscriber, int> _index = new(ReferenceEqualityComparer.Instance);
    private Subscription<TSubscriber>[] _items = new Subscription<TSubscriber>[16];

    public int Count { get; private set; }

    public ReadOnlySpan<Subscription<TSubscriber>> Items => _items.AsSpan(0, Count);

    public void Add(Subscription<TSubscriber> s)
    {
        if (_index.TryGetValue(s.Subscriber, out var at))
        {
            if (_items[at].Qos < s.Qos) _items[at] = s;
            return;
        }
        if (Count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        _index[s.Subscriber] = Count;
        _items[Count++] = s;
    }

    public void Clear()
    {
        if (Count == 0) return;
        Array.Clear(_items, 0, Count);
        _index.Clear();
        Count = 0;
    }
}

/// <summary>
/// The subscriptions of all sessions as a tree of topic levels, with a '+' and a '#' child at
/// each node. Matching walks the levels of a topic once; a topic on the hot path is a span of
/// chars and no level is ever turned into a string. Readers share a lock; subscribe and
/// unsubscribe take it exclusively (they are rare next to publishes).
/// </summary>
internal sealed class SubscriptionTree<TSubscriber>
    where TSubscriber : class
{
    private readonly Node _root = new();
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private int _count;

    /// <summary>Number of (filter, subscriber) pairs.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds or replaces (same filter, same subscriber) a subscription.</summary>
    public void Subscribe(string filter, TSubscriber subscriber, byte qos)
    {
        _lock.EnterWriteLock();
        try
        {
            var node = _root;
            foreach (var level in new LevelEnumerator(filter)) node = node.GetOrAddChild(level);
            for (var i = 0; i < node.Subscriptions.Count; i++)
            {
                if (ReferenceEquals(node.Subscriptions[i].Subscriber, subscriber))
                {
                    node.Subscriptions[i] = new(subscriber, qos);
                    return;
                }
            }
            node.Subscriptions.Add(new(subscriber, qos));
            _count++;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Removes a subscription; false when there was none.</summary>
    public bool Unsubscribe(string filter, TSubscriber subscriber)
    {
        _lock.EnterWriteLock();
        try
        {
            var path = new List<(Node Parent, string Level, Node Child)>();
            var node = _root;
            foreach (var level in new LevelEnumerator(filter))
            {
                var child = node.FindChild(level);
                if (child is null) return false;
                path.Add((node, level.ToString(), child));
                node = child;
            }
            var removed = false;
            for (var i = 0; i < node.Subscriptions.Count; i++)
            {
                if (ReferenceEquals(node.Subscriptions[i].Subscriber, subscriber))
                {
                    node.Subscriptions.RemoveAt(i);
                    _count--;
                    removed = true;
                    break;
                }
            }
            // Prune empty branches so churn (devices coming and going) does not grow the tree.
            for (var i = path.Count - 1; i >= 0 && path[i].Child.IsEmpty; i--) path[i].Parent.RemoveChild(path[i].Level);
            return removed;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Adds to <paramref name="collector"/> every subscriber whose filter matches <paramref name="topic"/>.</summary>
    public void Match(ReadOnlySpan<char> topic, MatchCollector<TSubscriber> collector)
    {
        _lock.EnterReadLock();
        try
        {
            var dollar = topic.Length > 0 && topic[0] == '$';
            MatchLevel(_root, topic, atEnd: false, first: dollar, collector);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    private static void MatchLevel(Node node, ReadOnlySpan<char> remaining, bool atEnd, bool first, MatchCollector<TSubscriber> collector)
    {
        if (atEnd)
        {
            AddAll(node.Subscriptions, collector);
            if (node.Hash is { } parentHash) AddAll(parentHash.Subscriptions, collector); // "a/#" matches "a"
            return;
        }
        var slash = remaining.IndexOf('/');
        var level = slash < 0 ? remaining : remaining[..slash];
        var rest = slash < 0 ? default : remaining[(slash + 1)..];
        // 'first' is true only at the first level of a '$' topic: wildcards must not match there.
        if (!first)
        {
            if (node.Hash is { } hash) AddAll(hash.Subscriptions, collector);
            if (node.Plus is { } plus) MatchLevel(plus, rest, slash < 0, false, collector);
        }
        if (node.TryGetChild(level, out var child)) MatchLevel(child, rest, slash < 0, false, collector);
    }

    private static void AddAll(List<Subscription<TSubscriber>> subscriptions, MatchCollector<TSubscriber> collector)
    {
        for (var i = 0; i < subscriptions.Count; i++) collector.Add(subscriptions[i]);
    }

    private sealed class Node
    {
        private Dictionary<string, Node>? _children;
        private Dictionary<string, Node>.AlternateLookup<ReadOnlySpan<char>> _lookup;

        public List<Subscription<TSubscriber>> Subscriptions { get; } = [];
        public Node? Plus { get; private set; }
        public Node? Hash { get; private set; }
        public bool IsEmpty => Subscriptions.Count == 0 && Plus is null && Hash is null && (_children is null || _children.Count == 0);

        public bool TryGetChild(ReadOnlySpan<char> level, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Node? child)
        {
            if (_children is null)
            {
                child = null;
                return false;
            }
            return _lookup.TryGetValue(level, out child);
        }

        public Node? FindChild(ReadOnlySpan<char> level) =>
            level is "+" ? Plus : level is "#" ? Hash : TryGetChild(level, out var c) ? c : null;

        public Node GetOrAddChild(ReadOnlySpan<char> level)
        {
            if (level is "+") return Plus ??= new Node();
            if (level is "#") return Hash ??= new Node();
            if (TryGetChild(level, out var existing)) return existing;
            if (_children is null)
            {
                _children = new Dictionary<string, Node>(StringComparer.Ordinal);
                _lookup = _children.GetAlternateLookup<ReadOnlySpan<char>>();
            }
            var node = new Node();
            _children.Add(level.ToString(), node);
            return node;
        }

        public void RemoveChild(string level)
        {
            if (level == "+") Plus = null;
            else if (level == "#") Hash = null;
            else _children?.Remove(level);
        }
    }

    /// <summary>Levels of a filter, split at '/', as spans.</summary>
    private ref struct LevelEnumerator
    {
        private ReadOnlySpan<char> _rest;
        private bool _done;

        public LevelEnumerator(ReadOnlySpan<char> filter) => _rest = filter;

        public ReadOnlySpan<char> Current { get; private set; }

        public readonly LevelEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_done) return false;
            var slash = _rest.IndexOf('/');
            if (slash < 0)
            {
                Current = _rest;
                _done = true;
            }
            else
            {
                Current = _rest[..slash];
                _rest = _rest[(slash + 1)..];
            }
            return true;
        }
    }
}
