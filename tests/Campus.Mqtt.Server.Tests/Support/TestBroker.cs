using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Campus.Mqtt.Server.Tests.Support;

/// <summary>Keeps every log entry a broker writes, for assertions.</summary>
internal sealed class CapturingLogger : ILogger<MqttServer>
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message)> _entries = new();

    public IReadOnlyList<(LogLevel Level, string Message)> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue((logLevel, formatter(state, exception)));

    public bool Contains(params string[] parts) => Entries.Any(e => parts.All(p => e.Message.Contains(p, StringComparison.Ordinal)));

    public string Dump() => string.Join('\n', Entries.Select(e => $"{e.Level}: {e.Message}"));
}

/// <summary>Sums the measurements of one broker's counters (its own Meter instance only).</summary>
internal sealed class MetricCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _totals = new();

    public MetricCapture(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            _totals.AddOrUpdate(instrument.Name, value, (_, v) => v + value);
            foreach (var tag in tags)
                _totals.AddOrUpdate($"{instrument.Name}[{tag.Key}={tag.Value}]", value, (_, v) => v + value);
        });
        _listener.Start();
    }

    public long this[string name] => _totals.TryGetValue(name, out var v) ? v : 0;

    public void Dispose() => _listener.Dispose();
}

/// <summary>Starts a broker on a free loopback port for one test.</summary>
internal static class TestBroker
{
    public static async Task<MqttServer> StartAsync(Action<MqttServerOptions>? configure = null, CapturingLogger? logger = null, TimeProvider? time = null)
    {
        var options = new MqttServerOptions { BindAddress = "127.0.0.1", Port = 0, AllowAnonymous = true };
        configure?.Invoke(options);
        var server = new MqttServer(options, logger, time);
        await server.StartAsync();
        return server;
    }

    /// <summary>An in-process message for <see cref="MqttServer.InjectApplicationMessage"/>.</summary>
    public static InjectedMqttApplicationMessage Message(string topic, string payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtMostOnce) =>
        new(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build());
}
