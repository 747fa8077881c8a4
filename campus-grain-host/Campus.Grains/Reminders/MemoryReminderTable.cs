using System.Collections.Concurrent;
using System.Globalization;

namespace Campus.Grains.Reminders;

/// <summary>Reminders kept in process memory (tests); they do not survive the process.</summary>
internal sealed class MemoryReminderTable : IReminderTable
{
    private readonly ConcurrentDictionary<(GrainId, string), ReminderEntry> _rows = new();
    private long _version;

    public Task<IReadOnlyList<ReminderEntry>> ReadAllRowsAsync() =>
        Task.FromResult<IReadOnlyList<ReminderEntry>>(_rows.Values.ToList());

    public Task<IReadOnlyList<ReminderEntry>> ReadRowsAsync(GrainId grainId) =>
        Task.FromResult<IReadOnlyList<ReminderEntry>>(_rows.Values.Where(r => r.GrainId == grainId).ToList());

    public Task<ReminderEntry?> ReadRowAsync(GrainId grainId, string reminderName) =>
        Task.FromResult(_rows.GetValueOrDefault((grainId, reminderName)));

    public Task<string> UpsertRowAsync(ReminderEntry entry)
    {
        var etag = Interlocked.Increment(ref _version).ToString(CultureInfo.InvariantCulture);
        _rows[(entry.GrainId, entry.ReminderName)] = entry with { ETag = etag };
        return Task.FromResult(etag);
    }

    public Task<bool> RemoveRowAsync(GrainId grainId, string reminderName, string eTag)
    {
        var key = (grainId, reminderName);
        return Task.FromResult(_rows.TryGetValue(key, out var row) && row.ETag == eTag
            && _rows.TryRemove(new KeyValuePair<(GrainId, string), ReminderEntry>(key, row)));
    }
}
