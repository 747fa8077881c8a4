using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Campus.Benchmarks;

/// <summary>
/// The ingest benchmark's cheap load generator: N plain MQTT 3.1.1 connections driven without a client
/// library. Each device's CONNECT is exchanged with a blocking socket; after that the pacers write each
/// QoS 1 PUBLISH with one non-blocking send, and one thread collects every PUBACK through epoll. A
/// publish then costs the load generator about two system calls, so on a shared machine more of the
/// CPU is left to the system under test (what the benchmark measures). Linux x64 only; elsewhere the
/// benchmark uses the MQTT client.
/// </summary>
internal sealed partial class RawDeviceFleet : IDisposable
{
    // Publishes a device may have unacknowledged at once; a slot is reused only after its PUBACK.
    private const int Window = 1024;

    private readonly Socket[] _sockets;
    private readonly byte[][] _topics;
    private readonly long[] _sentAt;      // device * Window + packet id % Window -> send timestamp (0: free)
    private readonly int[] _inFlight;
    private readonly ushort[] _nextId;
    private readonly byte[][] _partial;   // bytes of a PUBACK split across reads
    private readonly int[] _partialLength;
    private readonly bool[] _dead;
    private readonly Lock[] _sendLocks;
    private readonly int _epoll;
    private readonly Thread _receiver;
    private volatile bool _stopping;
    private volatile IAckSink? _sink;
    private long _lostConnections;

    /// <summary>Where the fleet reports each acknowledged or failed publish.</summary>
    public interface IAckSink
    {
        void Acknowledged(long startedTimestamp);
        void Fail(int count);
    }

    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    private RawDeviceFleet(Socket[] sockets, byte[][] topics)
    {
        var n = sockets.Length;
        _sockets = sockets;
        _topics = topics;
        _sentAt = new long[n * Window];
        _inFlight = new int[n];
        _nextId = new ushort[n];
        _partial = new byte[n][];
        _partialLength = new int[n];
        _dead = new bool[n];
        _sendLocks = new Lock[n];
        for (var i = 0; i < n; i++) _sendLocks[i] = new Lock();
        _epoll = EpollCreate1(0);
        if (_epoll < 0) throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        for (var i = 0; i < n; i++)
        {
            sockets[i].Blocking = false;
            var ev = new EpollEvent { Events = EpollIn | EpollRdHup, Data = (ulong)i };
            if (EpollCtl(_epoll, EpollCtlAdd, (int)sockets[i].Handle, ref ev) != 0)
                throw new InvalidOperationException($"epoll_ctl failed: errno {Marshal.GetLastPInvokeError()}");
        }
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = "ingest acks" };
        _receiver.Start();
    }

    public int Count => _sockets.Length;
    public long LostConnections => Interlocked.Read(ref _lostConnections);

    public void ReportTo(IAckSink sink) => _sink = sink;

    /// <summary>
    /// Connects every device (CONNECT with its credentials, CONNACK checked), 64 at a time, with blocking
    /// calls: the sockets stay out of the runtime's socket engine, whose epoll thread would otherwise wake
    /// for every PUBACK as well (measured: about as much CPU as the fleet's own acknowledgement thread).
    /// </summary>
    public static Task<RawDeviceFleet> ConnectAsync(int port, int devices, Func<int, string> clientId, Func<int, (string? User, string? Password)> credentials,
        Func<int, string> topic, IProgress<int> progress) => Task.Run(() =>
    {
        var sockets = new Socket[devices];
        var topics = new byte[devices][];
        var done = 0;
        var next = -1;
        var workers = new Thread[Math.Min(64, devices)];
        Exception? failure = null;
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = new Thread(() =>
            {
                try
                {
                    for (var i = Interlocked.Increment(ref next); i < devices && Volatile.Read(ref failure) is null; i = Interlocked.Increment(ref next))
                    {
                        var (user, password) = credentials(i);
                        sockets[i] = MqttBenchClients.Connect(port, clientId(i), keepAlive: 300, user, password, TimeSpan.FromSeconds(60));
                        topics[i] = Encoding.UTF8.GetBytes(topic(i));
                        var d = Interlocked.Increment(ref done);
                        if (d % 200 == 0 || d == devices) progress.Report(d);
                    }
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
            }) { IsBackground = true, Name = "ingest connect" };
            workers[w].Start();
        }
        foreach (var w in workers) w.Join();
        if (failure is not null)
        {
            foreach (var s in sockets) s?.Dispose();
            throw new IOException($"connecting the device fleet failed after {done} of {devices} devices: {failure.Message}", failure);
        }
        return new RawDeviceFleet(sockets, topics);
    });

    /// <summary>Sends one QoS 1 PUBLISH of device <paramref name="device"/>; false (and counted failed) when it cannot.</summary>
    public bool Publish(int device, ReadOnlySpan<byte> payload)
    {
        var topic = _topics[device];
        var remaining = 2 + topic.Length + 2 + payload.Length;
        Span<byte> packet = stackalloc byte[5 + remaining];
        var p = 0;
        packet[p++] = 0x32; // PUBLISH, QoS 1
        p += WriteRemainingLength(packet[p..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(packet[p..], (ushort)topic.Length);
        p += 2;
        topic.CopyTo(packet[p..]);
        p += topic.Length;
        lock (_sendLocks[device])
        {
            if (_dead[device] || _inFlight[device] >= Window) return FailOne();
            var id = NextFreeId(device);
            BinaryPrimitives.WriteUInt16BigEndian(packet[p..], id);
            payload.CopyTo(packet[(p + 2)..]);
            Volatile.Write(ref _sentAt[device * Window + id % Window], Stopwatch.GetTimestamp());
            Interlocked.Increment(ref _inFlight[device]);
            if (!SendAll(_sockets[device], packet[..(p + 2 + payload.Length)]))
            {
                Lose(device);
                return false;
            }
            return true;
        }
    }

    private bool FailOne()
    {
        _sink?.Fail(1);
        return false;
    }

    private ushort NextFreeId(int device)
    {
        while (true)
        {
            var id = ++_nextId[device];
            if (id == 0) id = _nextId[device] = 1;
            if (Volatile.Read(ref _sentAt[device * Window + id % Window]) == 0) return id;
        }
    }

    private static bool SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var n = socket.Send(data, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                // The send buffer is full (the broker stopped reading): wait for room, as a device would.
                if (!socket.Poll(TimeSpan.FromSeconds(30), SelectMode.SelectWrite)) return false;
                continue;
            }
            if (error != SocketError.Success) return false;
            data = data[n..];
        }
        return true;
    }

    private void ReceiveLoop()
    {
        var events = new EpollEvent[256];
        var buffer = new byte[16 * 1024];
        while (!_stopping)
        {
            var ready = EpollWait(_epoll, events, events.Length, 100);
            for (var e = 0; e < ready; e++)
            {
                var device = (int)events[e].Data;
                Drain(device, buffer);
            }
        }
    }

    private void Drain(int device, byte[] buffer)
    {
        var socket = _sockets[device];
        while (true)
        {
            var held = _partialLength[device];
            if (held > 0) _partial[device].AsSpan(0, held).CopyTo(buffer);
            var n = socket.Receive(buffer.AsSpan(held), SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock) return;
            if (error != SocketError.Success || n == 0)
            {
                Lose(device);
                return;
            }
            var length = held + n;
            var p = 0;
            // Only PUBACKs (4 bytes) come to a device that subscribes to nothing.
            while (length - p >= 4)
            {
                if (buffer[p] != 0x40 || buffer[p + 1] != 0x02)
                {
                    Lose(device);
                    return;
                }
                var id = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(p + 2));
                var slot = device * Window + id % Window;
                var started = Interlocked.Exchange(ref _sentAt[slot], 0);
                if (started != 0)
                {
                    Interlocked.Decrement(ref _inFlight[device]);
                    _sink?.Acknowledged(started);
                }
                p += 4;
            }
            _partialLength[device] = length - p;
            if (length > p)
            {
                _partial[device] ??= new byte[4];
                buffer.AsSpan(p, length - p).CopyTo(_partial[device]);
            }
            // A read that did not fill the buffer took all there was: epoll (level-triggered) reports the
            // socket again when more arrives, so no second read is spent to learn it would block.
            if (held + n < buffer.Length) return;
        }
    }

    /// <summary>A connection the broker closed: its unacknowledged publishes count as failed; the device stays down.</summary>
    private void Lose(int device)
    {
        lock (_sendLocks[device])
        {
            if (_dead[device]) return;
            _dead[device] = true;
            Interlocked.Increment(ref _lostConnections);
            var failed = 0;
            for (var k = 0; k < Window; k++)
            {
                if (Interlocked.Exchange(ref _sentAt[device * Window + k], 0) != 0) failed++;
            }
            _inFlight[device] = 0;
            if (failed > 0) _sink?.Fail(failed);
            var ev = default(EpollEvent);
            _ = EpollCtl(_epoll, EpollCtlDel, (int)_sockets[device].Handle, ref ev);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _receiver.Join(TimeSpan.FromSeconds(2));
        foreach (var s in _sockets) s?.Dispose();
        _ = Close(_epoll);
    }

    private static int WriteRemainingLength(Span<byte> destination, int value)
    {
        var i = 0;
        do
        {
            var digit = (byte)(value % 128);
            value /= 128;
            destination[i++] = value > 0 ? (byte)(digit | 0x80) : digit;
        }
        while (value > 0);
        return i;
    }

    // ---- epoll (Linux x64: struct epoll_event is packed, 12 bytes) ----

    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const uint EpollIn = 0x001;
    private const uint EpollRdHup = 0x2000;

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, ref EpollEvent ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epfd, [Out] EpollEvent[] events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
