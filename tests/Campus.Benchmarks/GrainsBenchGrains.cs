using Campus.Grains;
using Campus.Grains.Invocation;
using Campus.Grains.Storage;

// Grains for the `grains` and `memory` benchmark modes. This project does not run the
// Campus.Grains.Generator analyzer, so the references below are written by hand in exactly the
// shape the generator emits for these interfaces (a GrainReference subclass plus one struct
// invoker per method, and the assembly attribute that names the factory).
[assembly: GeneratedGrainReference(typeof(Campus.Benchmarks.IBenchCounterGrain), typeof(Campus.Benchmarks.BenchCounterGrainReference.Factory))]
[assembly: GeneratedGrainReference(typeof(Campus.Benchmarks.IBenchDeviceGrain), typeof(Campus.Benchmarks.BenchDeviceGrainReference.Factory))]

namespace Campus.Benchmarks;

public interface IBenchCounterGrain : IGrainWithStringKey
{
    ValueTask<long> Add(long amount);
}

internal sealed class BenchCounterGrain : Grain, IBenchCounterGrain
{
    private long _total;

    public ValueTask<long> Add(long amount) => new(_total += amount);
}

internal sealed class BenchCounterGrainReference(GrainReferenceArgs args) : GrainReference(args), IBenchCounterGrain
{
    public sealed class Factory : IGrainReferenceFactory
    {
        public GrainReference Create(GrainReferenceArgs args) => new BenchCounterGrainReference(args);
    }

    ValueTask<long> IBenchCounterGrain.Add(long amount) => InvokeAsync<AddInvoker, long>(new AddInvoker(amount));

    private readonly struct AddInvoker(long amount) : IGrainInvoker<long>
    {
        public string MethodName => "IBenchCounterGrain.Add";
        public bool AlwaysInterleave => false;
        public ValueTask<long> Invoke(object grain) => ((IBenchCounterGrain)grain).Add(amount);
    }
}

public sealed class BenchDeviceState
{
    public double LastValue { get; set; }
    public int Readings { get; set; }
}

public interface IBenchDeviceGrain : IGrainWithStringKey
{
    ValueTask<int> Report(double value);
}

/// <summary>Like a campus device grain: a persisted state plus a few live fields.</summary>
internal sealed class BenchDeviceGrain([PersistentState("device")] IPersistentState<BenchDeviceState> state) : Grain, IBenchDeviceGrain
{
    private DateTimeOffset _lastSeen;
    private bool _online;

    public ValueTask<int> Report(double value)
    {
        _online = true;
        _lastSeen = DateTimeOffset.UnixEpoch;
        state.State.LastValue = value;
        return new(_online ? ++state.State.Readings : 0);
    }
}

internal sealed class BenchDeviceGrainReference(GrainReferenceArgs args) : GrainReference(args), IBenchDeviceGrain
{
    public sealed class Factory : IGrainReferenceFactory
    {
        public GrainReference Create(GrainReferenceArgs args) => new BenchDeviceGrainReference(args);
    }

    ValueTask<int> IBenchDeviceGrain.Report(double value) => InvokeAsync<ReportInvoker, int>(new ReportInvoker(value));

    private readonly struct ReportInvoker(double value) : IGrainInvoker<int>
    {
        public string MethodName => "IBenchDeviceGrain.Report";
        public bool AlwaysInterleave => false;
        public ValueTask<int> Invoke(object grain) => ((IBenchDeviceGrain)grain).Report(value);
    }
}
