using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Protocol.V311;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

/// <summary>
/// The receive loop sends the PUBACKs of what it read itself, straight to a non-blocking socket,
/// when nothing else is waiting to be sent; whatever the socket cannot take then goes through the
/// connection's output pipe, and so does everything after it until the pipe is drained. Here a
/// client publishes steadily in small groups (each read by the broker on its own, so each group's
/// PUBACKs take the direct send) and reads nothing until the end. The socket buffers on the way are
/// small (the broker's send buffer is fixed, the client's receive buffer too), so the direct send
/// soon finds the socket full. Each PUBACK must still arrive exactly once, in publish order.
/// </summary>
public sealed class LateReaderTests
{
    private const int Group = 32;          // publishes per write: 128 bytes of PUBACKs, below the broker's gathering limit
    private const int Publishes = 64_000;  // 256 KB of PUBACKs, several times what the socket buffers hold
    private const int SendBuffer = 8 * 1024;
    // Small, not tiny: a receive buffer below loopback's segment size makes TCP drop and back off
    // for tens of seconds, whatever the broker does.
    private const int ReceiveBuffer = 32 * 1024;

    [Fact]
    public async Task Pubacks_for_a_client_that_reads_late_arrive_complete_and_in_order()
    {
        // A small fixed send buffer on the broker's side, so that the socket fills early.
        await using var server = await TestBroker.StartAsync(o => o.SocketSendBufferSize = SendBuffer);
        using var metrics = new MetricCapture(server.Meter);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = ReceiveBuffer };
        await socket.ConnectAsync(IPAddress.Loopback, server.Port);

        var connect = new ArrayBufferWriter<byte>();
        MqttV311Encoder.WriteConnect(connect, new ConnectPacket { ClientId = "late-reader", CleanSession = true });
        await socket.SendAsync(connect.WrittenMemory);
        var connAck = new byte[4];
        await ReceiveExactlyAsync(socket, connAck);
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connAck);

        // One group per write, each read by the broker before the next is sent; nothing is read here.
        var group = new ArrayBufferWriter<byte>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        for (var i = 0; i < Publishes; i += Group)
        {
            group.ResetWrittenCount();
            for (var j = i; j < i + Group; j++)
                MqttV311Encoder.WritePublish(group, "late/r", new ReadOnlySequence<byte>("x"u8.ToArray()), MqttQualityOfServiceLevel.AtLeastOnce, false, false, PacketId(j));
            await socket.SendAsync(group.WrittenMemory);
            while (metrics["campus.mqtt.broker.messages.in"] < i + Group)
            {
                if (DateTime.UtcNow > deadline) Assert.Fail($"the broker read {metrics["campus.mqtt.broker.messages.in"]} of {i + Group} publishes");
                await Task.Yield();
            }
        }

        // Only now read: one PUBACK per publish, in publish order, and nothing else.
        var acks = new byte[Publishes * 4];
        await ReceiveExactlyAsync(socket, acks);
        for (var i = 0; i < Publishes; i++)
        {
            var id = PacketId(i);
            var at = i * 4;
            Assert.True(acks[at] == 0x40 && acks[at + 1] == 0x02 && acks[at + 2] == id >> 8 && acks[at + 3] == (id & 0xFF),
                $"PUBACK {i} (packet id {id}) at byte {at}: {Convert.ToHexString(acks, at, 4)}");
        }
        Assert.Equal(0, socket.Available);
        Assert.Equal(0, metrics["campus.mqtt.broker.rejected"]);
    }

    private static ushort PacketId(int i) => (ushort)(i % 65_535 + 1);

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var read = 0;
        while (read < buffer.Length)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"only {read} of {buffer.Length} bytes arrived (PUBACKs missing)");
            }
            if (n == 0) throw new IOException($"the broker closed the connection after {read} of {buffer.Length} bytes");
            read += n;
        }
    }
}
