namespace Campus.Grains.Storage;

/// <summary>The <see cref="IPersistentState{TState}"/> handed to a grain: binds one state to a provider.</summary>
internal sealed class PersistentState<TState> : IPersistentState<TState>, IGrainState<TState>, IPersistentStateLoader
{
    private readonly string _stateName;
    private readonly GrainId _grainId;
    private readonly IGrainStorage _storage;

    public PersistentState(string stateName, GrainId grainId, IGrainStorage storage)
    {
        _stateName = stateName;
        _grainId = grainId;
        _storage = storage;
        State = StateFactory<TState>.New();
    }

    public TState State { get; set; }
    public string? Etag { get; set; }
    public bool RecordExists { get; set; }

    string? IGrainState<TState>.ETag { get => Etag; set => Etag = value; }

    public Task ReadStateAsync() => _storage.ReadStateAsync(_stateName, _grainId, this);
    public Task WriteStateAsync() => _storage.WriteStateAsync(_stateName, _grainId, this);
    public Task ClearStateAsync() => _storage.ClearStateAsync(_stateName, _grainId, this);

    Task IPersistentStateLoader.LoadAsync() => ReadStateAsync();
}

/// <summary>Lets the runtime read every injected state before OnActivateAsync.</summary>
internal interface IPersistentStateLoader
{
    Task LoadAsync();
}
