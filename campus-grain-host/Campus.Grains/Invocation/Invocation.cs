using System.ComponentModel;
using Campus.Grains.Runtime;

namespace Campus.Grains.Invocation;

// Plumbing used by code that Campus.Grains.Generator emits. Not meant to be called by hand.

/// <summary>One call of one grain method, with its arguments held in a struct (no boxing).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGrainInvoker<TResult>
{
    /// <summary>"Interface.Method", for messages and metrics.</summary>
    string MethodName { get; }

    /// <summary>The interface method carries [AlwaysInterleave].</summary>
    bool AlwaysInterleave { get; }

    /// <summary>Calls the method on the grain instance.</summary>
    ValueTask<TResult> Invoke(object grain);
}

/// <summary>The result of a method that returns no value.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct VoidResult;

/// <summary>Creates a generated grain reference.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IGrainReferenceFactory
{
    GrainReference Create(GrainReferenceArgs args);
}

/// <summary>Names the generated reference factory for a grain or observer interface.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class GeneratedGrainReferenceAttribute(Type interfaceType, Type factoryType) : Attribute
{
    public Type InterfaceType { get; } = interfaceType;
    public Type FactoryType { get; } = factoryType;
}

/// <summary>Opaque constructor arguments of a generated reference.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct GrainReferenceArgs
{
    internal GrainReferenceArgs(GrainRuntime runtime, GrainId id, GrainClassInfo? grainClass, Activation? fixedTarget)
    {
        Runtime = runtime;
        Id = id;
        GrainClass = grainClass;
        FixedTarget = fixedTarget;
    }

    internal GrainRuntime Runtime { get; }
    internal GrainId Id { get; }
    internal GrainClassInfo? GrainClass { get; }
    internal Activation? FixedTarget { get; }
}

/// <summary>Adapters between the return types of grain methods and ValueTask&lt;T&gt;.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GrainInvoke
{
    public static ValueTask<VoidResult> FromTask(Task task) =>
        task.IsCompletedSuccessfully ? default : new ValueTask<VoidResult>(AwaitVoid(task));

    public static ValueTask<T> FromTask<T>(Task<T> task) =>
        task.IsCompletedSuccessfully ? new ValueTask<T>(task.Result) : new ValueTask<T>(task);

    public static ValueTask<VoidResult> FromValueTask(ValueTask task) =>
        task.IsCompletedSuccessfully ? default : new ValueTask<VoidResult>(AwaitVoid(task.AsTask()));

    public static ValueTask<VoidResult> FromVoid(Action call)
    {
        call();
        return default;
    }

    public static Task ToTask(ValueTask<VoidResult> task) =>
        task.IsCompletedSuccessfully ? Task.CompletedTask : task.AsTask();

    public static Task<T> ToTask<T>(ValueTask<T> task) => task.AsTask();

    public static ValueTask ToValueTask(ValueTask<VoidResult> task) =>
        task.IsCompletedSuccessfully ? default : new ValueTask(task.AsTask());

    /// <summary>One-way observer calls: the caller does not wait; failures are dropped.</summary>
    public static void Forget(ValueTask<VoidResult> task)
    {
        if (task.IsCompleted) return;
        _ = task.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static async Task<VoidResult> AwaitVoid(Task task)
    {
        await task.ConfigureAwait(false);
        return default;
    }
}
