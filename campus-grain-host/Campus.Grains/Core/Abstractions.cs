namespace Campus.Grains;

/// <summary>Anything that has a grain identity: grain instances and references to grains or observers.</summary>
public interface IAddressable;

/// <summary>Marker for grain interfaces.</summary>
public interface IGrain : IAddressable;

/// <summary>A grain interface whose grains are identified by a string key.</summary>
public interface IGrainWithStringKey : IGrain;

/// <summary>
/// A callback interface implemented by plain objects (not grains) that grains notify; get a
/// reference with <see cref="IGrainFactory.CreateObjectReference{TGrainObserverInterface}"/>.
/// </summary>
public interface IGrainObserver : IAddressable;

/// <summary>Creates references to grains and observers.</summary>
public interface IGrainFactory
{
    /// <summary>
    /// Returns a reference to the grain with this key. Cheap: nothing is activated until the first
    /// call through the reference.
    /// </summary>
    TGrainInterface GetGrain<TGrainInterface>(string primaryKey) where TGrainInterface : IGrainWithStringKey;

    /// <summary>Wraps a local object so grains can call it through <typeparamref name="TGrainObserverInterface"/>.</summary>
    TGrainObserverInterface CreateObjectReference<TGrainObserverInterface>(IGrainObserver obj)
        where TGrainObserverInterface : IGrainObserver;

    /// <summary>Removes the wrapper made by CreateObjectReference; later calls through old references fail.</summary>
    void DeleteObjectReference<TGrainObserverInterface>(IGrainObserver obj)
        where TGrainObserverInterface : IGrainObserver;
}

/// <summary>The identity of a grain: its grain type name and its key.</summary>
public readonly record struct GrainId(string Type, string Key)
{
    public override string ToString() => Type + "/" + Key;
}

/// <summary>Why an activation was deactivated.</summary>
public enum DeactivationReasonCode
{
    None,
    ActivationIdle,
    ApplicationRequested,
    ShuttingDown,
    ActivationFailed,
}

/// <summary>Why an activation was deactivated, with a human-readable description.</summary>
public readonly record struct DeactivationReason(DeactivationReasonCode ReasonCode, string Description)
{
    public override string ToString() => $"{ReasonCode}: {Description}";
}

/// <summary>Lets requests interleave at await points on this grain class (they still never run in parallel).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class ReentrantAttribute : Attribute;

/// <summary>This interface method interleaves with any other request, even on a non-reentrant grain.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class AlwaysInterleaveAttribute : Attribute;

/// <summary>
/// The caller of this interface method does not wait for it: the call is queued on the grain (in order with
/// the caller's other calls to it) and the returned task is already complete. The method must return Task
/// or ValueTask; its failures are logged by the runtime, never returned. For notifications whose sender
/// has nothing to do with their outcome.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OneWayAttribute : Attribute;

/// <summary>How long an activation of this grain class may stay idle before it is deactivated.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class CollectionAgeLimitAttribute : Attribute
{
    public double Days { get; init; }
    public double Hours { get; init; }
    public double Minutes { get; init; }
    public double Seconds { get; init; }

    public TimeSpan Amount => TimeSpan.FromDays(Days) + TimeSpan.FromHours(Hours) + TimeSpan.FromMinutes(Minutes) + TimeSpan.FromSeconds(Seconds);
}

/// <summary>
/// Names the grain type used in grain identities and storage rows (default: the class name without
/// a trailing "Grain", lower case). Set it to keep stored state when a class is renamed.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class GrainTypeAttribute(string grainType) : Attribute
{
    public string GrainType { get; } = grainType;
}

/// <summary>
/// Marks a grain constructor parameter of type <see cref="IPersistentState{TState}"/>: the state named
/// <paramref name="stateName"/>, kept by the storage provider <paramref name="storageName"/>
/// (default provider "Default").
/// </summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class PersistentStateAttribute(string stateName, string? storageName = null) : Attribute
{
    public string StateName { get; } = stateName;
    public string? StorageName { get; } = storageName;
}
