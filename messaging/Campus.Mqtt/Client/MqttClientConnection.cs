using System.IO.Pipelines;
using System.Net.Sockets;

namespace Campus.Mqtt;

/// <summary>One network connection of a client: socket (and TLS stream) behind a PipeReader/PipeWriter.</summary>
internal sealed class MqttClientConnection
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly CancellationTokenSource _closing = new();
    private int _closed;

    public MqttClientConnection(Socket socket, Stream stream, long now)
    {
        _socket = socket;
        _stream = stream;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        LastSent = now;
        LastReceived = now;
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    /// <summary>Serializes writers: only one packet is encoded and flushed at a time.</summary>
    public SemaphoreSlim WriteLock { get; } = new(1, 1);

    public CancellationToken Closing => _closing.Token;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Why the connection was closed on purpose (keep-alive timeout, DISCONNECT, test hook).</summary>
    public MqttClientDisconnectReason? CloseReason { get; private set; }

    public Exception? CloseException { get; private set; }

    public long LastSent;

    public long LastReceived;

    /// <summary>Timestamp of the PINGREQ awaiting its PINGRESP, or 0.</summary>
    public long PingSentAt;

    public Task ReadLoop { get; set; } = Task.CompletedTask;

    /// <summary>Closes the connection at once (no DISCONNECT). Safe to call more than once.</summary>
    public void Abort(MqttClientDisconnectReason reason, Exception? exception, bool resetConnection = false)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        CloseReason = reason;
        CloseException = exception;
        try
        {
            if (resetConnection) _socket.LingerState = new LingerOption(true, 0);
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already broken.
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
        _closing.Cancel();
        _socket.Close();
    }

    /// <summary>Releases everything once the read loop has ended.</summary>
    public async ValueTask DisposeResourcesAsync()
    {
        Abort(CloseReason ?? MqttClientDisconnectReason.ConnectionLost, CloseException);
        await Input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Unflushed bytes of a dead connection.
        }
        catch (ObjectDisposedException)
        {
        }
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
        _socket.Dispose();
    }
}
