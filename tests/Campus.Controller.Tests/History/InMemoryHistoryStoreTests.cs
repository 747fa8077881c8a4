using System.Collections.Concurrent;
using Campus.Controller.History;

namespace Campus.Controller.Tests.History;

public sealed class InMemoryHistoryStoreTests : HistoryStoreContract
{
    private readonly ConcurrentDictionary<string, InMemoryHistoryDatabase> _databases = new();

    protected override Task<string> CreateDatabaseAsync()
    {
        var name = Guid.NewGuid().ToString("N");
        _databases[name] = new InMemoryHistoryDatabase();
        return Task.FromResult(name);
    }

    private protected override IHistoryStore Open(string database, HistoryOptions options, TimeProvider time) =>
        new InMemoryHistoryStore(options, time, database: _databases[database]);

    private protected override Task BreakStorageAsync(string database, IHistoryStore store)
    {
        ((InMemoryHistoryStore)store).SimulatedOutage = "simulated disk full";
        return Task.CompletedTask;
    }

    private protected override Task RestoreStorageAsync(string database, IHistoryStore store)
    {
        ((InMemoryHistoryStore)store).SimulatedOutage = null;
        return Task.CompletedTask;
    }
}
