namespace Campus.Grains.Storage;

/// <summary>A grain's view of one persisted state, injected with <see cref="PersistentStateAttribute"/>.</summary>
public interface IPersistentState<TState> : IStorage<TState>;

/// <summary>State plus the operations that load and save it.</summary>
public interface IStorage<TState> : IStorage
{
    /// <summary>The state; a fresh instance (parameterless constructor) until something was written.</summary>
    TState State { get; set; }
}

/// <summary>The untyped half of <see cref="IStorage{TState}"/>.</summary>
public interface IStorage
{
    /// <summary>The version of the stored record this grain last read or wrote; null when there is none.</summary>
    string? Etag { get; }

    /// <summary>Whether a record exists in storage.</summary>
    bool RecordExists { get; }

    Task ReadStateAsync();

    /// <summary>Writes the state; throws <see cref="InconsistentStateException"/> when someone else wrote since we read.</summary>
    Task WriteStateAsync();

    /// <summary>Deletes the record and resets the state to a fresh instance.</summary>
    Task ClearStateAsync();
}

/// <summary>The state, etag and existence flag that a storage provider reads and updates.</summary>
public interface IGrainState<T>
{
    T State { get; set; }
    string? ETag { get; set; }
    bool RecordExists { get; set; }
}

/// <summary>A plain <see cref="IGrainState{T}"/>.</summary>
public sealed class GrainState<T>(T state) : IGrainState<T>
{
    public T State { get; set; } = state;
    public string? ETag { get; set; }
    public bool RecordExists { get; set; }
}

/// <summary>
/// A storage provider. Read fills the state (or leaves a fresh one with a null etag when there is no
/// record); Write and Clear check the etag and throw <see cref="InconsistentStateException"/> on a mismatch.
/// </summary>
public interface IGrainStorage
{
    Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState);
    Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState);
    Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState);
}

/// <summary>A write or clear found another version in storage than the one the grain holds.</summary>
public sealed class InconsistentStateException : Exception
{
    public InconsistentStateException(string message, string? storedEtag, string? currentEtag)
        : base(message)
    {
        StoredEtag = storedEtag;
        CurrentEtag = currentEtag;
    }

    public InconsistentStateException() : this("The stored state changed since it was read.", null, null) { }
    public InconsistentStateException(string message) : this(message, null, null) { }
    public InconsistentStateException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The etag found in storage (null: no record).</summary>
    public string? StoredEtag { get; }

    /// <summary>The etag the writer held (null: it believed there was no record).</summary>
    public string? CurrentEtag { get; }

    internal static InconsistentStateException For(string operation, string stateName, GrainId id, string? stored, string? current) =>
        new($"{operation} of state '{stateName}' of grain {id} failed: storage holds etag '{stored ?? "(no record)"}' but the grain holds '{current ?? "(no record)"}'. Another writer changed it; re-read the state and retry.",
            stored, current);
}

/// <summary>Options shared by the storage providers: how state is serialised.</summary>
public sealed class GrainStorageOptions
{
    /// <summary>
    /// System.Text.Json options (set TypeInfoResolver to a JsonSerializerContext for source-generated
    /// serialisation). Default: web defaults.
    /// </summary>
    public System.Text.Json.JsonSerializerOptions SerializerOptions { get; set; } = new(System.Text.Json.JsonSerializerDefaults.Web);
}
