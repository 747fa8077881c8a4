using System.Net;
using System.Net.Sockets;

namespace Campus.Simulators.Fleet;

/// <summary>
/// A room's network between its devices and the broker: a loopback TCP relay that a scenario can
/// cut (every connection is reset, as when a switch loses power, so the broker publishes the
/// devices' wills; new connections are refused) and restore.
/// </summary>
internal sealed class SwitchableLink : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly string _brokerHost;
    private readonly int _brokerPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(Socket A, Socket B)> _pairs = [];
    private readonly object _sync = new();
    private readonly Task _accepting;
    private volatile bool _up = true;

    public SwitchableLink(string brokerHost, int brokerPort)
    {
        _brokerHost = brokerHost;
        _brokerPort = brokerPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public bool IsUp => _up;

    public void Cut()
    {
        _up = false;
        List<(Socket, Socket)> pairs;
        lock (_sync)
        {
            pairs = [.. _pairs];
            _pairs.Clear();
        }

        foreach (var (a, b) in pairs)
        {
            Reset(a);
            Reset(b);
        }
    }

    public void Restore() => _up = true;

    private static void Reset(Socket s)
    {
        try
        {
            s.LingerState = new LingerOption(true, 0); // RST, not FIN
            s.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket device;
            try
            {
                device = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (!_up)
            {
                Reset(device);
                continue;
            }

            _ = RelayAsync(device);
        }
    }

    private async Task RelayAsync(Socket device)
    {
        var broker = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await broker.ConnectAsync(_brokerHost, _brokerPort, _stop.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            Reset(device);
            broker.Dispose();
            return;
        }

        lock (_sync) _pairs.Add((device, broker));
        await Task.WhenAny(PumpAsync(device, broker), PumpAsync(broker, device));
        lock (_sync) _pairs.Remove((device, broker));
        Reset(device);
        Reset(broker);
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0) return;
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Cut or closed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Cut();
        await _accepting.ConfigureAwait(false);
        _stop.Dispose();
    }
}
