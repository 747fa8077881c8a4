using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Reflection;
using Campus.Grains.Invocation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Campus.Grains.Runtime;

/// <summary>A grain class handed to the runtime with AddGrain.</summary>
internal sealed record GrainClassRegistration(Type GrainClass);

/// <summary>
/// The in-process grain runtime: the activation directory (exactly one activation per grain id),
/// the grain factory, idle collection, response timeouts and observer targets.
/// </summary>
internal sealed class GrainRuntime : IGrainFactory, IDisposable
{
    private readonly ConcurrentDictionary<GrainId, Activation> _directory = new();
    private readonly ConcurrentDictionary<object, Activation> _observers = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Type, GrainClassInfo> _byInterface = new();
    private readonly Dictionary<Type, string> _ambiguous = new();
    private readonly Dictionary<string, GrainClassInfo> _byGrainType = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _collector;
    private long _coarseNow;
    private volatile int _status;   // 0 created, 1 running, 2 stopping, 3 stopped

    public GrainRuntime(
        IServiceProvider services,
        IOptions<GrainRuntimeOptions> options,
        IEnumerable<GrainClassRegistration> registrations,
        TimeProvider? time = null,
        ILogger<GrainRuntime>? logger = null,
        IMeterFactory? meterFactory = null)
    {
        Services = services;
        Options = options.Value;
        Options.Validate();
        Time = time ?? TimeProvider.System;
        Log = logger ?? (ILogger)NullLogger.Instance;
        Metrics = new GrainMetrics(meterFactory);
        Timeouts = new ResponseTimeouts(Time, Options.ResponseTimeout);
        _coarseNow = Time.GetUtcNow().UtcTicks;

        foreach (var registration in registrations.DistinctBy(r => r.GrainClass))
        {
            var info = new GrainClassInfo(registration.GrainClass, Options.CollectionAge);
            if (!_byGrainType.TryAdd(info.GrainType, info))
                throw new InvalidOperationException(
                    $"Grain classes {_byGrainType[info.GrainType].GrainClass} and {info.GrainClass} both have grain type '{info.GrainType}'; give one a [GrainType(\"...\")].");
            foreach (var iface in registration.GrainClass.GetInterfaces())
            {
                if (!typeof(IGrainWithStringKey).IsAssignableFrom(iface) || iface == typeof(IGrainWithStringKey)) continue;
                if (_byInterface.TryGetValue(iface, out var other))
                    _ambiguous[iface] = $"{other.GrainClass} and {info.GrainClass}";
                else
                    _byInterface[iface] = info;
            }
        }
    }

    internal IServiceProvider Services { get; }
    internal GrainRuntimeOptions Options { get; }
    internal TimeProvider Time { get; }
    internal ILogger Log { get; }

    private long _oneWayLoggedAt;
    private int _oneWayHeldBack;

    /// <summary>
    /// A one-way call failed. Nobody awaits it, so it is logged here: at most once a second, with the
    /// number of failures held back since (a callee that fails for every call must not flood the log).
    /// </summary>
    internal void OneWayFailed(string method, GrainId target, Exception? error)
    {
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref _oneWayLoggedAt);
        if ((last != 0 && now - last < 1000) || Interlocked.CompareExchange(ref _oneWayLoggedAt, now, last) != last)
        {
            Interlocked.Increment(ref _oneWayHeldBack);
            return;
        }
        var heldBack = Interlocked.Exchange(ref _oneWayHeldBack, 0);
        Log.LogError(error, "One-way call {Method} to grain {GrainId} failed ({HeldBack} earlier one-way failures not logged)", method, target, heldBack);
    }
    internal GrainMetrics Metrics { get; }
    internal ResponseTimeouts Timeouts { get; }
    internal CancellationToken StoppingToken => _stopping.Token;

    /// <summary>UTC ticks, refreshed each collection quantum; cheap to read on the call path.</summary>
    internal long CoarseNow => Volatile.Read(ref _coarseNow);

    internal int ActivationCount => _directory.Count;
    internal bool IsRunning => _status == 1;

    // ---------------------------------------------------------------- IGrainFactory

    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey) where TGrainInterface : IGrainWithStringKey
    {
        ArgumentNullException.ThrowIfNull(primaryKey);
        var info = ClassFor(typeof(TGrainInterface));
        var factory = ReferenceFactories<TGrainInterface>.Factory ??= FindFactory(typeof(TGrainInterface));
        return (TGrainInterface)(object)factory.Create(new GrainReferenceArgs(this, new GrainId(info.GrainType, primaryKey), info, null));
    }

    public TGrainObserverInterface CreateObjectReference<TGrainObserverInterface>(IGrainObserver obj) where TGrainObserverInterface : IGrainObserver
    {
        ArgumentNullException.ThrowIfNull(obj);
        if (obj is not TGrainObserverInterface)
            throw new ArgumentException($"The object ({obj.GetType()}) does not implement {typeof(TGrainObserverInterface)}.", nameof(obj));
        if (obj is GrainReference)
            throw new ArgumentException("The object is already a reference; pass the local object that implements the observer interface.", nameof(obj));
        var target = _observers.GetOrAdd(obj, static (o, rt) => Activation.ForObserver(rt, new GrainId("observer", Guid.NewGuid().ToString("N")), o), this);
        var factory = ReferenceFactories<TGrainObserverInterface>.Factory ??= FindFactory(typeof(TGrainObserverInterface));
        return (TGrainObserverInterface)(object)factory.Create(new GrainReferenceArgs(this, target.Id, null, target));
    }

    public void DeleteObjectReference<TGrainObserverInterface>(IGrainObserver obj) where TGrainObserverInterface : IGrainObserver
    {
        ArgumentNullException.ThrowIfNull(obj);
        if (_observers.TryRemove(obj, out var target)) target.StartDeactivation(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "Observer reference deleted."));
    }

    /// <summary>Typed reference to the grain that owns <paramref name="grainId"/>, for a grain's AsReference.</summary>
    internal T GetReference<T>(GrainId grainId) where T : IGrainWithStringKey
    {
        var info = ClassFor(typeof(T));
        if (info.GrainType != grainId.Type)
            throw new InvalidOperationException($"Grain {grainId} is not a {typeof(T)} (that interface belongs to grain type '{info.GrainType}').");
        return GetGrain<T>(grainId.Key);
    }

    private GrainClassInfo ClassFor(Type iface)
    {
        if (_byInterface.TryGetValue(iface, out var info)) return info;
        if (_ambiguous.TryGetValue(iface, out var both))
            throw new InvalidOperationException($"Grain interface {iface} is implemented by more than one registered class ({both}); give each class its own interface.");
        throw new InvalidOperationException($"No grain class implementing {iface} is registered. Register one with services.AddGrain<TGrain>() (or AddGrainsFromAssembly).");
    }

    internal GrainClassInfo? ClassForGrainType(string grainType) => _byGrainType.GetValueOrDefault(grainType);

    private static IGrainReferenceFactory FindFactory(Type iface)
    {
        foreach (var attr in iface.Assembly.GetCustomAttributes<GeneratedGrainReferenceAttribute>())
            if (attr.InterfaceType == iface)
                return (IGrainReferenceFactory)Activator.CreateInstance(attr.FactoryType)!;
        throw new InvalidOperationException(
            $"No generated reference for {iface}. The project that declares it must reference Campus.Grains.Generator as an analyzer: " +
            "<ProjectReference Include=\".../Campus.Grains.Generator/Campus.Grains.Generator.csproj\" OutputItemType=\"Analyzer\" ReferenceOutputAssembly=\"false\" />");
    }

    private static class ReferenceFactories<T>
    {
        internal static IGrainReferenceFactory? Factory;
    }

    // ---------------------------------------------------------------- directory

    internal Activation GetOrCreateActivation(GrainId id, GrainClassInfo info)
    {
        while (true)
        {
            if (_directory.TryGetValue(id, out var existing))
            {
                if (!existing.IsInvalid) return existing;
                _directory.TryRemove(new KeyValuePair<GrainId, Activation>(id, existing));
                continue;
            }
            if (_status != 1)
                throw new GrainRuntimeStoppedException(_status == 0
                    ? "The grain runtime is not started yet; start the host (or TestGrainRuntime) before calling grains."
                    : "The grain runtime is stopping or stopped; no new activations are made.");
            var created = new Activation(this, id, info);
            if (_directory.TryAdd(id, created))
            {
                created.Start();
                return created;
            }
        }
    }

    internal bool TryGetActivation(GrainId id, out Activation activation) => _directory.TryGetValue(id, out activation!);

    internal void RemoveFromDirectory(Activation activation) =>
        _directory.TryRemove(new KeyValuePair<GrainId, Activation>(activation.Id, activation));

    /// <summary>Queues an item on the activation, following the grain to a new activation if that one went away.</summary>
    internal void Dispatch(WorkItem item, Activation activation)
    {
        while (!activation.Enqueue(item))
        {
            if (activation.Class is null)
            {
                item.Fail(new ObjectDisposedException(activation.Id.ToString(), $"The observer {activation.Id} was deleted."));
                return;
            }
            try
            {
                activation = GetOrCreateActivation(activation.Id, activation.Class);
            }
            catch (InvalidOperationException ex)
            {
                item.Fail(ex);
                return;
            }
        }
    }

    /// <summary>An activation went away with this item still queued.</summary>
    internal void Redirect(WorkItem item, GrainId id, GrainClassInfo? info)
    {
        if (item.IsDone) return;
        if (!item.FollowsGrain || info is null)
        {
            item.Fail(new ObjectDisposedException(id.ToString(), $"{id} was deactivated before the {item.Describe()} ran."));
            return;
        }
        if (_status != 1)
        {
            item.Fail(new GrainRuntimeStoppedException($"The grain runtime stopped before the {item.Describe()} ran."));
            return;
        }
        try
        {
            Dispatch(item, GetOrCreateActivation(id, info));
        }
        catch (InvalidOperationException ex)
        {
            item.Fail(ex);
        }
    }

    // ---------------------------------------------------------------- lifecycle

    public void Start()
    {
        if (Interlocked.CompareExchange(ref _status, 1, 0) != 0) throw new InvalidOperationException("The grain runtime was already started.");
        Volatile.Write(ref _coarseNow, Time.GetUtcNow().UtcTicks);
        Timeouts.Start();
        _collector = Time.CreateTimer(static s => ((GrainRuntime)s!).CollectIdle(), this, Options.CollectionQuantum, Options.CollectionQuantum);
    }

    internal void CollectIdle()
    {
        var now = Time.GetUtcNow().UtcTicks;
        Volatile.Write(ref _coarseNow, now);
        var collected = 0;
        foreach (var activation in _directory.Values)
            if (activation.CollectIfIdle(now, Options.CollectionQuantum.Ticks)) collected++;
        if (collected > 0) Log.LogDebug("Collecting {Count} idle activations", collected);
    }

    /// <summary>Stops collection and deactivates every activation (OnDeactivateAsync runs; nothing is written implicitly).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _status, 2, 1) != 1) return;
        _collector?.Dispose();
        var reason = new DeactivationReason(DeactivationReasonCode.ShuttingDown, "The grain runtime is stopping.");
        var all = _directory.Values.Select(a => a.DeactivateAndWaitAsync(reason))
            .Concat(_observers.Values.Select(a => a.DeactivateAndWaitAsync(reason)))
            .ToList();
        _observers.Clear();
        try
        {
            // Real time on purpose: a turn that never ends must not hang shutdown, even under a fake clock.
            await Task.WhenAll(all).WaitAsync(Options.DeactivationTimeout, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.LogWarning("{Count} activations did not finish deactivating within {Timeout}; stopping anyway",
                all.Count(t => !t.IsCompleted), Options.DeactivationTimeout);
        }
        finally
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            Timeouts.Dispose();
            _status = 3;
        }
    }

    public void Dispose()
    {
        _collector?.Dispose();
        Timeouts.Dispose();
        _stopping.Dispose();
        Metrics.Dispose();
    }
}
