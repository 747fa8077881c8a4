using System.Buffers;
using System.Text;
using System.Threading.Channels;
using Campus.Contracts;
using Campus.Controller.Services;
using Campus.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Campus.Controller.Ingestion;

/// <summary>What /healthz reports about ingestion.</summary>
public sealed class IngestionStatus
{
    public string Mode { get; internal set; } = "none";
    public bool Connected { get; internal set; }
    public string? LastError { get; internal set; }

    /// <summary>External broker: messages received but not yet acknowledged.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    internal int _inFlight;
}

/// <summary>
/// Ingestion from an external broker (e.g. Mosquitto) over one persistent-session connection
/// (clean session off, QoS 1, manual acknowledgement). Each message is handed to its device grain
/// at once, so different devices are processed concurrently while each grain keeps its own
/// order; the MQTT acknowledgements must leave in arrival order on the connection, so an ordered
/// queue waits for each message's durable effect in turn and then sends its PUBACK. A message
/// whose effect could not be stored is not acknowledged, and the connection is dropped and the
/// session resumed (after 1 s, doubling to 15 s while storage stays down), because a broker delivers
/// an unacknowledged message again only when the session resumes. At most <see cref="IngestOptions.MaxInFlight"/> messages wait at once
/// (back-pressure on the connection). The broker's ACL keeps devices to their own topics; the
/// controller still checks that the topic's device is registered in that school and room.
/// </summary>
internal sealed class ExternalBrokerIngestion(
    MessageIngestor ingestor,
    IngestionStatus status,
    ControllerMetrics metrics,
    IOptions<CampusMqttOptions> mqttOptions,
    IOptions<IngestOptions> ingestOptions,
    TimeProvider time,
    ILogger<ExternalBrokerIngestion> logger) : BackgroundService
{
    private readonly Channel<(MqttApplicationMessageReceivedEventArgs Args, Task<IngestDisposition> Work)> _acks =
        Channel.CreateBounded<(MqttApplicationMessageReceivedEventArgs, Task<IngestDisposition>)>(new BoundedChannelOptions(Math.Max(1, ingestOptions.Value.MaxInFlight))
        {
            SingleReader = true,
            SingleWriter = true,
        });

    private IMqttClient? _client;
    private MqttClientOptions? _options;
    private CancellationToken _stopping;
    private int _resuming;
    private TimeSpan _resumeDelay = RetryDelayMin;

    // Pauses before connecting again and before resuming the session: doubling from the first to the last.
    private static readonly TimeSpan RetryDelayMin = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RetryDelayMax = TimeSpan.FromSeconds(15);

    private static TimeSpan Doubled(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, RetryDelayMax.Ticks));

    internal IMqttClient? Client => _client;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        status.Mode = "external";
        var o = mqttOptions.Value;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(o.Host, o.Port)
            .WithClientId(o.ClientId)
            .WithCleanSession(false)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithAutoReconnect(RetryDelayMin, RetryDelayMax)
            .WithMaximumInFlightMessages(256)
            .WithTimeProvider(time);
        if (o.UserName is not null) builder = builder.WithCredentials(o.UserName, o.Password);
        var client = new MqttClientFactory().CreateMqttClient();
        _client = client;
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        client.ConnectedAsync += async _ =>
        {
            status.Connected = true;
            await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(ingestOptions.Value.TopicFilter, MqttQualityOfServiceLevel.AtLeastOnce).Build()).ConfigureAwait(false);
        };
        client.DisconnectedAsync += e =>
        {
            status.Connected = false;
            status.LastError = e.Exception?.Message ?? e.Reason.ToString();
            return Task.CompletedTask;
        };
        _options = builder.Build();
        _stopping = stoppingToken;
        var pump = Task.Run(() => AcknowledgeInOrderAsync(stoppingToken), CancellationToken.None);
        await ConnectUntilConnectedAsync(client, stoppingToken).ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
        _acks.Writer.TryComplete();
        await pump.ConfigureAwait(false);
        await client.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
        await client.DisposeAsync().ConfigureAwait(false);
    }

    private async Task ConnectUntilConnectedAsync(IMqttClient client, CancellationToken stoppingToken)
    {
        var o = mqttOptions.Value;
        var delay = RetryDelayMin;
        while (!stoppingToken.IsCancellationRequested && !client.IsConnected)
        {
            try
            {
                await client.ConnectAsync(_options!, stoppingToken).ConfigureAwait(false);
                Log.Connected(logger, o.Host, o.Port, o.ClientId);
            }
            catch (Exception e) when (e is MqttCommunicationException or MqttConnectingFailedException or TimeoutException or System.Net.Sockets.SocketException)
            {
                status.LastError = e.Message;
                Log.ConnectFailed(logger, o.Host, o.Port, delay, e);
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
                delay = Doubled(delay);
            }
        }
    }

    /// <summary>
    /// A message was left unacknowledged (its effect could not be stored). A broker sends it again only
    /// when the session resumes, so after a pause the connection is dropped and the session resumed
    /// (clean session off); one resume at a time, and the pause doubles while messages keep failing.
    /// </summary>
    private void ResumeSessionSoon()
    {
        if (Interlocked.Exchange(ref _resuming, 1) != 0) return;
        var delay = _resumeDelay;
        _resumeDelay = Doubled(delay);
        Log.ResumingSession(logger, delay);
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(delay, time, _stopping).ConfigureAwait(false);
                if (_client is not { } client) return;
                await client.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
                await ConnectUntilConnectedAsync(client, _stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or MqttCommunicationException or ObjectDisposedException or InvalidOperationException)
            {
                status.LastError = e.Message;
            }
            finally
            {
                Volatile.Write(ref _resuming, 0);
            }
        }, CancellationToken.None);
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        e.AutoAcknowledge = false;
        var m = e.ApplicationMessage;
        // The client may reuse its receive buffer after we return; the work outlives this handler.
        var payload = m.Payload.IsEmpty ? ReadOnlyMemory<byte>.Empty : m.Payload.ToArray();
        Interlocked.Increment(ref status._inFlight);
        // The DUP flag seen here is the broker's, for its hop to us; it does not say whether the
        // device re-sent the message (a broker never passes the publisher's DUP on). So a
        // byte-identical copy of a signed event stays a possible redelivery: a duplicate, no alert.
        var work = ingestor.IngestAsync(m.Topic, payload, sender: null, possibleRedelivery: true).AsTask();
        await _acks.Writer.WriteAsync((e, work)).ConfigureAwait(false);
    }

    private async Task AcknowledgeInOrderAsync(CancellationToken stoppingToken)
    {
        await foreach (var (args, work) in _acks.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            IngestDisposition d;
            try
            {
                d = await work.ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log.IngestFailed(logger, args.ApplicationMessage.Topic, e);
                d = IngestDisposition.Retry;
            }
            Interlocked.Decrement(ref status._inFlight);
            if (d == IngestDisposition.Retry)
            {
                ResumeSessionSoon(); // not acknowledged: redelivered when the session resumes
                continue;
            }
            _resumeDelay = RetryDelayMin;
            try
            {
                await args.AcknowledgeAsync(CancellationToken.None).ConfigureAwait(false);
                metrics.Acknowledged();
            }
            catch (Exception e) when (e is MqttCommunicationException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection is gone; the broker redelivers after the reconnect, and the grain drops the copy.
                status.LastError = e.Message;
            }
        }
        _ = stoppingToken;
    }
}

/// <summary>Commands through an external broker, on the ingestion connection.</summary>
internal sealed class ClientCommandPublisher(ExternalBrokerIngestion ingestion, ILogger<ClientCommandPublisher> logger) : ICommandPublisher
{
    public async ValueTask PublishAsync(DeviceTopic topic, DeviceCommand command, CancellationToken cancellationToken = default)
    {
        var client = ingestion.Client;
        var name = topic.ToString();
        if (client is null || !client.IsConnected)
        {
            Log.CommandFailed(logger, name, new InvalidOperationException("The controller is not connected to the broker."));
            return;
        }
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(name)
            .WithPayload(PayloadWriter.Write(command))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(CommandNames.IsRetained(command.Name))
            .Build();
        try
        {
            // Not awaited for PUBACK inside a grain turn: a slow broker must not hold grains up.
            var pending = client.PublishAsync(message, cancellationToken);
            _ = pending.ContinueWith(t => Log.CommandFailed(logger, name, t.Exception!.GetBaseException()), CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception e) when (e is MqttCommunicationException or InvalidOperationException)
        {
            Log.CommandFailed(logger, name, e);
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }
}
