using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;

namespace Campus.Grains.Storage;

/// <summary>
/// Keeps state in process memory, serialised as JSON (so a grain never shares an object with storage),
/// with the same etag rules as the database providers. For tests and throw-away runs.
/// </summary>
internal sealed class MemoryGrainStorage(GrainStorageOptions options) : IGrainStorage
{
    private readonly ConcurrentDictionary<(string State, GrainId Id), Entry> _rows = new();
    private long _version;

    private sealed record Entry(byte[] Json, string ETag);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_rows.TryGetValue((stateName, grainId), out var e))
        {
            grainState.State = JsonSerializer.Deserialize<T>(e.Json, options.SerializerOptions)!;
            grainState.ETag = e.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = StateFactory<T>.New();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(grainState.State, options.SerializerOptions);
        var key = (stateName, grainId);
        var etag = NextEtag();
        while (true)
        {
            if (grainState.ETag is null)
            {
                if (_rows.TryAdd(key, new Entry(json, etag))) break;
            }
            else if (_rows.TryGetValue(key, out var current) && current.ETag == grainState.ETag)
            {
                if (_rows.TryUpdate(key, new Entry(json, etag), current)) break;
                continue;
            }
            _rows.TryGetValue(key, out var stored);
            throw InconsistentStateException.For("Write", stateName, grainId, stored?.ETag, grainState.ETag);
        }
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        _rows.TryGetValue(key, out var current);
        if (current?.ETag != grainState.ETag
            || (current is not null && !_rows.TryRemove(new KeyValuePair<(string, GrainId), Entry>(key, current))))
        {
            _rows.TryGetValue(key, out var stored);
            throw InconsistentStateException.For("Clear", stateName, grainId, stored?.ETag, grainState.ETag);
        }
        grainState.State = StateFactory<T>.New();
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private string NextEtag() => Interlocked.Increment(ref _version).ToString(CultureInfo.InvariantCulture);
}
