using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;
using Campus.Mqtt.Server.Routing;
using Campus.Mqtt.Server.Security;
using Campus.Mqtt.Server.Sessions;
using Microsoft.Extensions.Logging;

namespace Campus.Mqtt.Server.Transport;

/// <summary>
/// One client connection: a receive loop that waits for data with a zero-byte read (so an idle
/// connection holds no buffer), reads into an input <see cref="Pipe"/>, decodes whole packets
/// and hands them to the <see cref="BrokerCore"/>; and a send loop that drains an output pipe
/// that any thread may write to (under a small lock) without waiting. The acknowledgements the
/// receive loop decides (PUBACK, PUBREC, PUBCOMP, UNSUBACK) are gathered while it works through
/// what it read, then sent with one send from the receive loop itself when the socket can take
/// them and nothing else is waiting to go out (see <see cref="SendAcknowledgements"/>). A
/// protocol error closes this connection with a logged reason and nothing else.
/// </summary>
internal sealed class MqttConnection : IPacketSink
{
    // Small segments keep an idle connection cheap; a busy one simply chains more of them.
    private static readonly PipeOptions InputOptions = new(
        pool: MemoryPool<byte>.Shared, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: 4096, useSynchronizationContext: false);

    private static readonly PipeOptions OutputOptions = new(
        pool: MemoryPool<byte>.Shared, readerScheduler: PipeScheduler.ThreadPool, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: 4096, useSynchronizationContext: false);

    // Reads that found data at once, after which the receive loop lets other queued work run.
    private const int YieldAfterReads = 16;

    private readonly BrokerCore _core;
    private readonly MqttServer _server;
    private readonly Socket _socket;
    private Stream _stream;
    private readonly Pipe _input = new(InputOptions);
    private readonly Pipe _output = new(OutputOptions);
    private readonly Lock _writeLock = new();
    // Acknowledgements decided by the receive loop and not sent yet (4 bytes each; under _writeLock).
    private const int MaxGatheredAckBytes = 256;
    private readonly ArrayBufferWriter<byte> _acks = new(MaxGatheredAckBytes);
    private bool _directSend;
    private readonly TimeProvider _time;
    private long _pendingBytes;
    private long _slowDrops;
    private long _lastActivity;
    private bool _outputClosed;
    private int _closeReason = -1;
    private bool _disconnectReceived;
    private bool _connectReceived;
    private string? _userName;
    private ushort _keepAliveSeconds;
    private StoredMessage? _will;
    private MqttSession? _session;
    private ClientAcl? _acl;

    public MqttConnection(MqttServer server, BrokerCore core, Socket socket, Stream stream, TimeProvider time)
    {
        _server = server;
        _core = core;
        _socket = socket;
        _stream = stream;
        _time = time;
        RemoteEndPoint = socket.RemoteEndPoint;
        AcceptedAt = time.GetTimestamp();
        _lastActivity = AcceptedAt;
        // Plain TCP: the receive loop may send its acknowledgements itself (see SendAcknowledgements).
        // A non-blocking socket makes that send return at once when the socket cannot take the bytes
        // (no poll first); every other operation on it is asynchronous, which Blocking does not affect.
        _directSend = stream is NetworkStream;
        if (_directSend) socket.Blocking = false;
    }

    public EndPoint? RemoteEndPoint { get; }
    public long AcceptedAt { get; }
    public string ClientId { get; private set; } = "";
    public string? UserName => _userName;
    public bool IsConnected => _session is not null;
    public ushort KeepAliveSeconds => _keepAliveSeconds;
    public long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>Replaces the stream once a TLS handshake has succeeded (all output then goes through the send loop).</summary>
    public void UseStream(Stream stream)
    {
        lock (_writeLock) _directSend = false;
        _stream = stream;
    }

    public async Task RunAsync()
    {
        var send = Task.Run(SendLoopAsync);
        try
        {
            await ReceiveLoopAsync().ConfigureAwait(false);
            SetCloseReason(_disconnectReceived ? MqttClientDisconnectType.Clean : MqttClientDisconnectType.NotClean);
        }
        catch (MqttProtocolException e)
        {
            _core.Metrics.Rejected.Add(1, BrokerMetrics.ReasonProtocol);
            Log.ProtocolError(_core.Logger, RemoteEndPoint, ClientId, e.Message);
            if (e.Error == MqttProtocolError.UnsupportedProtocolLevel && !_connectReceived)
                WriteConnAck(false, MqttConnectReturnCode.UnacceptableProtocolVersion);
            SetCloseReason(MqttClientDisconnectType.ProtocolError);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            SetCloseReason(MqttClientDisconnectType.NotClean);
        }
        catch (Exception e)
        {
            Log.ConnectionFailed(_core.Logger, e, ClientId);
            SetCloseReason(MqttClientDisconnectType.NotClean);
        }
        finally
        {
            await CloseAsync(send).ConfigureAwait(false);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var writer = _input.Writer;
        var reader = _input.Reader;
        var waitFirst = true;
        var readsWithoutWaiting = 0;
        while (true)
        {
            // Wait for data before taking a buffer: 100,000 idle clients then cost no buffers.
            if (waitFirst) await _stream.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false);
            var memory = writer.GetMemory(1);
            var pending = _stream.ReadAsync(memory);
            if (pending.IsCompleted && ++readsWithoutWaiting >= YieldAfterReads)
            {
                // A client that always has more data would keep this thread for good (nothing here
                // waits), and the send loops queued behind it, its subscribers' among them, would
                // starve on a small machine: let queued work run now and then.
                readsWithoutWaiting = 0;
                await Task.Yield();
            }
            else if (!pending.IsCompleted)
            {
                readsWithoutWaiting = 0;
            }
            var read = await pending.ConfigureAwait(false);
            if (read == 0) return;
            waitFirst = read < memory.Length;
            writer.Advance(read);
            _core.Metrics.BytesIn.Add(read);
            Volatile.Write(ref _lastActivity, _time.GetTimestamp());
            await writer.FlushAsync().ConfigureAwait(false);

            var result = await reader.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            var consumed = await ProcessAsync(buffer).ConfigureAwait(false);
            reader.AdvanceTo(consumed, buffer.End);
            if (_disconnectReceived || _closeReason >= 0) return;
        }
    }

    /// <summary>Handles every whole packet in <paramref name="buffer"/>; returns where the unread rest starts.</summary>
    private async ValueTask<SequencePosition> ProcessAsync(ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            if (!MqttV311Decoder.TryRead(buffer, _core.Options.MaxPacketSize, out var packet, out var end))
            {
                SendAcknowledgements();
                return buffer.Start;
            }
            var handled = HandlePacketAsync(packet);
            if (!handled.IsCompletedSuccessfully)
            {
                // Whatever was acknowledged so far goes out before waiting (for the publish hook, say).
                SendAcknowledgements();
                await handled.ConfigureAwait(false);
            }
            buffer = buffer.Slice(end);
            if (BrokerCore.TakeCongestedSubscriber() is { } congested)
            {
                SendAcknowledgements();
                await WaitForSubscriberAsync(congested).ConfigureAwait(false);
            }
            if (_disconnectReceived || _closeReason >= 0)
            {
                SendAcknowledgements();
                return buffer.Start;
            }
        }
    }

    /// <summary>
    /// Backpressure: this client's publishes filled an online subscriber's queue, so stop reading
    /// from it (TCP pushes back) until the queue is half empty, for at most a moment; a
    /// subscriber that does not drain is exempt for a while and overflow is dropped and counted.
    /// </summary>
    private async Task WaitForSubscriberAsync(MqttSession congested)
    {
        // Never wait for oneself: this loop is what reads the acknowledgements that drain it.
        // (Real time on purpose: this is flow control, not protocol timing.)
        if (ReferenceEquals(congested, _session)) return;
        var drained = congested.WaitForDrainAsync(_core.HighWater / 2);
        // Wait as long as the subscriber makes progress; one that acknowledges nothing for
        // SlowSubscriberTimeout is stalled: exempt it (its overflow is dropped and counted) and read on.
        var options = _core.Options;
        var progress = congested.CompletedDeliveries;
        while (!drained.IsCompleted)
        {
            if (await Task.WhenAny(drained, Task.Delay(options.SlowSubscriberTimeout)).ConfigureAwait(false) == drained) return;
            var now = congested.CompletedDeliveries;
            if (now == progress)
            {
                congested.ExemptFromThrottling(Environment.TickCount64 + (long)options.StalledSubscriberExemption.TotalMilliseconds);
                return;
            }
            progress = now;
        }
    }

    private ValueTask HandlePacketAsync(in MqttPacket packet)
    {
        var session = _session;
        if (session is null)
        {
            if (packet.Type != MqttPacketType.Connect)
                throw new MqttProtocolException(MqttProtocolError.UnexpectedPacket, $"First packet: expected CONNECT, actual {packet.Type.ToString().ToUpperInvariant()}.");
            return HandleConnectAsync(packet.Connect);
        }
        switch (packet.Type)
        {
            case MqttPacketType.Publish:
                return HandlePublishAsync(session, packet.Publish);
            case MqttPacketType.PubAck:
                session.OnPubAck(packet.PacketIdentifier);
                break;
            case MqttPacketType.PubRec:
                session.OnPubRec(packet.PacketIdentifier);
                break;
            case MqttPacketType.PubRel:
                session.EndIncomingQos2(packet.PacketIdentifier);
                QueueAcknowledgement(MqttPacketType.PubComp, packet.PacketIdentifier);
                break;
            case MqttPacketType.PubComp:
                session.OnPubComp(packet.PacketIdentifier);
                break;
            case MqttPacketType.Subscribe:
                HandleSubscribe(session, packet.Subscribe);
                break;
            case MqttPacketType.Unsubscribe:
                _core.Unsubscribe(session, packet.Unsubscribe.TopicFilters);
                QueueAcknowledgement(MqttPacketType.UnsubAck, packet.PacketIdentifier);
                break;
            case MqttPacketType.PingReq:
                Write(static (w, _) => MqttV311Encoder.WritePingResp(w), 0);
                break;
            case MqttPacketType.Disconnect:
                _will = null;
                _disconnectReceived = true;
                break;
            case MqttPacketType.Connect:
                throw new MqttProtocolException(MqttProtocolError.UnexpectedPacket, "Second CONNECT on one connection: expected 1 CONNECT, actual 2.");
            default:
                throw new MqttProtocolException(MqttProtocolError.UnexpectedPacket, $"{packet.Type.ToString().ToUpperInvariant()} is sent by servers, not clients.");
        }
        return ValueTask.CompletedTask;
    }

    private async ValueTask HandleConnectAsync(ConnectPacket connect)
    {
        // Keep what the connection needs, not the packet (it holds the password).
        _connectReceived = true;
        _userName = connect.UserName;
        _keepAliveSeconds = connect.KeepAliveSeconds;
        var clientId = connect.ClientId;
        // The client id names the ACL's %c: with this option it is the account, not a choice of the client.
        if (_core.Options.UseUsernameAsClientId && connect.UserName is { Length: > 0 } asId) clientId = asId;
        if (clientId.Length == 0)
        {
            if (!connect.CleanSession)
            {
                RefuseConnect(MqttConnectReturnCode.IdentifierRejected, "(empty)");
                return;
            }
            clientId = "auto-" + Guid.NewGuid().ToString("N");
        }
        ClientId = clientId;

        var code = _core.Authenticate(connect.UserName, connect.Password);
        if (code == MqttConnectReturnCode.Accepted && !_core.ClientIdAllowedFor(clientId, connect.UserName))
            code = MqttConnectReturnCode.IdentifierRejected;
        code = await _server.ValidateConnectionAsync(connect, clientId, RemoteEndPoint, code).ConfigureAwait(false);
        if (code != MqttConnectReturnCode.Accepted)
        {
            RefuseConnect(code, clientId);
            return;
        }

        if (connect.WillTopic is { } willTopic)
            _will = StoredMessage.Create(willTopic, connect.WillPayload.Span, connect.WillQualityOfServiceLevel, connect.WillRetain);
        _acl = _core.AclFor(clientId, connect.UserName);
        _session = _core.AttachSession(clientId, connect.CleanSession, this, _acl, RemoteEndPoint, out var present);
        _server.OnClientConnected(this);
        Log.ClientConnected(_core.Logger, clientId, RemoteEndPoint, connect.UserName, connect.CleanSession, present);
        await _server.RaiseClientConnectedAsync(this).ConfigureAwait(false);
    }

    private void RefuseConnect(MqttConnectReturnCode code, string clientId)
    {
        _core.Metrics.Rejected.Add(1, BrokerMetrics.ReasonAuth);
        Log.ConnectionRefused(_core.Logger, RemoteEndPoint, clientId, _userName, code);
        WriteConnAck(false, code);
        SetCloseReason(MqttClientDisconnectType.NotClean);
    }

    private ValueTask HandlePublishAsync(MqttSession session, in PublishPacket publish)
    {
        _core.Metrics.MessagesIn.Add(1);
        var qos = publish.QualityOfServiceLevel;
        if (qos == MqttQualityOfServiceLevel.ExactlyOnce && !session.TryBeginIncomingQos2(publish.PacketIdentifier))
        {
            // A resend of a QoS 2 message routed already: acknowledge again, route nothing.
            QueueAcknowledgement(MqttPacketType.PubRec, publish.PacketIdentifier);
            return ValueTask.CompletedTask;
        }
        if (_server.HasPublishInterceptor) return InterceptAndPublishAsync(publish.QualityOfServiceLevel, publish.PacketIdentifier, publish.Dup, ToStored(publish));
        _core.HandleClientPublish(ClientId, UserName, _acl, publish);
        Acknowledge(qos, publish.PacketIdentifier);
        return ValueTask.CompletedTask;
    }

    private static StoredMessage ToStored(in PublishPacket publish) =>
        StoredMessage.Create(publish.TopicName, publish.Payload, publish.QualityOfServiceLevel, publish.Retain);

    private async ValueTask InterceptAndPublishAsync(MqttQualityOfServiceLevel qos, ushort packetId, bool dup, StoredMessage message)
    {
        if (_acl is not null && !_acl.CanPublish(message.Topic))
        {
            _core.Metrics.Rejected.Add(1, BrokerMetrics.ReasonAcl);
            Log.PublishDenied(_core.Logger, ClientId, UserName, message.Topic);
        }
        else
        {
            var args = await _server.InterceptPublishAsync(message, dup, ClientId, UserName).ConfigureAwait(false);
            if (args.CloseConnection)
            {
                SetCloseReason(MqttClientDisconnectType.NotClean);
                return;
            }
            if (args.ProcessPublish) _core.Publish(message);
        }
        Acknowledge(qos, packetId);
    }

    private void Acknowledge(MqttQualityOfServiceLevel qos, ushort packetId)
    {
        if (qos == MqttQualityOfServiceLevel.AtLeastOnce) QueueAcknowledgement(MqttPacketType.PubAck, packetId);
        else if (qos == MqttQualityOfServiceLevel.ExactlyOnce) QueueAcknowledgement(MqttPacketType.PubRec, packetId);
    }

    private void HandleSubscribe(MqttSession session, SubscribePacket subscribe)
    {
        var codes = _core.Subscribe(session, subscribe.TopicFilters, _acl, UserName);
        var subAck = new SubAckPacket(subscribe.PacketIdentifier, codes);
        Write(static (w, s) => MqttV311Encoder.WriteSubAck(w, s), subAck);
        for (var i = 0; i < codes.Length; i++)
        {
            if (codes[i] != MqttSubscribeReturnCode.Failure)
                _core.DeliverRetained(session, subscribe.TopicFilters[i].Topic, (MqttQualityOfServiceLevel)codes[i]);
        }
    }

    // ---- output ----

    public bool TryWriteShared(ReadOnlySpan<byte> encodedPacket)
    {
        lock (_writeLock)
        {
            if (_outputClosed) return true; // the session is going away; not a slow-client drop
            if (_pendingBytes > _core.Options.MaxPendingOutputBytes)
            {
                var dropped = ++_slowDrops;
                if (dropped == 1 || dropped % 10_000 == 0) Log.SlowClient(_core.Logger, ClientId, _pendingBytes, dropped);
                return false;
            }
            var writer = _output.Writer;
            MoveAcknowledgementsLocked(writer);
            writer.Write(encodedPacket);
            _core.Metrics.MessagesOut.Add(1);
            FlushLocked(writer);
            return true;
        }
    }

    public bool WritePublish(StoredMessage message, MqttQualityOfServiceLevel qos, ushort packetIdentifier, bool dup, bool retain)
    {
        lock (_writeLock)
        {
            if (_outputClosed) return false;
            var writer = _output.Writer;
            MoveAcknowledgementsLocked(writer);
            MqttV311Encoder.WritePublish(writer, message.TopicUtf8, message.PayloadSequence, qos, retain, dup, packetIdentifier);
            _core.Metrics.MessagesOut.Add(1);
            FlushLocked(writer);
            return true;
        }
    }

    public void WriteAcknowledgement(MqttPacketType type, ushort packetIdentifier)
    {
        lock (_writeLock)
        {
            if (_outputClosed) return;
            var writer = _output.Writer;
            MoveAcknowledgementsLocked(writer);
            MqttV311Encoder.WriteAcknowledgement(writer, type, packetIdentifier);
            FlushLocked(writer);
        }
    }

    public void WriteConnAck(bool sessionPresent, MqttConnectReturnCode returnCode)
    {
        lock (_writeLock)
        {
            if (_outputClosed) return;
            var writer = _output.Writer;
            MoveAcknowledgementsLocked(writer);
            MqttV311Encoder.WriteConnAck(writer, sessionPresent, returnCode);
            FlushLocked(writer);
        }
    }

    private void Write<TState>(Action<IBufferWriter<byte>, TState> encode, TState state)
    {
        lock (_writeLock)
        {
            if (_outputClosed) return;
            var writer = _output.Writer;
            MoveAcknowledgementsLocked(writer);
            encode(writer, state);
            FlushLocked(writer);
        }
    }

    /// <summary>
    /// An acknowledgement decided by the receive loop: gathered, and sent by
    /// <see cref="SendAcknowledgements"/> once the loop has handled what it read (or before it waits).
    /// Without a direct send (TLS) it goes through the output pipe at once, as any packet.
    /// </summary>
    private void QueueAcknowledgement(MqttPacketType type, ushort packetIdentifier)
    {
        lock (_writeLock)
        {
            if (!_directSend)
            {
                WriteAcknowledgement(type, packetIdentifier);
                return;
            }
            if (_outputClosed) return;
            if (_acks.WrittenCount >= MaxGatheredAckBytes)
            {
                MoveAcknowledgementsLocked(_output.Writer);
                FlushLocked(_output.Writer);
            }
            MqttV311Encoder.WriteAcknowledgement(_acks, type, packetIdentifier);
        }
    }

    /// <summary>
    /// Sends the gathered acknowledgements. When nothing else is queued or being written (no pending
    /// output bytes: the send loop is idle and stays so, since only a writer holding the lock can give
    /// it data), they go out with one non-blocking send from this thread, which saves waking the send
    /// loop for a few bytes. Whatever that send cannot take goes through the output pipe, behind
    /// nothing, so the byte stream keeps its order.
    /// </summary>
    private void SendAcknowledgements()
    {
        // Only this loop adds acknowledgements, so none gathered now means none to send (no lock).
        if (_acks.WrittenCount == 0) return;
        var failed = false;
        lock (_writeLock)
        {
            var length = _acks.WrittenCount;
            if (length == 0) return;
            if (_outputClosed)
            {
                _acks.ResetWrittenCount();
                return;
            }
            var sent = 0;
            // The socket is non-blocking: the send never waits while the lock is held, it takes what
            // fits (WouldBlock: nothing) and the rest goes through the output pipe.
            if (_pendingBytes == 0)
            {
                var n = _socket.Send(_acks.WrittenSpan, SocketFlags.None, out var error);
                if (error == SocketError.Success)
                {
                    sent = n;
                    _core.Metrics.BytesOut.Add(n);
                }
                else if (error != SocketError.WouldBlock)
                {
                    _acks.ResetWrittenCount();
                    failed = true;
                }
            }
            if (!failed)
            {
                if (sent < length)
                {
                    var writer = _output.Writer;
                    writer.Write(_acks.WrittenSpan[sent..]);
                    FlushLocked(writer);
                }
                _acks.ResetWrittenCount();
            }
        }
        if (failed)
        {
            SetCloseReason(MqttClientDisconnectType.NotClean);
            Abort(MqttClientDisconnectType.NotClean);
        }
    }

    /// <summary>Puts gathered acknowledgements into the output pipe ahead of what the caller writes next.</summary>
    private void MoveAcknowledgementsLocked(PipeWriter writer)
    {
        if (_acks.WrittenCount == 0) return;
        writer.Write(_acks.WrittenSpan);
        _acks.ResetWrittenCount();
    }

    private void FlushLocked(PipeWriter writer)
    {
        _pendingBytes += writer.UnflushedBytes;
        // The output pipe never pauses (pauseWriterThreshold 0), so this completes at once.
        var flush = writer.FlushAsync();
        if (flush.IsCompleted) flush.GetAwaiter().GetResult();
        else _ = flush.AsTask();
    }

    private async Task SendLoopAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var length = buffer.Length;
                if (length > 0)
                {
                    if (buffer.IsSingleSegment) await _stream.WriteAsync(buffer.First).ConfigureAwait(false);
                    else await WriteMultiSegmentAsync(buffer).ConfigureAwait(false);
                    _core.Metrics.BytesOut.Add(length);
                    lock (_writeLock) _pendingBytes -= length;
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled) return;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            SetCloseReason(MqttClientDisconnectType.NotClean);
            Abort(MqttClientDisconnectType.NotClean);
        }
        finally
        {
            CloseOutput();
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task WriteMultiSegmentAsync(ReadOnlySequence<byte> buffer)
    {
        // Gather small segments into one write (fewer system calls); huge backlogs go chunk by chunk.
        const int Chunk = 64 * 1024;
        var rented = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length, Chunk));
        try
        {
            while (!buffer.IsEmpty)
            {
                var n = (int)Math.Min(buffer.Length, rented.Length);
                buffer.Slice(0, n).CopyTo(rented);
                await _stream.WriteAsync(rented.AsMemory(0, n)).ConfigureAwait(false);
                buffer = buffer.Slice(n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // ---- closing ----

    private void CloseOutput()
    {
        lock (_writeLock)
        {
            if (_outputClosed) return;
            _outputClosed = true;
            if (_acks.WrittenCount > 0)
            {
                // The last acknowledgements go out with the rest, as the close lets queued output go.
                MoveAcknowledgementsLocked(_output.Writer);
                FlushLocked(_output.Writer);
            }
            _output.Writer.Complete();
        }
    }

    private void SetCloseReason(MqttClientDisconnectType reason) => Interlocked.CompareExchange(ref _closeReason, (int)reason, -1);

    /// <summary>Ends the connection from outside (takeover, keep-alive expiry, server stop).</summary>
    public void Abort(MqttClientDisconnectType reason)
    {
        SetCloseReason(reason);
        CloseOutput();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
        _socket.Dispose();
    }

    private async Task CloseAsync(Task send)
    {
        // Let what is queued (a refusing CONNACK, the last acknowledgements) go out, briefly.
        CloseOutput();
        await send.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        await _input.Writer.CompleteAsync().ConfigureAwait(false);

        var reason = (MqttClientDisconnectType)Math.Max(0, Volatile.Read(ref _closeReason));
        if (_session is { } session)
        {
            _core.DetachSession(session, this);
            if (_will is { } will && reason != MqttClientDisconnectType.Clean && reason != MqttClientDisconnectType.ServerShutdown)
            {
                if (_acl is not null && !_acl.CanPublish(will.Topic))
                {
                    _core.Metrics.Rejected.Add(1, BrokerMetrics.ReasonAcl);
                    Log.PublishDenied(_core.Logger, ClientId, UserName, will.Topic);
                }
                else
                {
                    Log.PublishingWill(_core.Logger, ClientId, will.Topic);
                    // A will is a publish of this client's like any other: the publish hook sees it
                    // (so an application, such as the controller, learns the client is gone) and
                    // may keep it from being routed.
                    var route = true;
                    if (_server.HasPublishInterceptor)
                        route = (await _server.InterceptPublishAsync(will, dup: false, ClientId, UserName).ConfigureAwait(false)).ProcessPublish;
                    if (route) _core.Publish(will);
                }
            }
            Log.ClientDisconnected(_core.Logger, ClientId, reason);
        }
        await _server.OnConnectionClosedAsync(this, wasConnected: _session is not null, reason).ConfigureAwait(false);
    }
}
