using System.Collections.Concurrent;
using System.Text.Json;
using Campus.Grains;
using Campus.Grains.Storage;

namespace Campus.Controller.Tests.Registry;

/// <summary>
/// Grain storage in memory (JSON, etags) that records every write; it outlives a cluster. <see cref="Refuse"/>
/// makes chosen writes fail, as a storage that is down would.
/// </summary>
internal sealed class CountingStorage : IGrainStorage
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private long _etag;

    public ConcurrentDictionary<(string State, GrainId Id), (byte[] Json, string ETag)> Rows { get; } = new();
    public ConcurrentQueue<(string State, string Key, int Bytes)> Writes { get; } = new();

    /// <summary>While set, a write of a state it matches fails with an <see cref="IOException"/>.</summary>
    public Func<string, GrainId, bool>? Refuse { get; set; }

    /// <summary>How many writes <see cref="Refuse"/> made fail.</summary>
    public int Refused => _refused;

    private int _refused;

    /// <summary>The version <see cref="ChangeVersionBehind"/> gives a stored state.</summary>
    public const string VersionChangedBehind = "written-but-not-answered";

    /// <summary>Gives a stored state a version its grain never saw, as a write whose commit went through while its answer was lost would.</summary>
    public void ChangeVersionBehind(string state, GrainId id) => Rows[(state, id)] = (Rows[(state, id)].Json, VersionChangedBehind);

    public void Put<T>(string state, GrainId id, T value) => Rows[(state, id)] = (JsonSerializer.SerializeToUtf8Bytes(value, Json), "legacy");

    public T Get<T>(string state) => JsonSerializer.Deserialize<T>(Rows.Single(r => r.Key.State == state).Value.Json, Json)!;

    public T Get<T>(string state, string key) => JsonSerializer.Deserialize<T>(Rows.Single(r => r.Key.State == state && r.Key.Id.Key == key).Value.Json, Json)!;

    /// <summary>The stored states whose name starts with <paramref name="prefix"/>, by name.</summary>
    public IEnumerable<(string State, T Value)> All<T>(string prefix) =>
        Rows.Where(r => r.Key.State.StartsWith(prefix, StringComparison.Ordinal))
            .OrderBy(r => r.Key.State, StringComparer.Ordinal)
            .Select(r => (r.Key.State, JsonSerializer.Deserialize<T>(r.Value.Json, Json)!));

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (Rows.TryGetValue((stateName, grainId), out var row))
        {
            grainState.State = JsonSerializer.Deserialize<T>(row.Json, Json)!;
            grainState.ETag = row.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (Refuse?.Invoke(stateName, grainId) == true)
        {
            Interlocked.Increment(ref _refused);
            throw new IOException("simulated grain storage outage");
        }
        var key = (stateName, grainId);
        var stored = Rows.TryGetValue(key, out var row) ? row.ETag : null;
        if (stored != grainState.ETag) throw new InconsistentStateException("etag mismatch", stored, grainState.ETag);
        var json = JsonSerializer.SerializeToUtf8Bytes(grainState.State, Json);
        var etag = Interlocked.Increment(ref _etag).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Rows[key] = (json, etag);
        grainState.ETag = etag;
        grainState.RecordExists = true;
        Writes.Enqueue((stateName, grainId.Key, json.Length));
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Rows.TryRemove((stateName, grainId), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
