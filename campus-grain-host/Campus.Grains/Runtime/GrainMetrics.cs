using System.Diagnostics.Metrics;

namespace Campus.Grains.Runtime;

/// <summary>Instruments of the meter "Campus.Grains".</summary>
internal sealed class GrainMetrics : IDisposable
{
    public const string MeterName = "Campus.Grains";

    private readonly Meter _meter;
    private readonly Counter<long> _calls;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _activationsCreated;
    private readonly Counter<long> _deactivations;
    private long _active;

    public GrainMetrics(IMeterFactory? factory)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _calls = _meter.CreateCounter<long>("campus.grains.calls", "{call}", "Grain calls made.");
        _duration = _meter.CreateHistogram<double>("campus.grains.call.duration", "ms", "Duration of grain calls that did not complete synchronously.");
        _activationsCreated = _meter.CreateCounter<long>("campus.grains.activations.created", "{activation}", "Activations created.");
        _deactivations = _meter.CreateCounter<long>("campus.grains.deactivations", "{activation}", "Activations deactivated.");
        _meter.CreateObservableUpDownCounter("campus.grains.activations", () => Volatile.Read(ref _active), "{activation}", "Live activations.");
    }

    public long ActiveActivations => Volatile.Read(ref _active);

    public bool MeasuresDuration => _duration.Enabled;

    public void CountCall()
    {
        if (_calls.Enabled) _calls.Add(1);
    }

    public void RecordDuration(TimeSpan elapsed, bool failed) =>
        _duration.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("failed", failed));

    public void Activated()
    {
        Interlocked.Increment(ref _active);
        _activationsCreated.Add(1);
    }

    public void Deactivated()
    {
        Interlocked.Decrement(ref _active);
        _deactivations.Add(1);
    }

    public void Dispose() => _meter.Dispose();
}
