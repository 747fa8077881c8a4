using System.Text;
using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Campus.Mqtt;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;

namespace Campus.Benchmarks;

/// <summary>
/// Lean MQTT load clients over raw sockets and the Campus codec, used identically against both
/// brokers: publishers send pre-encoded batches, the subscriber counts and acknowledges.
/// </summary>
internal static class MqttBenchClients
{
    public static async Task<Socket> ConnectAsync(int port, string clientId, IPAddress? source = null, ushort keepAlive = 0, CancellationToken ct = default,
        string? userName = null, string? password = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (source is not null) socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
        await socket.SendAsync(ConnectPacketBytes(clientId, keepAlive, userName, password), ct);
        var connAck = new byte[4];
        var got = 0;
        while (got < 4)
        {
            var n = await socket.ReceiveAsync(connAck.AsMemory(got), ct);
            if (n == 0) throw new IOException($"{clientId}: the broker closed the connection before CONNACK.");
            got += n;
        }
        CheckConnAck(clientId, connAck);
        return socket;
    }

    /// <summary>
    /// The same handshake with blocking calls only. A socket that never ran an asynchronous operation, and
    /// has no send or receive timeout (a blocking call with a timeout may wait through the engine), is not
    /// registered with the runtime's socket engine, so a caller that polls it itself (the raw fleet's
    /// epoll) does not also wake the engine's thread for every packet that arrives. A watchdog closes the
    /// socket when the handshake takes longer than <paramref name="timeout"/>, which ends the blocked call.
    /// </summary>
    public static Socket Connect(int port, string clientId, ushort keepAlive, string? userName, string? password, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var state = 0; // 0: handshaking, 1: done, 2: timed out
        using var watchdog = new Timer(_ =>
        {
            if (Interlocked.CompareExchange(ref state, 2, 0) == 0) socket.Dispose();
        }, null, timeout, Timeout.InfiniteTimeSpan);
        try
        {
            socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
            socket.Send(ConnectPacketBytes(clientId, keepAlive, userName, password).Span);
            var connAck = new byte[4];
            var got = 0;
            while (got < 4)
            {
                var n = socket.Receive(connAck.AsSpan(got));
                if (n == 0) throw new IOException($"{clientId}: the broker closed the connection before CONNACK.");
                got += n;
            }
            CheckConnAck(clientId, connAck);
            if (Interlocked.CompareExchange(ref state, 1, 0) != 0) throw new ObjectDisposedException(nameof(socket));
            return socket;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException && Volatile.Read(ref state) == 2)
        {
            throw new TimeoutException($"{clientId}: no CONNACK within {timeout.TotalSeconds:0} s.", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static ReadOnlyMemory<byte> ConnectPacketBytes(string clientId, ushort keepAlive, string? userName, string? password)
    {
        var w = new ArrayBufferWriter<byte>(64);
        MqttV311Encoder.WriteConnect(w, new ConnectPacket
        {
            ClientId = clientId,
            CleanSession = true,
            KeepAliveSeconds = keepAlive,
            UserName = userName,
            Password = password is null ? null : Encoding.UTF8.GetBytes(password),
        });
        return w.WrittenMemory;
    }

    private static void CheckConnAck(string clientId, byte[] connAck)
    {
        if (connAck[0] != 0x20 || connAck[3] != 0) throw new IOException($"{clientId}: CONNACK refused (code {connAck[3]}).");
    }

    /// <summary>Subscribes and waits for SUBACK; returns the socket ready for a <see cref="Subscriber"/>.</summary>
    public static async Task<Socket> SubscribeAsync(int port, string clientId, string filter, MqttQualityOfServiceLevel qos)
    {
        var socket = await ConnectAsync(port, clientId);
        var w = new ArrayBufferWriter<byte>(64);
        MqttV311Encoder.WriteSubscribe(w, new SubscribePacket(1, [new MqttTopicFilter(filter, qos)]));
        await socket.SendAsync(w.WrittenMemory);
        var subAck = new byte[5];
        var got = 0;
        while (got < 5) got += await socket.ReceiveAsync(subAck.AsMemory(got));
        if (subAck[0] != 0x90 || subAck[4] == 0x80) throw new IOException("SUBACK refused the benchmark subscription.");
        return socket;
    }

    /// <summary>Counts PUBLISH packets; acknowledges QoS 1 ones (all acks of one read in one send).</summary>
    public sealed class Subscriber
    {
        private readonly Socket _socket;
        private long _received;

        public Subscriber(Socket socket) => _socket = socket;

        public long Received => Volatile.Read(ref _received);

        public async Task RunAsync(CancellationToken ct)
        {
            var reader = PipeReader.Create(new NetworkStream(_socket, ownsSocket: false), new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024));
            var acks = new ArrayBufferWriter<byte>(16 * 1024);
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    var result = await reader.ReadAsync(ct);
                    var buffer = result.Buffer;
                    var count = 0L;
                    acks.ResetWrittenCount();
                    while (MqttV311Decoder.TryRead(buffer, MqttV311Decoder.MaximumPacketSize, out var packet, out var end))
                    {
                        if (packet.Type == MqttPacketType.Publish)
                        {
                            count++;
                            if (packet.Publish.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtLeastOnce)
                                MqttV311Encoder.WritePubAck(acks, packet.PacketIdentifier);
                        }
                        buffer = buffer.Slice(end);
                    }
                    reader.AdvanceTo(buffer.Start, result.Buffer.End);
                    Volatile.Write(ref _received, _received + count);
                    if (acks.WrittenCount > 0) await _socket.SendAsync(acks.WrittenMemory, ct);
                    if (result.IsCompleted) return;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }
    }

    /// <summary>Publishes small messages as fast as the broker takes them (QoS 1: within a window of unacknowledged ones).</summary>
    public sealed class Publisher
    {
        private const int Batch = 32;
        private const int BatchesInFlight = 4;
        private readonly Socket _socket;
        private readonly MqttQualityOfServiceLevel _qos;
        private readonly byte[] _batch;
        private readonly int _packetLength;
        private readonly int _idOffset;
        private readonly SemaphoreSlim _window = new(BatchesInFlight, BatchesInFlight);
        private long _sent;
        private long _acked;

        public Publisher(Socket socket, string topic, MqttQualityOfServiceLevel qos)
        {
            _socket = socket;
            _qos = qos;
            var one = new ArrayBufferWriter<byte>(128);
            var payload = new ReadOnlySequence<byte>("{\"v\":1,\"seq\":0,\"w\":12.5}"u8.ToArray());
            MqttV311Encoder.WritePublish(one, topic, payload, qos, retain: false, dup: false, packetIdentifier: (ushort)(qos == 0 ? 0 : 1));
            _packetLength = one.WrittenCount;
            _batch = new byte[_packetLength * Batch];
            for (var i = 0; i < Batch; i++) one.WrittenSpan.CopyTo(_batch.AsSpan(i * _packetLength));
            // Fixed header (1 + 1 length byte for these small packets) + topic length (2) + topic.
            _idOffset = 2 + 2 + System.Text.Encoding.UTF8.GetByteCount(topic);
        }

        public long Sent => Volatile.Read(ref _sent);

        public async Task RunAsync(CancellationToken ct)
        {
            var acks = _qos == MqttQualityOfServiceLevel.AtMostOnce ? Task.CompletedTask : ReadAcksAsync(ct);
            ushort id = 0;
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    if (_qos != MqttQualityOfServiceLevel.AtMostOnce)
                    {
                        await _window.WaitAsync(ct);
                        for (var i = 0; i < Batch; i++)
                        {
                            id = id == ushort.MaxValue ? (ushort)1 : (ushort)(id + 1);
                            BinaryPrimitives.WriteUInt16BigEndian(_batch.AsSpan(i * _packetLength + _idOffset), id);
                        }
                    }
                    await _socket.SendAsync(_batch, ct);
                    Volatile.Write(ref _sent, _sent + Batch);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
            await acks;
        }

        private async Task ReadAcksAsync(CancellationToken ct)
        {
            var reader = PipeReader.Create(new NetworkStream(_socket, ownsSocket: false));
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    var result = await reader.ReadAsync(ct);
                    var buffer = result.Buffer;
                    while (MqttV311Decoder.TryRead(buffer, MqttV311Decoder.MaximumPacketSize, out var packet, out var end))
                    {
                        if (packet.Type == MqttPacketType.PubAck && ++_acked % Batch == 0) _window.Release();
                        buffer = buffer.Slice(end);
                    }
                    reader.AdvanceTo(buffer.Start, result.Buffer.End);
                    if (result.IsCompleted) return;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException or SemaphoreFullException)
            {
                // Stopped.
            }
        }
    }
}
