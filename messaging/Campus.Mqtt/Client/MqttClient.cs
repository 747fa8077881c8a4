using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Campus.Mqtt;

/// <summary>
/// The MQTT 3.1.1 client. One read loop per connection decodes packets straight from the
/// PipeReader; received messages go through a channel to one dispatcher task, so handlers see them
/// in order and may themselves publish without blocking the read loop. Outgoing QoS 1/2 messages
/// stay in an in-flight table (bounded by <see cref="MqttClientOptions.MaximumInFlightMessages"/>)
/// until acknowledged, and are sent again, with DUP, after a reconnect.
/// </summary>
internal sealed partial class MqttClient : IMqttClient
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ushort, OutgoingPublish> _inFlight = [];
    private readonly Dictionary<ushort, TaskCompletionSource<SubAckPacket?>> _requests = [];

    // QoS 2 messages received and not yet released by PUBREL. The value is the delivered message
    // while the application has not acknowledged it, null once PUBREC went out.
    private readonly Dictionary<ushort, MqttApplicationMessageReceivedEventArgs?> _incomingQos2 = [];
    private readonly Dictionary<string, MqttQualityOfServiceLevel> _subscriptions = new(StringComparer.Ordinal);
    private readonly Channel<MqttApplicationMessageReceivedEventArgs> _received =
        Channel.CreateUnbounded<MqttApplicationMessageReceivedEventArgs>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    private MqttClientOptions? _options;
    private ILogger _logger = NullLogger.Instance;
    private TimeProvider _time = TimeProvider.System;
    // Publishes waiting for a free in-flight slot, first come first served (keeps call order).
    private readonly Queue<OutgoingPublish> _waiting = new();
    private int _maximumInFlight = 64;
    private MqttClientConnection? _connection;
    private bool _connecting;
    private bool _wantConnected;
    private bool _reconnecting;
    private bool _disposed;
    private CancellationTokenSource _lifetime = new();
    private Task? _dispatcher;
    private ushort _lastPacketId;
    private long _publishSequence;
    private int _pingResponses;

    public event Func<MqttApplicationMessageReceivedEventArgs, Task>? ApplicationMessageReceivedAsync;

    public event Func<MqttClientConnectedEventArgs, Task>? ConnectedAsync;

    public event Func<MqttClientDisconnectedEventArgs, Task>? DisconnectedAsync;

    public bool IsConnected => Volatile.Read(ref _connection) is { IsClosed: false };

    public MqttClientOptions? Options => _options;

    /// <summary>How many PINGRESP packets arrived (tests observe keep-alive with it).</summary>
    internal int PingResponsesReceived => Volatile.Read(ref _pingResponses);

    internal int InFlightCount
    {
        get
        {
            lock (_gate) return _inFlight.Count;
        }
    }

    // ------------------------------------------------------------------ connect

    public async Task<MqttClientConnectResult> ConnectAsync(MqttClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Validate(options);
        lock (_gate)
        {
            if (_connecting || _connection is not null || _reconnecting)
                throw new InvalidOperationException("The client is already connected or connecting; call DisconnectAsync first.");
            _connecting = true;
            _options = options;
            _logger = options.Logger ?? NullLogger.Instance;
            _time = options.TimeProvider;
            _maximumInFlight = options.MaximumInFlightMessages;
            if (_lifetime.IsCancellationRequested) _lifetime = new CancellationTokenSource();
            _wantConnected = true;
        }
        _dispatcher ??= Task.Run(DispatchLoopAsync);
        try
        {
            return await ConnectCoreAsync(options, isReconnect: false, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_gate) _wantConnected = false;
            throw;
        }
        finally
        {
            lock (_gate) _connecting = false;
        }
    }

    private static void Validate(MqttClientOptions options)
    {
        if (options.WillTopic is not null) MqttTopic.ThrowIfInvalidTopicName(options.WillTopic, nameof(options));
        if (options.Password is not null && options.UserName is null) throw new ArgumentException("MQTT 3.1.1 allows a password only with a user name.", nameof(options));
        if (options.KeepAlivePeriod < TimeSpan.Zero || options.KeepAlivePeriod.TotalSeconds > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(options), options.KeepAlivePeriod, "The keep-alive period is 0 to 65,535 seconds.");
    }

    private async Task<MqttClientConnectResult> ConnectCoreAsync(MqttClientOptions options, bool isReconnect, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        MqttClientConnection? connection = null;
        try
        {
            connection = await OpenAsync(options, token).ConfigureAwait(false);
            await SendPacketAsync(connection, MqttPacket.FromConnect(CreateConnectPacket(options))).ConfigureAwait(false);
            var (sessionPresent, code) = await ReadConnAckAsync(connection, options, token).ConfigureAwait(false);
            var result = new MqttClientConnectResult(code, sessionPresent);
            if (code != MqttConnectReturnCode.Accepted)
            {
                Log.ConnectRefused(_logger, options.Host, options.Port, (int)code, code);
                throw new MqttConnectingFailedException(result);
            }

            if (!sessionPresent) ForgetSessionState();
            var established = connection;
            connection = null; // owned by its read loop from here on: the loop disposes it
            established.ReadLoop = Task.Run(() => ReadLoopAsync(established));
            if (options.KeepAlivePeriod > TimeSpan.Zero) _ = Task.Run(() => KeepAliveLoopAsync(established, options));
            try
            {
                await ResendInFlightAndGoLiveAsync(established).ConfigureAwait(false);
                Log.Connected(_logger, options.ClientId, options.Host, options.Port, sessionPresent);
                if (isReconnect && !sessionPresent) await ResubscribeAsync(established, options).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                established.Abort(MqttClientDisconnectReason.ConnectionLost, e);
                throw;
            }
            await RaiseAsync(ConnectedAsync, new MqttClientConnectedEventArgs(result)).ConfigureAwait(false);
            return result;
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new MqttCommunicationException($"Connecting to {options.Host}:{options.Port} timed out after {options.Timeout.TotalSeconds:0.###} s.", e);
        }
        catch (Exception e) when (e is SocketException or IOException or AuthenticationException or ObjectDisposedException)
        {
            throw new MqttCommunicationException($"Connecting to {options.Host}:{options.Port} failed: {e.Message}", e);
        }
        finally
        {
            if (connection is not null)
            {
                connection.Abort(MqttClientDisconnectReason.ConnectionLost, null);
                await connection.DisposeResourcesAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<MqttClientConnection> OpenAsync(MqttClientOptions options, CancellationToken token)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(options.Host, options.Port, token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: false);
            var tls = options.TlsOptions;
            if (tls.UseTls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = tls.TargetHost ?? options.Host,
                    ClientCertificates = tls.ClientCertificates,
                    EnabledSslProtocols = tls.SslProtocols,
                    RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ValidateServerCertificate(options, certificate, chain, errors),
                }, token).ConfigureAwait(false);
            }
            return new MqttClientConnection(socket, stream, _time.GetTimestamp());
        }
        catch
        {
            if (stream is not null) await stream.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            throw;
        }
    }

    private static bool ValidateServerCertificate(MqttClientOptions options, System.Security.Cryptography.X509Certificates.X509Certificate? certificate,
        System.Security.Cryptography.X509Certificates.X509Chain? chain, SslPolicyErrors errors)
    {
        var tls = options.TlsOptions;
        if (tls.CertificateValidationHandler is not null)
            return tls.CertificateValidationHandler(new MqttClientCertificateValidationEventArgs(certificate, chain, errors, options));
        if (errors == SslPolicyErrors.None) return true;
        return tls.AllowUntrustedCertificates && errors == SslPolicyErrors.RemoteCertificateChainErrors;
    }

    private static ConnectPacket CreateConnectPacket(MqttClientOptions options) => new()
    {
        ClientId = options.ClientId,
        CleanSession = options.CleanSession,
        KeepAliveSeconds = KeepAliveSeconds(options),
        WillTopic = options.WillTopic,
        WillPayload = options.WillPayload,
        WillQualityOfServiceLevel = options.WillTopic is null ? MqttQualityOfServiceLevel.AtMostOnce : options.WillQualityOfServiceLevel,
        WillRetain = options.WillTopic is not null && options.WillRetain,
        UserName = options.UserName,
        Password = options.Password,
    };

    /// <summary>The keep-alive in whole seconds as sent in CONNECT (a fraction of a second rounds up to 1).</summary>
    private static ushort KeepAliveSeconds(MqttClientOptions options)
    {
        var period = options.KeepAlivePeriod;
        if (period <= TimeSpan.Zero) return 0;
        return (ushort)Math.Clamp((long)period.TotalSeconds, 1, ushort.MaxValue);
    }

    private static async Task<(bool SessionPresent, MqttConnectReturnCode Code)> ReadConnAckAsync(MqttClientConnection connection, MqttClientOptions options, CancellationToken token)
    {
        while (true)
        {
            var result = await connection.Input.ReadAsync(token).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryReadPacket(ref buffer, options.MaximumPacketSize, out var packet))
            {
                connection.Input.AdvanceTo(buffer.Start);
                if (packet.Type != MqttPacketType.ConnAck)
                    throw new MqttCommunicationException($"The broker answered CONNECT with {packet.Type}, expected CONNACK.", new MqttProtocolException(MqttProtocolError.UnexpectedPacket, $"Expected CONNACK, actual {packet.Type}."));
                return (packet.SessionPresent, packet.ConnectReturnCode);
            }
            connection.Input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) throw new MqttCommunicationException($"{options.Host}:{options.Port} closed the connection before sending CONNACK.");
        }
    }

    private static bool TryReadPacket(ref ReadOnlySequence<byte> buffer, int maximumPacketSize, out MqttPacket packet)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!MqttV311Decoder.TryRead(ref reader, maximumPacketSize, out packet)) return false;
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    /// <summary>A new session: the broker knows nothing of earlier packet identifiers.</summary>
    private void ForgetSessionState()
    {
        lock (_gate)
        {
            _incomingQos2.Clear();
            foreach (var publish in _inFlight.Values)
            {
                // The broker lost the message with its session: start the flow over.
                publish.State = OutgoingState.AwaitingAcknowledgement;
            }
        }
    }

    /// <summary>
    /// Re-sends unacknowledged messages in their original order, then makes the connection the
    /// current one. Messages published meanwhile are caught by the loop, so none is skipped and
    /// none overtakes an older one.
    /// </summary>
    private async Task ResendInFlightAndGoLiveAsync(MqttClientConnection connection)
    {
        var pending = new List<OutgoingPublish>();
        while (true)
        {
            pending.Clear();
            lock (_gate)
            {
                foreach (var publish in _inFlight.Values)
                {
                    if (!ReferenceEquals(publish.SentOn, connection)) pending.Add(publish);
                }
                if (pending.Count == 0)
                {
                    // Its read loop may already have ended (the broker closed at once): never publish a dead connection.
                    if (connection.IsClosed) throw new MqttCommunicationException("The broker closed the connection right after CONNACK.", connection.CloseException);
                    Volatile.Write(ref _connection, connection);
                    return;
                }
                foreach (var publish in pending) publish.SentOn = connection;
            }
            pending.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
            foreach (var publish in pending)
            {
                if (publish.State == OutgoingState.AwaitingPubComp)
                    await SendPacketAsync(connection, MqttPacket.FromAcknowledgement(MqttPacketType.PubRel, publish.PacketIdentifier)).ConfigureAwait(false);
                else
                    await SendPublishAsync(connection, publish, dup: publish.Attempts > 0).ConfigureAwait(false);
            }
            Log.Resent(_logger, pending.Count);
        }
    }

    private async Task ResubscribeAsync(MqttClientConnection connection, MqttClientOptions options)
    {
        List<MqttTopicFilter> filters;
        lock (_gate)
        {
            filters = new List<MqttTopicFilter>(_subscriptions.Count);
            foreach (var (topic, qos) in _subscriptions) filters.Add(new MqttTopicFilter(topic, qos));
        }
        if (filters.Count == 0) return;
        var subAck = await RequestAsync(connection, filters, null, options, CancellationToken.None).ConfigureAwait(false);
        Log.Resubscribed(_logger, filters.Count, subAck!.ReturnCodes.Count);
    }

    // ------------------------------------------------------------------ disconnect

    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        MqttClientConnection? connection;
        lock (_gate)
        {
            _wantConnected = false;
            _lifetime.Cancel();
            connection = _connection;
        }
        if (connection is null)
        {
            FailPending(new MqttClientNotConnectedException("The client was disconnected."), includeInFlight: true);
            return;
        }
        try
        {
            await SendPacketAsync(connection, MqttPacket.FromEmpty(MqttPacketType.Disconnect)).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MqttCommunicationException)
        {
            // Already broken: nothing more to say to the broker.
        }
        connection.Abort(MqttClientDisconnectReason.NormalDisconnection, null);
        await connection.ReadLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Test hook: drops the connection as a crash would (no DISCONNECT; a TCP reset unless <paramref name="reset"/> is false), so the broker sends the will.</summary>
    internal void AbortConnectionForTesting(bool reset = true)
    {
        var connection = Volatile.Read(ref _connection);
        connection?.Abort(MqttClientDisconnectReason.ConnectionLost, new MqttCommunicationException("The connection was aborted by a test."), resetConnection: reset);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        try
        {
            await DisconnectAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is MqttCommunicationException or OperationCanceledException)
        {
            Log.DisposeFailed(_logger, e);
        }
        _disposed = true;
        _received.Writer.TryComplete();
    }

    // ------------------------------------------------------------------ read loop

    private async Task ReadLoopAsync(MqttClientConnection connection)
    {
        var options = _options!;
        Exception? error = null;
        try
        {
            var input = connection.Input;
            while (true)
            {
                var result = await input.ReadAsync(connection.Closing).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (TryReadPacket(ref buffer, options.MaximumPacketSize, out var packet))
                {
                    connection.LastReceived = _time.GetTimestamp();
                    await HandlePacketAsync(connection, packet).ConfigureAwait(false);
                }
                if (result.IsCompleted)
                {
                    error = buffer.IsEmpty
                        ? new MqttCommunicationException("The broker closed the connection.")
                        : new MqttCommunicationException($"The broker closed the connection in the middle of a packet ({buffer.Length} bytes left).");
                    break;
                }
                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException) when (connection.IsClosed)
        {
            // Closed on purpose; the reason is on the connection.
        }
        catch (Exception e) when (connection.IsClosed && e is IOException or SocketException or ObjectDisposedException or MqttCommunicationException)
        {
            // The socket was closed under a pending read.
        }
        catch (Exception e)
        {
            error = e;
        }
        await OnConnectionEndedAsync(connection, error).ConfigureAwait(false);
    }

    private ValueTask HandlePacketAsync(MqttClientConnection connection, in MqttPacket packet)
    {
        switch (packet.Type)
        {
            case MqttPacketType.Publish:
                return HandlePublishAsync(connection, packet.Publish);
            case MqttPacketType.PubAck:
                return CompleteOutgoingAsync(packet.PacketIdentifier, MqttQualityOfServiceLevel.AtLeastOnce);
            case MqttPacketType.PubRec:
                lock (_gate)
                {
                    if (_inFlight.TryGetValue(packet.PacketIdentifier, out var publish) && publish.Message.QualityOfServiceLevel == MqttQualityOfServiceLevel.ExactlyOnce)
                        publish.State = OutgoingState.AwaitingPubComp;
                }
                return SendPacketAsync(connection, MqttPacket.FromAcknowledgement(MqttPacketType.PubRel, packet.PacketIdentifier));
            case MqttPacketType.PubComp:
                return CompleteOutgoingAsync(packet.PacketIdentifier, MqttQualityOfServiceLevel.ExactlyOnce);
            case MqttPacketType.PubRel:
                lock (_gate) _incomingQos2.Remove(packet.PacketIdentifier);
                return SendPacketAsync(connection, MqttPacket.FromAcknowledgement(MqttPacketType.PubComp, packet.PacketIdentifier));
            case MqttPacketType.SubAck:
                CompleteRequest(packet.PacketIdentifier, packet.SubAck);
                return ValueTask.CompletedTask;
            case MqttPacketType.UnsubAck:
                CompleteRequest(packet.PacketIdentifier, null);
                return ValueTask.CompletedTask;
            case MqttPacketType.PingResp:
                Volatile.Write(ref connection.PingSentAt, 0);
                Interlocked.Increment(ref _pingResponses);
                return ValueTask.CompletedTask;
            default:
                throw new MqttProtocolException(MqttProtocolError.UnexpectedPacket, $"A broker may not send {MqttV311Decoder.TypeName(packet.Type)} to a client: expected PUBLISH, an acknowledgement or PINGRESP, actual {MqttV311Decoder.TypeName(packet.Type)}.");
        }
    }

    private ValueTask HandlePublishAsync(MqttClientConnection connection, in PublishPacket publish)
    {
        var qos = publish.QualityOfServiceLevel;
        var id = publish.PacketIdentifier;
        if (qos == MqttQualityOfServiceLevel.ExactlyOnce)
        {
            bool known, acknowledged = false;
            lock (_gate)
            {
                known = _incomingQos2.TryGetValue(id, out var earlier);
                if (known)
                {
                    acknowledged = earlier is null;
                    // Still with the application: its acknowledgement will go out on this connection.
                    if (earlier is not null) earlier.Connection = connection;
                }
            }
            if (known)
            {
                // A re-delivery: deliver nothing twice. If we had acknowledged, our PUBREC was lost: say it again.
                return acknowledged ? SendPacketAsync(connection, MqttPacket.FromAcknowledgement(MqttPacketType.PubRec, id)) : ValueTask.CompletedTask;
            }
        }

        var payload = publish.Payload.IsEmpty ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(publish.Payload.ToArray());
        var message = new MqttApplicationMessage
        {
            Topic = publish.GetTopicName(),
            Payload = payload,
            QualityOfServiceLevel = qos,
            Retain = publish.Retain,
            Dup = publish.Dup,
        };
        var args = new MqttApplicationMessageReceivedEventArgs(this, _options!.ClientId, message, id, connection);
        if (qos == MqttQualityOfServiceLevel.ExactlyOnce)
        {
            lock (_gate) _incomingQos2[id] = args;
        }
        _received.Writer.TryWrite(args);
        return ValueTask.CompletedTask;
    }

    private async Task DispatchLoopAsync()
    {
        var reader = _received.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var args))
            {
                var handlers = ApplicationMessageReceivedAsync;
                if (handlers is not null)
                {
                    foreach (var handler in Delegate.EnumerateInvocationList(handlers))
                    {
                        try
                        {
                            await handler(args).ConfigureAwait(false);
                        }
                        catch (Exception e)
                        {
                            Log.HandlerFailed(_logger, args.ApplicationMessage.Topic, e);
                        }
                    }
                }
                if (args.AutoAcknowledge)
                {
                    try
                    {
                        await AcknowledgeAsync(args, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is MqttCommunicationException or OperationCanceledException)
                    {
                        Log.AcknowledgeFailed(_logger, args.PacketIdentifier, e);
                    }
                }
            }
        }
    }

    internal async Task AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs args, CancellationToken cancellationToken)
    {
        var qos = args.ApplicationMessage.QualityOfServiceLevel;
        if (qos == MqttQualityOfServiceLevel.AtMostOnce || !args.TryMarkAcknowledged()) return;
        MqttPacket ack;
        if (qos == MqttQualityOfServiceLevel.AtLeastOnce)
        {
            ack = MqttPacket.FromAcknowledgement(MqttPacketType.PubAck, args.PacketIdentifier);
        }
        else
        {
            lock (_gate)
            {
                if (_incomingQos2.TryGetValue(args.PacketIdentifier, out var pending) && ReferenceEquals(pending, args))
                    _incomingQos2[args.PacketIdentifier] = null;
            }
            ack = MqttPacket.FromAcknowledgement(MqttPacketType.PubRec, args.PacketIdentifier);
        }
        var connection = args.Connection;
        if (connection.IsClosed) return; // the broker re-delivers after the reconnect
        try
        {
            await SendPacketAsync(connection, ack).AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MqttCommunicationException e)
        {
            Log.AcknowledgeFailed(_logger, args.PacketIdentifier, e);
        }
    }

    // ------------------------------------------------------------------ keep-alive

    private async Task KeepAliveLoopAsync(MqttClientConnection connection, MqttClientOptions options)
    {
        var keepAlive = TimeSpan.FromSeconds(KeepAliveSeconds(options));
        var interval = TimeSpan.FromTicks(Math.Max(keepAlive.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks));
        // MQTT 3.1.1 (3.1.2.10): the client sees to it that no more than the keep-alive passes between its
        // packets. Checked every quarter period, a ping due after three quarters idle goes out before the
        // period ends; one due only after the whole period could go out a quarter late, and on a busy
        // machine past the broker's grace (Mosquitto closes at 1.5 periods).
        var idleLimit = keepAlive - interval;
        try
        {
            while (!connection.IsClosed)
            {
                await Task.Delay(interval, _time, connection.Closing).ConfigureAwait(false);
                var pingSentAt = Volatile.Read(ref connection.PingSentAt);
                if (pingSentAt != 0)
                {
                    if (_time.GetElapsedTime(pingSentAt) > options.Timeout)
                    {
                        Log.KeepAliveTimeout(_logger, options.Timeout.TotalSeconds);
                        connection.Abort(MqttClientDisconnectReason.KeepAliveTimeout,
                            new MqttCommunicationException($"The broker did not answer PINGREQ within {options.Timeout.TotalSeconds:0.###} s."));
                        return;
                    }
                    continue;
                }
                if (_time.GetElapsedTime(Volatile.Read(ref connection.LastSent)) >= idleLimit
                    || _time.GetElapsedTime(Volatile.Read(ref connection.LastReceived)) >= idleLimit)
                {
                    Volatile.Write(ref connection.PingSentAt, _time.GetTimestamp());
                    await SendPacketAsync(connection, MqttPacket.FromEmpty(MqttPacketType.PingReq)).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Connection closed.
        }
        catch (MqttCommunicationException)
        {
            // The read loop reports the broken connection.
        }
    }

    // ------------------------------------------------------------------ connection end and reconnect

    private async Task OnConnectionEndedAsync(MqttClientConnection connection, Exception? error)
    {
        var reason = connection.CloseReason ?? (error is MqttProtocolException ? MqttClientDisconnectReason.ProtocolError : MqttClientDisconnectReason.ConnectionLost);
        error ??= connection.CloseException;
        connection.Abort(reason, error);
        bool wasCurrent;
        bool reconnect = false;
        var options = _options!;
        lock (_gate)
        {
            wasCurrent = ReferenceEquals(_connection, connection);
            if (wasCurrent) Volatile.Write(ref _connection, null);
            if (wasCurrent && _wantConnected && options.AutoReconnect && !_disposed && !_reconnecting)
            {
                _reconnecting = true;
                reconnect = true;
            }
        }
        await connection.DisposeResourcesAsync().ConfigureAwait(false);
        if (!wasCurrent) return;

        var failure = new MqttCommunicationException("The connection to the broker was lost.", error);
        FailPending(failure, includeInFlight: !(_wantConnected && options.AutoReconnect));
        if (reason == MqttClientDisconnectReason.NormalDisconnection) Log.Disconnected(_logger, options.ClientId);
        else Log.ConnectionLost(_logger, options.ClientId, reason, error);
        await RaiseAsync(DisconnectedAsync, new MqttClientDisconnectedEventArgs(true, reason, error)).ConfigureAwait(false);
        if (reconnect) _ = Task.Run(() => ReconnectLoopAsync(options, _lifetime.Token));
    }

    private async Task ReconnectLoopAsync(MqttClientOptions options, CancellationToken token)
    {
        var attempt = 0;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var delay = BackoffDelay(options, attempt++);
                await Task.Delay(delay, _time, token).ConfigureAwait(false);
                try
                {
                    await ConnectCoreAsync(options, isReconnect: true, token).ConfigureAwait(false);
                    MqttClientConnection? unwanted = null;
                    lock (_gate)
                    {
                        if (_connection is not null)
                        {
                            _reconnecting = false;
                            if (!_wantConnected) unwanted = _connection;
                        }
                    }
                    if (unwanted is not null)
                    {
                        // DisconnectAsync ran while this attempt was finishing.
                        unwanted.Abort(MqttClientDisconnectReason.NormalDisconnection, null);
                        return;
                    }
                    if (!IsReconnectingFlagSet()) return;
                }
                catch (MqttCommunicationException e)
                {
                    Log.ReconnectFailed(_logger, attempt, options.Host, options.Port, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // DisconnectAsync or Dispose.
        }
        lock (_gate) _reconnecting = false;
    }

    /// <summary>Exponential backoff from the minimum to the maximum delay, with "equal jitter" (half fixed, half random).</summary>
    internal static TimeSpan BackoffDelay(MqttClientOptions options, int attempt)
    {
        var min = options.AutoReconnectMinDelay.Ticks;
        var max = options.AutoReconnectMaxDelay.Ticks;
        var exponential = attempt >= 30 ? max : Math.Min(max, min * (1L << attempt));
        var half = exponential / 2;
        return TimeSpan.FromTicks(half + (long)(Random.Shared.NextDouble() * (exponential - half)));
    }

    private void FailPending(Exception failure, bool includeInFlight)
    {
        List<TaskCompletionSource<SubAckPacket?>> requests;
        List<OutgoingPublish>? publishes = null;
        lock (_gate)
        {
            requests = [.. _requests.Values];
            _requests.Clear();
            if (includeInFlight)
            {
                publishes = [.. _inFlight.Values, .. _waiting];
                _inFlight.Clear();
                _waiting.Clear();
            }
        }
        foreach (var request in requests) request.TrySetException(failure);
        if (publishes is null) return;
        foreach (var publish in publishes)
        {
            publish.Admitted?.TrySetException(failure);
            publish.Completion.TrySetException(failure);
        }
    }

    // ------------------------------------------------------------------ publish

    public async Task<MqttClientPublishResult> PublishAsync(MqttApplicationMessage applicationMessage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(applicationMessage);
        ObjectDisposedException.ThrowIf(_disposed, this);
        MqttTopic.ThrowIfInvalidTopicName(applicationMessage.Topic, nameof(applicationMessage));
        var qos = applicationMessage.QualityOfServiceLevel;
        if (qos > MqttQualityOfServiceLevel.ExactlyOnce) throw new ArgumentOutOfRangeException(nameof(applicationMessage), qos, "QoS must be 0, 1 or 2.");
        if (applicationMessage.Dup && qos == MqttQualityOfServiceLevel.AtMostOnce)
            throw new ArgumentException("DUP marks a re-send of a QoS 1 or 2 message; a QoS 0 message must not set it (MQTT 3.1.1 §3.3.1.1).", nameof(applicationMessage));

        if (qos == MqttQualityOfServiceLevel.AtMostOnce)
        {
            var connection = Volatile.Read(ref _connection) ?? throw new MqttClientNotConnectedException();
            await SendPublishAsync(connection, applicationMessage, 0, dup: false).ConfigureAwait(false);
            return MqttClientPublishResult.AtMostOnce;
        }

        OutgoingPublish publish;
        MqttClientConnection? current;
        bool admitted;
        lock (_gate)
        {
            current = _connection;
            if (current is null && !(_reconnecting && _wantConnected)) throw new MqttClientNotConnectedException();
            publish = new OutgoingPublish(applicationMessage, ++_publishSequence);
            admitted = _waiting.Count == 0 && _inFlight.Count < _maximumInFlight;
            if (admitted) Admit(publish, current);
            else
            {
                publish.Admitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Enqueue(publish);
            }
        }
        if (admitted)
        {
            if (current is not null) await SendAdmittedAsync(current, publish).ConfigureAwait(false);
        }
        else
        {
            // The slot is given, and the message sent, by whoever frees a slot: call order is kept.
            try
            {
                await publish.Admitted!.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                lock (_gate)
                {
                    if (!publish.Admitted!.Task.IsCompleted) publish.Cancelled = true;
                }
                if (publish.Cancelled) throw;
            }
        }
        await publish.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new MqttClientPublishResult(publish.PacketIdentifier);
    }

    /// <summary>Gives the message a packet identifier and an in-flight slot (caller holds the lock).</summary>
    private void Admit(OutgoingPublish publish, MqttClientConnection? connection)
    {
        publish.PacketIdentifier = NextPacketId();
        publish.SentOn = connection;
        _inFlight.Add(publish.PacketIdentifier, publish);
        publish.Admitted?.TrySetResult();
    }

    private async ValueTask SendAdmittedAsync(MqttClientConnection connection, OutgoingPublish publish)
    {
        try
        {
            await SendPublishAsync(connection, publish, dup: false).ConfigureAwait(false);
        }
        catch (MqttCommunicationException) when (_options!.AutoReconnect && _wantConnected)
        {
            // Stays in flight; sent again after the reconnect.
        }
    }

    private bool IsReconnectingFlagSet()
    {
        lock (_gate) return _reconnecting;
    }

    private bool IsReconnecting()
    {
        lock (_gate) return _reconnecting && _wantConnected;
    }

    /// <summary>PUBACK/PUBCOMP: the message is done; its slot goes to the oldest waiting message, sent from here (the read loop) so order is kept.</summary>
    private ValueTask CompleteOutgoingAsync(ushort packetIdentifier, MqttQualityOfServiceLevel qos)
    {
        OutgoingPublish? publish;
        OutgoingPublish? next = null;
        MqttClientConnection? current = null;
        lock (_gate)
        {
            if (!_inFlight.TryGetValue(packetIdentifier, out publish) || publish.Message.QualityOfServiceLevel != qos) return ValueTask.CompletedTask;
            _inFlight.Remove(packetIdentifier);
            while (_waiting.TryDequeue(out var candidate))
            {
                if (candidate.Cancelled) continue;
                current = _connection;
                Admit(candidate, current);
                next = candidate;
                break;
            }
        }
        publish.Completion.TrySetResult();
        return next is not null && current is not null ? SendAdmittedAsync(current, next) : ValueTask.CompletedTask;
    }

    /// <summary>The next packet identifier not in use (caller holds the lock).</summary>
    private ushort NextPacketId()
    {
        while (true)
        {
            _lastPacketId = _lastPacketId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastPacketId + 1);
            if (!_inFlight.ContainsKey(_lastPacketId) && !_requests.ContainsKey(_lastPacketId)) return _lastPacketId;
        }
    }

    // ------------------------------------------------------------------ subscribe

    public async Task<MqttClientSubscribeResult> SubscribeAsync(MqttClientSubscribeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (options.TopicFilters.Count == 0) throw new ArgumentException("Subscribe to at least one topic filter.", nameof(options));
        foreach (var filter in options.TopicFilters)
        {
            MqttTopic.ThrowIfInvalidTopicFilter(filter.Topic, nameof(options));
            if (filter.QualityOfServiceLevel > MqttQualityOfServiceLevel.ExactlyOnce) throw new ArgumentOutOfRangeException(nameof(options), filter.QualityOfServiceLevel, "QoS must be 0, 1 or 2.");
        }
        var connection = Volatile.Read(ref _connection) ?? throw new MqttClientNotConnectedException();
        var filters = new List<MqttTopicFilter>(options.TopicFilters);
        var subAck = await RequestAsync(connection, filters, null, _options!, cancellationToken).ConfigureAwait(false);
        if (subAck!.ReturnCodes.Count != filters.Count)
            throw new MqttProtocolException($"SUBACK return codes: expected {filters.Count}, actual {subAck.ReturnCodes.Count}.");
        var items = new List<MqttClientSubscribeResultItem>(filters.Count);
        lock (_gate)
        {
            for (var i = 0; i < filters.Count; i++)
            {
                var code = subAck.ReturnCodes[i];
                items.Add(new MqttClientSubscribeResultItem(filters[i], code));
                if (code != MqttSubscribeReturnCode.Failure) _subscriptions[filters[i].Topic] = filters[i].QualityOfServiceLevel;
            }
        }
        return new MqttClientSubscribeResult(items);
    }

    public async Task<MqttClientUnsubscribeResult> UnsubscribeAsync(MqttClientUnsubscribeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (options.TopicFilters.Count == 0) throw new ArgumentException("Unsubscribe from at least one topic filter.", nameof(options));
        foreach (var filter in options.TopicFilters) MqttTopic.ThrowIfInvalidTopicFilter(filter, nameof(options));
        var connection = Volatile.Read(ref _connection) ?? throw new MqttClientNotConnectedException();
        var filters = new List<string>(options.TopicFilters);
        await RequestAsync(connection, null, filters, _options!, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var filter in filters) _subscriptions.Remove(filter);
        }
        return new MqttClientUnsubscribeResult(filters);
    }

    /// <summary>Sends SUBSCRIBE or UNSUBSCRIBE and waits (up to the timeout) for its SUBACK/UNSUBACK.</summary>
    private async Task<SubAckPacket?> RequestAsync(MqttClientConnection connection, List<MqttTopicFilter>? subscribe, List<string>? unsubscribe,
        MqttClientOptions options, CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<SubAckPacket?>(TaskCreationOptions.RunContinuationsAsynchronously);
        ushort id;
        lock (_gate)
        {
            id = NextPacketId();
            _requests.Add(id, completion);
        }
        try
        {
            var packet = subscribe is not null
                ? MqttPacket.FromSubscribe(new SubscribePacket(id, subscribe))
                : MqttPacket.FromUnsubscribe(new UnsubscribePacket(id, unsubscribe!));
            await SendPacketAsync(connection, packet).ConfigureAwait(false);
            return await completion.Task.WaitAsync(options.Timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new MqttCommunicationException($"The broker did not answer {(subscribe is not null ? "SUBSCRIBE" : "UNSUBSCRIBE")} within {options.Timeout.TotalSeconds:0.###} s.", e);
        }
        finally
        {
            lock (_gate) _requests.Remove(id);
        }
    }

    private void CompleteRequest(ushort packetIdentifier, SubAckPacket? subAck)
    {
        TaskCompletionSource<SubAckPacket?>? completion;
        lock (_gate)
        {
            if (!_requests.Remove(packetIdentifier, out completion)) return;
        }
        if (subAck is null) completion.TrySetResult(null);
        else completion.TrySetResult(subAck);
    }

    // ------------------------------------------------------------------ sending

    private ValueTask SendPublishAsync(MqttClientConnection connection, OutgoingPublish publish, bool dup)
    {
        publish.Attempts++;
        // A message the application marked as a re-send carries DUP from its first attempt on.
        return SendPublishAsync(connection, publish.Message, publish.PacketIdentifier, dup || publish.Message.Dup);
    }

    private async ValueTask SendPublishAsync(MqttClientConnection connection, MqttApplicationMessage message, ushort packetIdentifier, bool dup)
    {
        await EnterWriteAsync(connection).ConfigureAwait(false);
        try
        {
            MqttV311Encoder.WritePublish(connection.Output, message.Topic, message.Payload, message.QualityOfServiceLevel, message.Retain, dup, packetIdentifier);
            await FlushAsync(connection).ConfigureAwait(false);
        }
        finally
        {
            connection.WriteLock.Release();
        }
    }

    private async ValueTask SendPacketAsync(MqttClientConnection connection, MqttPacket packet)
    {
        await EnterWriteAsync(connection).ConfigureAwait(false);
        try
        {
            MqttV311Encoder.Write(connection.Output, packet);
            await FlushAsync(connection).ConfigureAwait(false);
        }
        finally
        {
            connection.WriteLock.Release();
        }
    }

    private static async ValueTask EnterWriteAsync(MqttClientConnection connection)
    {
        try
        {
            await connection.WriteLock.WaitAsync(connection.Closing).ConfigureAwait(false);
        }
        catch (OperationCanceledException e)
        {
            throw new MqttCommunicationException("The connection is closed.", e);
        }
    }

    private async ValueTask FlushAsync(MqttClientConnection connection)
    {
        try
        {
            var result = await connection.Output.FlushAsync(connection.Closing).ConfigureAwait(false);
            if (result.IsCanceled || result.IsCompleted) throw new MqttCommunicationException("The connection is closed.");
            Volatile.Write(ref connection.LastSent, _time.GetTimestamp());
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            connection.Abort(MqttClientDisconnectReason.ConnectionLost, e);
            throw new MqttCommunicationException($"Sending to the broker failed: {e.Message}", e);
        }
    }

    private async Task RaiseAsync<TArgs>(Func<TArgs, Task>? handlers, TArgs args)
    {
        if (handlers is null) return;
        foreach (var handler in Delegate.EnumerateInvocationList(handlers))
        {
            try
            {
                await handler(args).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.EventHandlerFailed(_logger, typeof(TArgs).Name, e);
            }
        }
    }

    // ------------------------------------------------------------------ state

    private enum OutgoingState
    {
        AwaitingAcknowledgement,
        AwaitingPubComp,
    }

    private sealed class OutgoingPublish
    {
        public OutgoingPublish(MqttApplicationMessage message, long sequence)
        {
            Message = message;
            Sequence = sequence;
        }

        public MqttApplicationMessage Message { get; }

        public ushort PacketIdentifier { get; set; }

        /// <summary>Completed when a waiting message got an in-flight slot (null when it got one at once).</summary>
        public TaskCompletionSource? Admitted { get; set; }

        /// <summary>The caller gave up while waiting for a slot; skip it.</summary>
        public bool Cancelled { get; set; }

        public long Sequence { get; }

        public OutgoingState State { get; set; }

        public int Attempts { get; set; }

        /// <summary>The connection this message was last sent on; a newer connection re-sends it.</summary>
        public MqttClientConnection? SentOn { get; set; }

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "MQTT client {ClientId} connected to {Host}:{Port} (session present: {SessionPresent})")]
        public static partial void Connected(ILogger logger, string clientId, string host, int port, bool sessionPresent);

        [LoggerMessage(2, LogLevel.Warning, "The broker {Host}:{Port} refused the connection: CONNACK {Code} ({Reason})")]
        public static partial void ConnectRefused(ILogger logger, string host, int port, int code, MqttConnectReturnCode reason);

        [LoggerMessage(3, LogLevel.Warning, "MQTT client {ClientId} lost its connection ({Reason})")]
        public static partial void ConnectionLost(ILogger logger, string clientId, MqttClientDisconnectReason reason, Exception? exception);

        [LoggerMessage(4, LogLevel.Information, "MQTT client {ClientId} disconnected")]
        public static partial void Disconnected(ILogger logger, string clientId);

        [LoggerMessage(5, LogLevel.Information, "Reconnect attempt {Attempt} to {Host}:{Port} failed: {Error}")]
        public static partial void ReconnectFailed(ILogger logger, int attempt, string host, int port, string error);

        [LoggerMessage(6, LogLevel.Debug, "Re-sent {Count} unacknowledged messages")]
        public static partial void Resent(ILogger logger, int count);

        [LoggerMessage(7, LogLevel.Information, "Subscribed again to {Count} topic filters ({Granted} answers)")]
        public static partial void Resubscribed(ILogger logger, int count, int granted);

        [LoggerMessage(8, LogLevel.Error, "The message handler failed for a message on {Topic}")]
        public static partial void HandlerFailed(ILogger logger, string topic, Exception exception);

        [LoggerMessage(9, LogLevel.Debug, "Could not acknowledge packet {PacketIdentifier}; the broker will deliver it again")]
        public static partial void AcknowledgeFailed(ILogger logger, ushort packetIdentifier, Exception exception);

        [LoggerMessage(10, LogLevel.Warning, "No PINGRESP within {Seconds} s: closing the connection")]
        public static partial void KeepAliveTimeout(ILogger logger, double seconds);

        [LoggerMessage(11, LogLevel.Error, "A {EventName} handler failed")]
        public static partial void EventHandlerFailed(ILogger logger, string eventName, Exception exception);

        [LoggerMessage(12, LogLevel.Debug, "Disconnecting while disposing failed")]
        public static partial void DisposeFailed(ILogger logger, Exception exception);
    }
}
