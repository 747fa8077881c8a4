using Campus.Grains;
using Campus.Grains.Storage;

namespace Campus.Controller.Grains;

/// <summary>One persisted part of a <see cref="RegistryShards{T}"/>: the entries whose keys hash to it.</summary>
internal sealed class RegistryShard<T>
{
    public Dictionary<string, T> Items { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// A dictionary of the registry persisted as a fixed number of small state entries of the
/// registry grain ("{name}-{shard}"), the shard chosen by a stable hash of the key: a change
/// rewrites one shard (a few dozen entries at 250,000 devices), not the whole registry, and a
/// start reads each shard once. The whole dictionary stays in memory for lookups.
/// </summary>
internal sealed class RegistryShards<T>
{
    private readonly IGrainStorage _storage;
    private readonly GrainId _owner;
    private readonly string _name;
    private readonly GrainState<RegistryShard<T>>[] _shards;
    private readonly Dictionary<string, T> _all = new(StringComparer.Ordinal);

    public RegistryShards(IGrainStorage storage, GrainId owner, string name, int shardCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        _storage = storage;
        _owner = owner;
        _name = name;
        _shards = new GrainState<RegistryShard<T>>[shardCount];
        for (var i = 0; i < shardCount; i++) _shards[i] = new GrainState<RegistryShard<T>>(new RegistryShard<T>());
    }

    public int Count => _all.Count;

    public IEnumerable<T> Values => _all.Values;

    public bool ContainsKey(string key) => _all.ContainsKey(key);

    public bool TryGetValue(string key, out T value) => _all.TryGetValue(key, out value!);

    public T? GetValueOrDefault(string key) => _all.GetValueOrDefault(key);

    /// <summary>Reads every shard (at activation), a few at a time so a database's round trips overlap.</summary>
    public async Task LoadAsync()
    {
        _all.Clear();
        await Parallel.ForAsync(0, _shards.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (i, _) => await _storage.ReadStateAsync(StateName(i), _owner, _shards[i]).ConfigureAwait(false)).ConfigureAwait(false);
        foreach (var shard in _shards)
            foreach (var (key, value) in shard.State.Items) _all[key] = value;
    }

    /// <summary>Sets one entry and writes its shard only.</summary>
    public Task SetAsync(string key, T value)
    {
        var i = ShardOf(key);
        _shards[i].State.Items[key] = value;
        _all[key] = value;
        return _storage.WriteStateAsync(StateName(i), _owner, _shards[i]);
    }

    /// <summary>Sets many entries, writing each touched shard once (bulk upserts; moving an older registry into shards).</summary>
    public async Task SetManyAsync(IEnumerable<KeyValuePair<string, T>> entries)
    {
        var touched = new SortedSet<int>();
        foreach (var (key, value) in entries)
        {
            var i = ShardOf(key);
            _shards[i].State.Items[key] = value;
            _all[key] = value;
            touched.Add(i);
        }
        foreach (var i in touched) await _storage.WriteStateAsync(StateName(i), _owner, _shards[i]).ConfigureAwait(false);
    }

    private string StateName(int shard) => _name + "-" + shard.ToString("x", System.Globalization.CultureInfo.InvariantCulture);

    internal int ShardOf(string key) => (int)(StableHash.Of(key) % (uint)_shards.Length);
}

/// <summary>FNV-1a over a key's UTF-16 code units: stable across processes and versions (string.GetHashCode is not).</summary>
internal static class StableHash
{
    public static uint Of(string key)
    {
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return hash;
    }
}
