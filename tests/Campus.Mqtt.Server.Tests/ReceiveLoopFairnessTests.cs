using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;
using Xunit.Abstractions;

namespace Campus.Mqtt.Server.Tests;

/// <summary>
/// A publisher that always has more data ready makes every read of its receive loop complete at
/// once, so the loop never waits for anything and would keep its thread-pool thread for as long
/// as the flood lasts. With as many such publishers as the pool has threads, the send loop of
/// every other connection then never runs, and a subscriber receives nothing while the flood
/// lasts. The broker runs as its own process here, with a thread pool fixed at one thread per
/// publisher (in a test process the pool would add threads when work starves, which hides this)
/// and socket completions on the thread pool. The publishers flood QoS 0 messages of a few bytes
/// each from threads of their own, with blocking writes that always keep data waiting for the
/// broker; one message in <see cref="ProbeEvery"/> goes to the subscriber's topic, and the
/// subscriber must receive a clear share of those while the flood goes on.
/// </summary>
public sealed class ReceiveLoopFairnessTests(ITestOutputHelper output)
{
    private const int Publishers = 2;
    private const int ProbeEvery = 64;         // one probe per 64 publishes
    private const int WriteBytes = 256 * 1024; // per flooding write: some 60,000 publishes of 4 bytes
    private const int ProbesWanted = 1_000;    // what the subscriber must receive while the flood lasts

    private static string BrokerDll => Path.Combine(AppContext.BaseDirectory, "Campus.Mqtt.Broker.dll");

    [Fact]
    public async Task A_subscriber_keeps_receiving_while_as_many_publishers_as_pool_threads_flood_qos0()
    {
        var port = FreePort.Get();
        var p = port.ToString(CultureInfo.InvariantCulture);
        var threads = Publishers.ToString(CultureInfo.InvariantCulture);
        await using var broker = ExternalProcess.Start("dotnet", [BrokerDll, "--port", p, "--bind", "127.0.0.1", "--allow-anonymous"],
            environment: new Dictionary<string, string?>
            {
                ["DOTNET_ThreadPool_ForceMinWorkerThreads"] = threads,
                ["DOTNET_ThreadPool_ForceMaxWorkerThreads"] = threads,
                ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "0",
            });
        await FreePort.WaitUntilListeningAsync(port, TimeSpan.FromSeconds(30), "the standalone broker");

        await using var subscriber = await RawMqttClient.ConnectAsync(port, "fair-sub");
        var subAck = await subscriber.SubscribeAsync(1, ("p", MqttQualityOfServiceLevel.AtMostOnce));
        Assert.Equal([MqttSubscribeReturnCode.GrantedQoS0], subAck.SubAckCodes);

        var flood = EncodeFlood();
        var publishers = new List<FloodingPublisher>();
        try
        {
            for (var i = 0; i < Publishers; i++)
                publishers.Add(FloodingPublisher.Connect(port, "fair-pub-" + i.ToString(CultureInfo.InvariantCulture)));

            long probes = 0;
            _ = CountProbesAsync(subscriber, () => Interlocked.Increment(ref probes));
            foreach (var publisher in publishers) publisher.Start(flood);

            var started = DateTime.UtcNow;
            TimeoutException? timedOut = null;
            try
            {
                await Poll.UntilAsync(() => Interlocked.Read(ref probes) >= ProbesWanted || publishers.Any(f => f.Stopped),
                    $"the subscriber received {ProbesWanted} messages while {Publishers} publishers flood", TimeSpan.FromSeconds(8));
            }
            catch (TimeoutException e)
            {
                timedOut = e;
            }
            var received = Interlocked.Read(ref probes);
            var elapsed = DateTime.UtcNow - started;
            var flooding = publishers.All(f => !f.Stopped);
            var writes = string.Join(" and ", publishers.Select(f => f.Writes));
            output.WriteLine($"{received} probes received in {elapsed.TotalSeconds:0.00}s of flooding; writes of {WriteBytes} bytes: {writes}");
            Assert.True(flooding, $"a publisher stopped flooding: {string.Join("; ", publishers.Select(f => f.Error?.Message))}");
            Assert.True(timedOut is null && received >= ProbesWanted,
                $"the subscriber received {received} probes while {Publishers} publishers flooded for {elapsed.TotalSeconds:0.0}s " +
                $"({writes} writes of {WriteBytes} bytes); {ProbesWanted} expected");
        }
        finally
        {
            foreach (var publisher in publishers) publisher.Dispose();
        }
    }

    /// <summary>One flooding write: QoS 0 publishes to a topic nobody reads, every <see cref="ProbeEvery"/>th to the subscriber's.</summary>
    private static byte[] EncodeFlood()
    {
        var buffer = new ArrayBufferWriter<byte>(WriteBytes + 64);
        for (var i = 0; buffer.WrittenCount < WriteBytes - 16; i++)
            MqttV311Encoder.WritePublish(buffer, i % ProbeEvery == ProbeEvery - 1 ? "p" : "n", ReadOnlySequence<byte>.Empty,
                MqttQualityOfServiceLevel.AtMostOnce, false, false, 0);
        return buffer.WrittenSpan.ToArray();
    }

    private static async Task CountProbesAsync(RawMqttClient subscriber, Action counted)
    {
        try
        {
            while (true)
            {
                var packet = await subscriber.ReceiveAsync(TimeSpan.FromSeconds(30));
                if (packet.Type == MqttPacketType.Publish && packet.Topic == "p") counted();
            }
        }
        catch (Exception e) when (e is TimeoutException or IOException)
        {
            // The subscriber went away: the test is over.
        }
    }

    /// <summary>
    /// A publisher on a plain blocking socket with a thread of its own: each write blocks in the
    /// kernel until the socket has taken all of it, and the thread writes again at once, so that
    /// data is always waiting on the broker's side whatever this process's thread pool is doing.
    /// </summary>
    private sealed class FloodingPublisher : IDisposable
    {
        private readonly Socket _socket;
        private Thread? _thread;
        private long _writes;
        private volatile bool _stopped;

        private FloodingPublisher(Socket socket) => _socket = socket;

        public long Writes => Interlocked.Read(ref _writes);
        public bool Stopped => _stopped;
        public Exception? Error { get; private set; }

        public static FloodingPublisher Connect(int port, string clientId)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 15_000 };
            try
            {
                socket.Connect(IPAddress.Loopback, port);
                var connect = new ArrayBufferWriter<byte>();
                MqttV311Encoder.WriteConnect(connect, new ConnectPacket { ClientId = clientId, CleanSession = true });
                socket.Send(connect.WrittenSpan);
                var connAck = new byte[4];
                for (var read = 0; read < connAck.Length;)
                {
                    var n = socket.Receive(connAck.AsSpan(read));
                    if (n == 0) throw new IOException($"the broker closed {clientId}'s connection before CONNACK");
                    read += n;
                }
                Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connAck);
                return new FloodingPublisher(socket);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        public void Start(byte[] flood)
        {
            _thread = new Thread(() =>
            {
                try
                {
                    while (true)
                    {
                        _socket.Send(flood);
                        Interlocked.Increment(ref _writes);
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    Error = e;
                    _stopped = true;
                }
            })
            { IsBackground = true, Name = "flooding publisher" };
            _thread.Start();
        }

        public void Dispose()
        {
            _socket.Dispose();
            _thread?.Join(TimeSpan.FromSeconds(10));
        }
    }
}
