using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

/// <summary>
/// One connection's output carries two flows at once: the broker's PUBACKs for what the client
/// publishes (written where the publish is decided, after the publish hook if one is installed)
/// and the PUBLISH packets that other clients' messages fan out to it (written from their
/// receive loops). Any write of one flow that is not serialised with the other corrupts the
/// byte stream; a strict decoder on the client side catches that as a bad packet, a missing or
/// doubled PUBACK, or a flooded message that is missing, changed or out of order. The same test
/// runs against Mosquitto to show that the test itself expects only what MQTT promises.
/// </summary>
public sealed class OutputInterleavingTests
{
    // Volumes: a race between two writers of one output shows up only when both write often at the
    // same moment; a run of our broker moves ~70,000 packets through the mixed connection in a few
    // seconds, from five client connections (so from several broker threads at once). Mosquitto only
    // checks the test's own expectations, so it gets a tenth of that.
    private const int OwnPublishes = 20_000;   // QoS 1 publishes of the mixed client: a PUBACK each
    private const int FloodPerQos = 6_000;     // messages of each flooding client on each of its q0 and q1 topics
    private const int Flooders = 4;
    private static readonly TimeSpan Stalled = TimeSpan.FromSeconds(15); // no progress for this long: something was lost
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90); // generous for a loaded machine; a run takes a few seconds

    [Fact]
    public async Task Pubacks_and_fanned_out_publishes_on_one_connection_arrive_intact_and_in_order_without_a_publish_hook()
    {
        await using var server = await TestBroker.StartAsync(o => o.MaxQueuedMessagesPerSession = 1_000_000);
        await RunAsync(server.Port, OwnPublishes, FloodPerQos);
    }

    [Fact]
    public async Task Pubacks_sent_after_an_awaiting_publish_hook_and_fanned_out_publishes_on_one_connection_arrive_intact_and_in_order()
    {
        await using var server = await TestBroker.StartAsync(o => o.MaxQueuedMessagesPerSession = 1_000_000);
        var hooked = 0;
        server.InterceptingPublishAsync += async e =>
        {
            // Acknowledge from another thread than the one that read the publish, as an application hook does.
            await Task.Yield();
            Interlocked.Increment(ref hooked);
        };
        await RunAsync(server.Port, OwnPublishes, FloodPerQos);
        Assert.Equal(OwnPublishes + Flooders * 2 * FloodPerQos, Volatile.Read(ref hooked));
    }

    [Fact]
    public async Task Mosquitto_passes_the_same_interleaving_check()
    {
        await using var mosquitto = await MosquittoServer.StartAsync(new MosquittoOptions { Persistence = false });
        await RunAsync(mosquitto.Port, OwnPublishes / 10, FloodPerQos / 10, () => mosquitto.Log);
    }

    private static async Task RunAsync(int port, int ownPublishes, int floodPerQos, Func<string>? brokerLog = null)
    {
        var flooded = new Dictionary<string, (MqttQualityOfServiceLevel, char)>(StringComparer.Ordinal);
        for (var f = 0; f < Flooders; f++)
        {
            flooded[$"flood/{f}/q0"] = (MqttQualityOfServiceLevel.AtMostOnce, Publisher(f));
            flooded[$"flood/{f}/q1"] = (MqttQualityOfServiceLevel.AtLeastOnce, Publisher(f));
        }
        await using var mixed = await StrictPeer.ConnectAsync(port, "mixed", ownPublishes, flooded, floodPerQos);
        var flooders = new List<StrictPeer>();
        try
        {
            for (var f = 0; f < Flooders; f++)
                flooders.Add(await StrictPeer.ConnectAsync(port, $"flooder-{f}", floodPerQos, new Dictionary<string, (MqttQualityOfServiceLevel, char)>(), 0));
            await mixed.SubscribeAsync("flood/#", MqttQualityOfServiceLevel.AtLeastOnce);

            // Both flows at once: the mixed client's own QoS 1 publishes (a PUBACK back for each) and
            // the flooders' QoS 1 and QoS 0 messages fanned out to its subscription.
            var sending = new List<Task> { mixed.PublishAllAsync(i => ("mixed/up", Payload('m', 1, i)), qos0: null) };
            for (var f = 0; f < Flooders; f++)
            {
                var (topic1, topic0, publisher) = ($"flood/{f}/q1", $"flood/{f}/q0", Publisher(f));
                sending.Add(flooders[f].PublishAllAsync(i => (topic1, Payload(publisher, 1, i)), i => (topic0, Payload(publisher, 0, i))));
            }
            await Task.WhenAll(sending).WaitAsync(Deadline);

            var peers = flooders.Prepend(mixed).ToList();
            string State() => string.Join("; ", peers.Select(p => p.Describe())) + (brokerLog is null ? "" : $"\nbroker log:\n{brokerLog()}");
            // Wait until everything arrived, a peer saw a bad packet, or nothing moved for a while (something was lost).
            long progress = -1;
            var lastMove = DateTime.UtcNow;
            await Poll.UntilAsync(() =>
            {
                if (peers.Any(p => p.Fault is not null) || peers.All(p => p.Complete)) return true;
                var now = peers.Sum(p => p.Progress);
                if (now != progress) (progress, lastMove) = (now, DateTime.UtcNow);
                return DateTime.UtcNow - lastMove > Stalled;
            }, "every PUBACK and every flooded message has arrived, or a connection broke", Deadline);
            foreach (var peer in peers) Assert.True(peer.Fault is null, $"the byte stream to {peer.Name}: {peer.Fault}\n{State()}");
            Assert.True(peers.All(p => p.Complete), $"nothing moved for {Stalled.TotalSeconds:0} s before everything arrived: {State()}");

            // The connection is still up and still in step: a ping is answered.
            await mixed.PingAsync();
            await Poll.UntilAsync(() => mixed.PingResponses == 1 || mixed.Fault is not null || mixed.IsClosed, "the broker answers the ping", Deadline);
            Assert.True(mixed.Fault is null && !mixed.IsClosed && mixed.PingResponses == 1, State());
        }
        finally
        {
            foreach (var flooder in flooders) await flooder.DisposeAsync();
        }
    }

    private static char Publisher(int flooder) => (char)('f' + flooder);

    /// <summary>The payload of message <paramref name="seq"/>: a readable head and a body of varying length and content.</summary>
    internal static byte[] Payload(char publisher, int qos, int seq)
    {
        var head = Encoding.ASCII.GetBytes($"{publisher}{qos}:{seq:D6}:");
        var payload = new byte[head.Length + (seq * 37 % 200)]; // 0..199 filler bytes: packets of many sizes straddle buffer boundaries
        head.CopyTo(payload, 0);
        for (var i = head.Length; i < payload.Length; i++) payload[i] = (byte)('a' + (seq + i) % 26);
        return payload;
    }

    /// <summary>
    /// A raw MQTT 3.1.1 client that decodes what the broker sends strictly: exact fixed-header
    /// flags and lengths per packet type, minimal remaining-length encoding, known topics with their
    /// QoS, each PUBACK once for an id it used, each flooded message byte for byte in sequence per
    /// topic. The first violation is kept in <see cref="Fault"/> (with the bytes and stream offset)
    /// and reading stops. QoS 1 deliveries are acknowledged at once, so the broker's window never stalls.
    /// </summary>
    private sealed class StrictPeer : IAsyncDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly int _ownPublishes;
        private readonly Dictionary<string, (MqttQualityOfServiceLevel Qos, char Publisher)> _expected;
        private readonly int _expectedPerTopic;
        private readonly Dictionary<string, int> _last = new(StringComparer.Ordinal);
        private readonly bool[] _acked;
        private readonly TaskCompletionSource _connAck = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _subAck = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _readLoop = Task.CompletedTask;
        private int _acks;
        private int _received;
        private int _pings;
        private volatile string? _fault;
        private volatile bool _closed;
        private long _offset;

        private StrictPeer(TcpClient tcp, string name, int ownPublishes, Dictionary<string, (MqttQualityOfServiceLevel Qos, char Publisher)> expected, int expectedPerTopic)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
            Name = name;
            _ownPublishes = ownPublishes;
            _expected = expected;
            _expectedPerTopic = expectedPerTopic;
            _acked = new bool[ownPublishes + 1];
            foreach (var topic in expected.Keys) _last[topic] = 0;
        }

        public string Name { get; }
        public string? Fault => _fault;
        public bool IsClosed => _closed;
        public int PingResponses => Volatile.Read(ref _pings);
        public long Progress => Volatile.Read(ref _acks) + (long)Volatile.Read(ref _received);
        public bool Complete => Volatile.Read(ref _acks) == _ownPublishes && Volatile.Read(ref _received) == _expectedPerTopic * _expected.Count;

        public string Describe()
        {
            var missing = Enumerable.Range(1, _ownPublishes).Where(i => !_acked[i]).Take(5).ToList();
            var topics = string.Join(", ", _expected.Keys.Select(t => $"{t} up to {_last.GetValueOrDefault(t)}"));
            return $"{Name}: {Volatile.Read(ref _acks)}/{_ownPublishes} PUBACKs" + (missing.Count > 0 ? $" (first missing ids {string.Join(", ", missing)})" : "")
                + $", {Volatile.Read(ref _received)}/{_expectedPerTopic * _expected.Count} messages" + (topics.Length > 0 ? $" ({topics})" : "") + $", closed={_closed}";
        }

        public static async Task<StrictPeer> ConnectAsync(int port, string clientId, int ownPublishes, Dictionary<string, (MqttQualityOfServiceLevel Qos, char Publisher)> expected, int expectedPerTopic)
        {
            var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var peer = new StrictPeer(tcp, clientId, ownPublishes, expected, expectedPerTopic);
            peer._readLoop = Task.Run(peer.ReadLoopAsync);
            var id = Encoding.UTF8.GetBytes(clientId);
            var body = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 0, (byte)(id.Length >> 8), (byte)id.Length };
            body.AddRange(id);
            await peer.SendAsync(Frame(0x10, body));
            await peer._connAck.Task.WaitAsync(Deadline);
            return peer;
        }

        public async Task SubscribeAsync(string filter, MqttQualityOfServiceLevel qos)
        {
            var topic = Encoding.UTF8.GetBytes(filter);
            var body = new List<byte> { 0, 1, (byte)(topic.Length >> 8), (byte)topic.Length };
            body.AddRange(topic);
            body.Add((byte)qos);
            await SendAsync(Frame(0x82, body));
            await _subAck.Task.WaitAsync(Deadline);
        }

        /// <summary>
        /// Publishes messages 1..n at QoS 1 (packet id = sequence number) and, when given, a QoS 0
        /// message after each; many packets per socket write, as a busy client sends them.
        /// </summary>
        public async Task PublishAllAsync(Func<int, (string Topic, byte[] Payload)> qos1, Func<int, (string Topic, byte[] Payload)>? qos0)
        {
            var batch = new ArrayBufferWriter<byte>();
            for (var i = 1; i <= _ownPublishes; i++)
            {
                var (topic, payload) = qos1(i);
                WritePublish(batch, topic, MqttQualityOfServiceLevel.AtLeastOnce, (ushort)i, payload);
                if (qos0 is not null)
                {
                    (topic, payload) = qos0(i);
                    WritePublish(batch, topic, MqttQualityOfServiceLevel.AtMostOnce, 0, payload);
                }
                if (i % 25 == 0 || i == _ownPublishes)
                {
                    await SendAsync(batch.WrittenMemory);
                    batch.ResetWrittenCount();
                    if (_fault is not null || _closed) return;
                }
            }
        }

        public Task PingAsync() => SendAsync(new byte[] { 0xC0, 0 });

        private static byte[] Frame(byte header, List<byte> body)
        {
            var frame = new List<byte> { header };
            frame.AddRange(RemainingLength(body.Count));
            frame.AddRange(body);
            return [.. frame];
        }

        private static void WritePublish(ArrayBufferWriter<byte> to, string topic, MqttQualityOfServiceLevel qos, ushort packetId, byte[] payload)
        {
            var t = Encoding.UTF8.GetBytes(topic);
            var length = 2 + t.Length + (qos == MqttQualityOfServiceLevel.AtMostOnce ? 0 : 2) + payload.Length;
            to.Write([(byte)(0x30 | ((int)qos << 1))]);
            to.Write(RemainingLength(length));
            to.Write([(byte)(t.Length >> 8), (byte)t.Length]);
            to.Write(t);
            if (qos != MqttQualityOfServiceLevel.AtMostOnce) to.Write([(byte)(packetId >> 8), (byte)packetId]);
            to.Write(payload);
        }

        private static byte[] RemainingLength(int length)
        {
            var bytes = new List<byte>(4);
            do
            {
                var b = (byte)(length % 128);
                length /= 128;
                if (length > 0) b |= 0x80;
                bytes.Add(b);
            }
            while (length > 0);
            return [.. bytes];
        }

        private async Task SendAsync(ReadOnlyMemory<byte> bytes)
        {
            await _sendLock.WaitAsync();
            try
            {
                await _stream.WriteAsync(bytes);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                _closed = true;
            }
            finally
            {
                _sendLock.Release();
            }
        }

        private async Task ReadLoopAsync()
        {
            var reader = PipeReader.Create(_stream);
            var acks = new ArrayBufferWriter<byte>();
            try
            {
                while (_fault is null)
                {
                    var result = await reader.ReadAsync();
                    var buffer = result.Buffer;
                    while (_fault is null && TryReadFrame(ref buffer, out var header, out var body, out var frameStart))
                    {
                        var ack = Check(header, body);
                        if (_fault is not null) _fault += $" (the packet at byte {frameStart} of the stream)";
                        else if (ack != 0) acks.Write<byte>([0x40, 2, (byte)(ack >> 8), (byte)ack]);
                    }
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (acks.WrittenCount > 0)
                    {
                        await SendAsync(acks.WrittenMemory); // the PUBACKs of this read, in one write
                        acks.ResetWrittenCount();
                    }
                    if (result.IsCompleted)
                    {
                        if (buffer.Length > 0) _fault ??= $"{Name}: the stream ended inside a packet ({buffer.Length} bytes left over)";
                        break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // The connection went away; the test sees IsClosed or missing packets.
            }
            finally
            {
                _closed = true;
                _connAck.TrySetException(new IOException($"{Name}: no CONNACK ({_fault ?? "connection closed"})."));
                _subAck.TrySetException(new IOException($"{Name}: no SUBACK ({_fault ?? "connection closed"})."));
                await reader.CompleteAsync();
            }
        }

        /// <summary>One fixed header and its body; a remaining length that is too long or not minimal is a fault.</summary>
        private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out byte header, out ReadOnlySequence<byte> body, out long frameStart)
        {
            body = default;
            frameStart = _offset;
            var reader = new SequenceReader<byte>(buffer);
            if (!reader.TryRead(out header)) return false;
            var length = 0;
            for (var i = 0; ; i++)
            {
                if (!reader.TryRead(out var b)) return false;
                if (i > 0 && b == 0)
                {
                    _fault = $"{Name}: a remaining length with a needless trailing zero byte (header {header:X2} at byte {frameStart})";
                    return false;
                }
                length |= (b & 0x7F) << (7 * i);
                if ((b & 0x80) == 0) break;
                if (i == 3)
                {
                    _fault = $"{Name}: a remaining length longer than 4 bytes (header {header:X2} at byte {frameStart})";
                    return false;
                }
            }
            if (length > 64 * 1024)
            {
                _fault = $"{Name}: a packet of {length} bytes where the largest sent is under 1 KB (header {header:X2} at byte {frameStart})";
                return false;
            }
            if (reader.Remaining < length) return false;
            body = buffer.Slice(reader.Position, length);
            _offset += reader.Consumed + length;
            buffer = buffer.Slice(body.End);
            return true;
        }

        /// <summary>Checks one packet; returns the packet id to acknowledge (a QoS 1 delivery) or 0.</summary>
        private ushort Check(byte header, ReadOnlySequence<byte> body)
        {
            var type = header >> 4;
            var flags = header & 0x0F;
            if (!_connAck.Task.IsCompleted && type != 2) return Bad($"packet type {type} before the CONNACK", header, body);
            switch (type)
            {
                case 2: // CONNACK
                    if (flags != 0 || body.Length != 2 || _connAck.Task.IsCompleted) return Bad("CONNACK", header, body);
                    if (body.ToArray() is not [0, 0]) return Bad("CONNACK: refused or session present", header, body);
                    _connAck.TrySetResult();
                    return 0;
                case 9: // SUBACK
                    if (flags != 0 || body.Length != 3 || _subAck.Task.IsCompleted) return Bad("SUBACK", header, body);
                    if (body.ToArray() is not [0, 1, 1]) return Bad("SUBACK: not packet id 1 granted QoS 1", header, body);
                    _subAck.TrySetResult();
                    return 0;
                case 4: // PUBACK
                    if (flags != 0 || body.Length != 2) return Bad("PUBACK", header, body);
                    var id = BinaryPrimitives.ReadUInt16BigEndian(body.ToArray());
                    if (id == 0 || id > _ownPublishes) return Bad($"PUBACK for packet id {id}, never used", header, body);
                    if (_acked[id]) return Bad($"second PUBACK for packet id {id}", header, body);
                    _acked[id] = true;
                    Interlocked.Increment(ref _acks);
                    return 0;
                case 13: // PINGRESP
                    if (flags != 0 || body.Length != 0) return Bad("PINGRESP", header, body);
                    Interlocked.Increment(ref _pings);
                    return 0;
                case 3:
                    return CheckPublish(header, body);
                default:
                    return Bad($"packet type {type}, which this connection never expects", header, body);
            }
        }

        private ushort CheckPublish(byte header, ReadOnlySequence<byte> body)
        {
            var qos = (header >> 1) & 3;
            if ((header & 0x09) != 0 || qos > 1) return Bad("PUBLISH flags (DUP or RETAIN set, or QoS above 1)", header, body);
            var bytes = body.ToArray();
            if (bytes.Length < 2) return Bad("PUBLISH without a topic", header, body);
            var topicLength = BinaryPrimitives.ReadUInt16BigEndian(bytes);
            var headLength = 2 + topicLength + (qos > 0 ? 2 : 0);
            if (bytes.Length < headLength) return Bad("PUBLISH shorter than its topic and packet id", header, body);
            var topic = Encoding.UTF8.GetString(bytes, 2, topicLength);
            if (!_expected.TryGetValue(topic, out var sent)) return Bad($"PUBLISH on topic '{Printable(topic)}', which nobody floods", header, body);
            if (qos != (int)sent.Qos) return Bad($"PUBLISH on {topic} at QoS {qos}, sent at QoS {(int)sent.Qos}", header, body);
            ushort packetId = 0;
            if (qos > 0)
            {
                packetId = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(2 + topicLength));
                if (packetId == 0) return Bad("QoS 1 PUBLISH with packet id 0", header, body);
            }
            var seq = _last[topic] + 1;
            var expected = Payload(sent.Publisher, qos, seq);
            var payload = bytes.AsSpan(headLength);
            if (!payload.SequenceEqual(expected))
                return Bad($"PUBLISH on {topic}: message {seq} expected next (intact and in order), received '{Printable(Encoding.ASCII.GetString(payload[..Math.Min(payload.Length, 24)]))}…' ({payload.Length} bytes, expected {expected.Length})", header, body);
            _last[topic] = seq;
            Interlocked.Increment(ref _received);
            return packetId;
        }

        private ushort Bad(string what, byte header, ReadOnlySequence<byte> body)
        {
            _fault = $"{Name}: bad {what}; bytes {Convert.ToHexString([header])} {Convert.ToHexString(body.Slice(0, Math.Min(body.Length, 24)).ToArray())}";
            return 0;
        }

        private static string Printable(string text) => string.Concat(text.Select(c => char.IsControl(c) ? '.' : c));

        public async ValueTask DisposeAsync()
        {
            _tcp.Dispose();
            await _readLoop.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _sendLock.Dispose();
        }
    }
}
