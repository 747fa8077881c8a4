using System.Collections.Concurrent;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Grains;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Campus.Controller.Services;

/// <summary>
/// Watches every device that has been heard from, without keeping its grain active: ingestion
/// records when each device was last seen, and a periodic scan (on the injected clock) calls
/// <see cref="IDeviceGrain.Tick"/> of devices that missed their heartbeat timeout or that have a
/// pending deadline (a door held open). One scan over a dictionary is cheap for 10,000s of
/// devices, where a timer per grain would keep every grain activated.
/// </summary>
public sealed class DeviceWatch : IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _devices = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ControllerOptions _options;
    private readonly ILogger<DeviceWatch> _logger;
    private IGrainFactory? _grains;
    private readonly SemaphoreSlim _scan = new(1, 1);
    private ITimer? _timer;

    public DeviceWatch(TimeProvider time, IOptions<ControllerOptions> options, ILogger<DeviceWatch> logger)
    {
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    private sealed class Entry(DeviceKind kind)
    {
        public readonly DeviceKind Kind = kind;
        public long LastSeenTicks;
        public long DeadlineTicks = long.MaxValue;
        public bool Offline;
    }

    /// <summary>Starts the periodic scan.</summary>
    public void Start(IGrainFactory grains)
    {
        _grains = grains;
        _timer ??= _time.CreateTimer(static s => ((DeviceWatch)s!).OnTimer(), this, _options.WatchInterval, _options.WatchInterval);
    }

    /// <summary>The device sent something now.</summary>
    public void Seen(string device, DeviceKind kind, DateTimeOffset at)
    {
        var e = _devices.GetOrAdd(device, static (_, k) => new Entry(k), kind);
        Volatile.Write(ref e.LastSeenTicks, at.UtcTicks);
        e.Offline = false;
    }

    /// <summary>The device is offline (last will); no more heartbeat checks until it is seen again.</summary>
    public void MarkOffline(string device) { if (_devices.TryGetValue(device, out var e)) e.Offline = true; }

    /// <summary>The device grain wants a Tick at (or soon after) this time; null clears it.</summary>
    public void SetDeadline(string device, DeviceKind kind, DateTimeOffset? at)
    {
        var e = _devices.GetOrAdd(device, static (_, k) => new Entry(k), kind);
        Volatile.Write(ref e.DeadlineTicks, at?.UtcTicks ?? long.MaxValue);
    }

    /// <summary>
    /// Runs one scan now and waits for the ticks it started, and for a scan the timer started
    /// (tests call this after advancing the clock).
    /// </summary>
    public async Task ScanAsync()
    {
        await _scan.WaitAsync().ConfigureAwait(false);
        try
        {
            await ScanCoreAsync().ConfigureAwait(false);
        }
        finally
        {
            _scan.Release();
        }
    }

    private async Task ScanCoreAsync()
    {
        var grains = _grains;
        if (grains is null) return;
        var now = _time.GetUtcNow().UtcTicks;
        List<Task>? ticks = null;
        foreach (var (device, e) in _devices)
        {
            var timeout = _options.OfflineTimeout(e.Kind.ToWire()).Ticks;
            var missed = !e.Offline && now - Volatile.Read(ref e.LastSeenTicks) > timeout;
            var due = Volatile.Read(ref e.DeadlineTicks) <= now;
            if (!missed && !due) continue;
            if (missed) e.Offline = true; // one offline check per silence; Seen() re-arms it
            if (due) Volatile.Write(ref e.DeadlineTicks, long.MaxValue);
            (ticks ??= []).Add(TickAsync(grains, device, e.Kind));
        }
        if (ticks is not null) await Task.WhenAll(ticks).ConfigureAwait(false);
    }

    private async Task TickAsync(IGrainFactory grains, string device, DeviceKind kind)
    {
        try
        {
            await DeviceGrains.Get(grains, kind, device).Tick().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.TickFailed(_logger, device, e);
        }
    }

    private void OnTimer()
    {
        if (!_scan.Wait(0)) return; // the previous scan is still running
        _ = Task.Run(async () =>
        {
            try { await ScanCoreAsync().ConfigureAwait(false); }
            finally { _scan.Release(); }
        });
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _scan.Dispose();
    }
}
