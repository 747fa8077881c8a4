using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;

namespace Campus.Mqtt.Server.Tests.Support;

/// <summary>A packet as the test client received it (copied out of the receive buffer).</summary>
internal sealed record Received(
    MqttPacketType Type,
    ushort PacketIdentifier,
    string? Topic = null,
    byte[]? Payload = null,
    MqttQualityOfServiceLevel Qos = MqttQualityOfServiceLevel.AtMostOnce,
    bool Retain = false,
    bool Dup = false,
    MqttConnectReturnCode ConnectReturnCode = MqttConnectReturnCode.Accepted,
    bool SessionPresent = false,
    IReadOnlyList<MqttSubscribeReturnCode>? SubAckCodes = null)
{
    public string PayloadText => Payload is null ? "" : Encoding.UTF8.GetString(Payload);
}

/// <summary>
/// A bare MQTT client for tests: a TcpClient plus the codec, nothing automatic (no acks, no
/// keep-alive), so tests can misbehave on purpose: skip acknowledgements, go silent, send garbage.
/// </summary>
internal sealed class RawMqttClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Channel<Received> _received = Channel.CreateUnbounded<Received>();
    private readonly Task _readLoop;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private int _closed;

    private RawMqttClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>True once the server closed the connection (or it failed).</summary>
    public bool IsClosed => Volatile.Read(ref _closed) == 1;

    public Task Closed => _readLoop;

    public static async Task<RawMqttClient> OpenAsync(int port, IPAddress? source = null)
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        if (source is not null) tcp.Client.Bind(new IPEndPoint(source, 0));
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        return new RawMqttClient(tcp);
    }

    /// <summary>Opens a connection and completes CONNECT/CONNACK; throws unless accepted.</summary>
    public static async Task<RawMqttClient> ConnectAsync(int port, string clientId, bool cleanSession = true, ushort keepAlive = 0,
        string? willTopic = null, string? willPayload = null, string? userName = null, string? password = null)
    {
        var client = await OpenAsync(port);
        var connAck = await client.SendConnectAsync(clientId, cleanSession, keepAlive, willTopic, willPayload, userName, password);
        if (connAck.ConnectReturnCode != MqttConnectReturnCode.Accepted)
            throw new InvalidOperationException($"CONNECT of {clientId} refused: {connAck.ConnectReturnCode}");
        return client;
    }

    public async Task<Received> SendConnectAsync(string clientId, bool cleanSession = true, ushort keepAlive = 0,
        string? willTopic = null, string? willPayload = null, string? userName = null, string? password = null)
    {
        await SendAsync(w => MqttV311Encoder.WriteConnect(w, new ConnectPacket
        {
            ClientId = clientId,
            CleanSession = cleanSession,
            KeepAliveSeconds = keepAlive,
            WillTopic = willTopic,
            WillPayload = willPayload is null ? default : Encoding.UTF8.GetBytes(willPayload),
            UserName = userName,
            Password = password is null ? null : Encoding.UTF8.GetBytes(password),
        }));
        return await ExpectAsync(MqttPacketType.ConnAck);
    }

    public Task PublishAsync(string topic, string payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtMostOnce, ushort packetId = 0, bool retain = false, bool dup = false) =>
        SendAsync(w => MqttV311Encoder.WritePublish(w, topic, new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(payload)), qos, retain, dup, packetId));

    /// <summary>The bytes of one PUBLISH, for tests that send many in a single write.</summary>
    public static byte[] EncodePublish(string topic, string payload, MqttQualityOfServiceLevel qos, ushort packetId)
    {
        var buffer = new ArrayBufferWriter<byte>();
        MqttV311Encoder.WritePublish(buffer, topic, new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(payload)), qos, false, false, packetId);
        return buffer.WrittenSpan.ToArray();
    }

    public async Task<Received> SubscribeAsync(ushort packetId, params (string Filter, MqttQualityOfServiceLevel Qos)[] filters)
    {
        var list = filters.Select(f => new MqttTopicFilter(f.Filter, f.Qos)).ToList();
        await SendAsync(w => MqttV311Encoder.WriteSubscribe(w, new SubscribePacket(packetId, list)));
        return await ExpectAsync(MqttPacketType.SubAck);
    }

    public Task SendAckAsync(MqttPacketType type, ushort packetId) => SendAsync(w => MqttV311Encoder.WriteAcknowledgement(w, type, packetId));

    public Task PingAsync() => SendAsync(MqttV311Encoder.WritePingReq);

    public Task DisconnectAsync() => SendAsync(MqttV311Encoder.WriteDisconnect);

    public async Task SendRawAsync(byte[] bytes)
    {
        await _sendLock.WaitAsync();
        try
        {
            await _stream.WriteAsync(bytes);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task SendAsync(Action<IBufferWriter<byte>> encode)
    {
        var buffer = new ArrayBufferWriter<byte>();
        encode(buffer);
        await SendRawAsync(buffer.WrittenSpan.ToArray());
    }

    /// <summary>The next packet, whatever it is.</summary>
    public async Task<Received> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _received.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No packet arrived in time.");
        }
        catch (ChannelClosedException)
        {
            throw new IOException("The server closed the connection.");
        }
    }

    /// <summary>The next packet, which must be of <paramref name="type"/>.</summary>
    public async Task<Received> ExpectAsync(MqttPacketType type, TimeSpan? timeout = null)
    {
        var p = await ReceiveAsync(timeout);
        if (p.Type != type) throw new InvalidOperationException($"Expected {type}, received {p}.");
        return p;
    }

    /// <summary>True when a packet is waiting (without taking it).</summary>
    public bool HasPending => _received.Reader.TryPeek(out _);

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (MqttV311Decoder.TryRead(buffer, MqttV311Decoder.MaximumPacketSize, out var packet, out var end))
                {
                    await _received.Writer.WriteAsync(Copy(packet));
                    buffer = buffer.Slice(end);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or MqttProtocolException)
        {
            // Closed by the server (or by Dispose).
        }
        finally
        {
            Volatile.Write(ref _closed, 1);
            _received.Writer.TryComplete();
            await reader.CompleteAsync();
        }
    }

    private static Received Copy(in MqttPacket p) => p.Type switch
    {
        MqttPacketType.Publish => new Received(p.Type, p.PacketIdentifier, p.Publish.GetTopicName(), p.Publish.Payload.ToArray(),
            p.Publish.QualityOfServiceLevel, p.Publish.Retain, p.Publish.Dup),
        MqttPacketType.ConnAck => new Received(p.Type, 0, ConnectReturnCode: p.ConnectReturnCode, SessionPresent: p.SessionPresent),
        MqttPacketType.SubAck => new Received(p.Type, p.PacketIdentifier, SubAckCodes: p.SubAck.ReturnCodes),
        _ => new Received(p.Type, p.PacketIdentifier),
    };

    /// <summary>Drops the TCP connection without DISCONNECT (an abrupt client failure).</summary>
    public void Drop()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0);
        _tcp.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        await _readLoop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _sendLock.Dispose();
    }
}
