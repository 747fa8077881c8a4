using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;

namespace Campus.Mqtt.Tests.Client;

/// <summary>A scripted broker: accepts connections, answers CONNACK, and lets a test see every packet and answer by hand.</summary>
internal sealed class FakeBroker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Channel<Session> _sessions = Channel.CreateUnbounded<Session>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    public FakeBroker()
    {
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The session-present flag the next CONNACK carries.</summary>
    public bool SessionPresent { get; set; }

    public async Task<Session> NextSessionAsync() =>
        await _sessions.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                var session = new Session(socket, SessionPresent);
                _sessions.Writer.TryWrite(session);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _acceptLoop;
        while (_sessions.Reader.TryRead(out var s)) s.Dispose();
    }

    /// <summary>A summary of one received packet (decoded while its buffer was valid).</summary>
    public sealed record Received(MqttPacketType Type, ushort PacketIdentifier, string? Topic = null, bool Dup = false, MqttQualityOfServiceLevel Qos = 0);

    public sealed class Session : IDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly PipeReader _input;
        private readonly PipeWriter _output;
        private readonly Channel<Received> _received = Channel.CreateUnbounded<Received>();
        private readonly SemaphoreSlim _writeLock = new(1, 1);

        public Session(Socket socket, bool sessionPresent)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
            _input = PipeReader.Create(_stream);
            _output = PipeWriter.Create(_stream);
            SessionPresent = sessionPresent;
            Completion = ReadLoopAsync();
        }

        public bool SessionPresent { get; }

        public Task Completion { get; }

        public ConnectPacket? Connect { get; private set; }

        public async Task<Received> NextAsync(MqttPacketType? skipUntil = null)
        {
            while (true)
            {
                var packet = await _received.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));
                if (skipUntil is null || packet.Type == skipUntil) return packet;
            }
        }

        public async Task SendAsync(MqttPacket packet)
        {
            await _writeLock.WaitAsync();
            try
            {
                MqttV311Encoder.Write(_output, packet);
                await _output.FlushAsync();
            }
            finally
            {
                _writeLock.Release();
            }
        }

        private async Task ReadLoopAsync()
        {
            try
            {
                while (true)
                {
                    var result = await _input.ReadAsync();
                    var buffer = result.Buffer;
                    var reader = new SequenceReader<byte>(buffer);
                    var packets = new List<Received>();
                    while (Read(ref reader, out var received)) packets.Add(received);
                    _input.AdvanceTo(reader.Position, buffer.End);
                    foreach (var p in packets)
                    {
                        if (p.Type == MqttPacketType.Connect) await SendAsync(MqttPacket.FromConnAck(SessionPresent, MqttConnectReturnCode.Accepted));
                        _received.Writer.TryWrite(p);
                    }
                    if (result.IsCompleted) break;
                }
            }
            catch (IOException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            catch (SocketException)
            {
            }
            _received.Writer.TryComplete();
        }

        private bool Read(ref SequenceReader<byte> reader, out Received received)
        {
            received = null!;
            if (!MqttV311Decoder.TryRead(ref reader, MqttV311Decoder.MaximumPacketSize, out var packet)) return false;
            if (packet.Type == MqttPacketType.Connect) Connect = packet.Connect;
            received = packet.Type == MqttPacketType.Publish
                ? new Received(packet.Type, packet.PacketIdentifier, packet.Publish.GetTopicName(), packet.Publish.Dup, packet.Publish.QualityOfServiceLevel)
                : new Received(packet.Type, packet.PacketIdentifier);
            return true;
        }

        public void Dispose()
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            _stream.Dispose();
        }
    }
}
