using System.ComponentModel;
using Campus.Grains.Runtime;

namespace Campus.Grains.Invocation;

/// <summary>
/// Base class of the generated references. A reference is a grain identity plus a cached pointer to
/// the grain's activation; calling a method either runs the grain inline (the activation is idle and
/// the caller is not a grain turn) or queues the call on the activation.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public abstract class GrainReference : IAddressable, IEquatable<GrainReference>
{
    private readonly GrainRuntime _runtime;
    private readonly GrainClassInfo? _grainClass;
    private Activation? _activation;

    protected GrainReference(GrainReferenceArgs args)
    {
        _runtime = args.Runtime ?? throw new ArgumentException("References are created by IGrainFactory.GetGrain.", nameof(args));
        GrainId = args.Id;
        _grainClass = args.GrainClass;
        _activation = args.FixedTarget;
    }

    /// <summary>The identity of the grain (or observer) this reference points to.</summary>
    public GrainId GrainId { get; }

    internal GrainRuntime Runtime => _runtime;

    protected ValueTask<TResult> InvokeAsync<TInvoker, TResult>(TInvoker invoker)
        where TInvoker : struct, IGrainInvoker<TResult>
    {
        var activation = _activation;
        if (activation is null || activation.IsInvalid) activation = Resolve();
        return activation.Invoke<TInvoker, TResult>(invoker);
    }

    /// <summary>
    /// A [OneWay] call: queued on the activation (or run inline, as any call) and not waited for. A failure
    /// is logged by the runtime; the caller never sees it.
    /// </summary>
    protected void InvokeOneWay<TInvoker>(TInvoker invoker)
        where TInvoker : struct, IGrainInvoker<VoidResult>
    {
        var activation = _activation;
        if (activation is null || activation.IsInvalid) activation = Resolve();
        var result = activation.Invoke<TInvoker, VoidResult>(invoker, oneWay: true);
        if (result.IsFaulted) _runtime.OneWayFailed(invoker.MethodName, GrainId, result.AsTask().Exception?.InnerException);
    }

    private Activation Resolve()
    {
        if (_grainClass is null)
            throw new ObjectDisposedException(GrainId.ToString(), $"The observer reference {GrainId} was deleted (DeleteObjectReference) or its runtime stopped.");
        var activation = _runtime.GetOrCreateActivation(GrainId, _grainClass);
        _activation = activation;
        return activation;
    }

    public bool Equals(GrainReference? other) => other is not null && GrainId == other.GrainId;
    public override bool Equals(object? obj) => obj is GrainReference r && Equals(r);
    public override int GetHashCode() => GrainId.GetHashCode();
    public override string ToString() => GrainId.ToString();
}
