using System.Diagnostics.Metrics;

namespace Campus.Mqtt.Server;

/// <summary>
/// The broker's instruments on the meter <c>Campus.Mqtt.Broker</c>. Each server owns its
/// meter instance, so a listener can tell brokers in one process apart by <see cref="Meter"/>.
/// </summary>
internal sealed class BrokerMetrics : IDisposable
{
    public const string MeterName = "Campus.Mqtt.Broker";

    public static readonly KeyValuePair<string, object?> ReasonAcl = new("reason", "acl");
    public static readonly KeyValuePair<string, object?> ReasonAuth = new("reason", "auth");
    public static readonly KeyValuePair<string, object?> ReasonProtocol = new("reason", "protocol");

    private readonly bool _ownsMeter;

    public BrokerMetrics(IMeterFactory? factory = null)
    {
        Meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _ownsMeter = factory is null;
        Connections = Meter.CreateUpDownCounter<long>("campus.mqtt.broker.connections", "{connection}", "Open client connections.");
        MessagesIn = Meter.CreateCounter<long>("campus.mqtt.broker.messages.in", "{message}", "PUBLISH packets received.");
        MessagesOut = Meter.CreateCounter<long>("campus.mqtt.broker.messages.out", "{message}", "PUBLISH packets sent.");
        BytesIn = Meter.CreateCounter<long>("campus.mqtt.broker.bytes.in", "By", "Bytes received.");
        BytesOut = Meter.CreateCounter<long>("campus.mqtt.broker.bytes.out", "By", "Bytes sent.");
        Dropped = Meter.CreateCounter<long>("campus.mqtt.broker.messages.dropped", "{message}", "Messages dropped because a session queue or a slow client's output was full.");
        Rejected = Meter.CreateCounter<long>("campus.mqtt.broker.rejected", "{event}", "Publishes, subscriptions and connections refused (reason: acl, auth, protocol).");
    }

    public Meter Meter { get; }
    public UpDownCounter<long> Connections { get; }
    public Counter<long> MessagesIn { get; }
    public Counter<long> MessagesOut { get; }
    public Counter<long> BytesIn { get; }
    public Counter<long> BytesOut { get; }
    public Counter<long> Dropped { get; }
    public Counter<long> Rejected { get; }

    public void Dispose()
    {
        if (_ownsMeter) Meter.Dispose();
    }
}
