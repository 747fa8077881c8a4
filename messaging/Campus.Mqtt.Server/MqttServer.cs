using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Routing;
using Campus.Mqtt.Server.Security;
using Campus.Mqtt.Server.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Campus.Mqtt.Server;

/// <summary>
/// An embedded MQTT 3.1.1 broker: QoS 0/1/2, retained messages, wills, clean and persistent
/// sessions, keep-alive, client-id takeover, Mosquitto-format password and ACL files, TLS.
/// Start it with <see cref="StartAsync"/>, or host it with
/// <see cref="Hosting.MqttBrokerServiceCollectionExtensions.AddCampusMqttBroker"/>.
/// </summary>
public sealed class MqttServer : IAsyncDisposable
{
    private readonly MqttServerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<MqttConnection, Task> _connections = new();
    private readonly List<(Socket Listener, Task Loop)> _listeners = [];
    private readonly Lock _stateGate = new();
    private BrokerCore? _core;
    private X509Certificate2? _certificate;
    private ITimer? _keepAliveTimer;
    private CancellationTokenSource? _stopping;
    private int _connectedClients;

    public MqttServer(MqttServerOptions options, ILogger<MqttServer>? logger = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        Metrics = new BrokerMetrics(meterFactory);
    }

    /// <summary>Decides whether a client may connect (runs after the password file and anonymous checks).</summary>
    public event Func<ValidatingConnectionEventArgs, Task>? ValidatingConnectionAsync;

    public event Func<ClientConnectedEventArgs, Task>? ClientConnectedAsync;

    public event Func<ClientDisconnectedEventArgs, Task>? ClientDisconnectedAsync;

    /// <summary>Sees (and may drop) every PUBLISH from a client before it is routed.</summary>
    public event Func<InterceptingPublishEventArgs, Task>? InterceptingPublishAsync;

    public bool IsStarted => _core is not null;

    /// <summary>The port the plain endpoint listens on (useful with port 0), or 0 when it is off.</summary>
    public int Port { get; private set; }

    /// <summary>The port the TLS endpoint listens on, or 0 when it is off.</summary>
    public int TlsPort { get; private set; }

    /// <summary>Clients that completed CONNECT and are still connected.</summary>
    public int ConnectedClientCount => Volatile.Read(ref _connectedClients);

    /// <summary>The meter holding this broker's instruments (name <c>Campus.Mqtt.Broker</c>).</summary>
    public Meter Meter => Metrics.Meter;

    internal BrokerMetrics Metrics { get; }

    internal BrokerCore Core => _core ?? throw new InvalidOperationException("The MQTT broker is not started; call StartAsync first.");

    internal bool HasPublishInterceptor => InterceptingPublishAsync is not null;

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_stateGate)
        {
            if (_core is not null) throw new InvalidOperationException("The MQTT broker is already started.");
            var passwords = _options.PasswordFile is { } pf ? PasswordFile.Load(pf) : null;
            var acl = _options.AclFile is { } af ? AclFile.Load(af)
                : _options.AclRules is { } rules ? AclFile.Parse(rules.Split('\n'), nameof(MqttServerOptions.AclRules))
                : null;
            _core = new BrokerCore(_options, _logger, Metrics, passwords, acl);
        }
        _stopping = new CancellationTokenSource();
        try
        {
            var address = IPAddress.Parse(_options.BindAddress);
            if (_options.TlsPort is not null)
                _certificate = X509Certificate2.CreateFromPemFile(_options.TlsCertificateFile!, _options.TlsKeyFile);
            if (_options.DefaultEndpointEnabled) Port = Listen(address, _options.Port, tls: false);
            if (_options.TlsPort is { } tlsPort) TlsPort = Listen(address, tlsPort, tls: true);
        }
        catch
        {
            // Port in use, bad address or certificate: leave the server as it was, stopped.
            _stopping.Cancel();
            foreach (var (listener, _) in _listeners) listener.Dispose();
            _listeners.Clear();
            _certificate?.Dispose();
            _certificate = null;
            Port = 0;
            TlsPort = 0;
            lock (_stateGate) _core = null;
            throw;
        }
        _keepAliveTimer = _time.CreateTimer(static s => ((MqttServer)s!).CheckKeepAlive(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        return Task.CompletedTask;
    }

    private int Listen(IPAddress address, int port, bool tls)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // SO_REUSEADDR only (restart while old connections sit in TIME_WAIT). .NET's ReuseAddress
        // also sets SO_REUSEPORT on Linux, which would let a second broker share the port silently.
        if (OperatingSystem.IsLinux()) listener.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        listener.Bind(new IPEndPoint(address, port));
        listener.Listen(4096);
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;
        Log.Listening(_logger, endPoint, tls ? " (TLS)" : "");
        _listeners.Add((listener, AcceptLoopAsync(listener, tls, _stopping!.Token)));
        return endPoint.Port;
    }

    private async Task AcceptLoopAsync(Socket listener, bool tls, CancellationToken stopping)
    {
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // Out of file descriptors, a connection reset while queued...: log, breathe, go on.
                Log.AcceptFailed(_logger, e, listener.LocalEndPoint!);
                await Task.Delay(e.SocketErrorCode == SocketError.TooManyOpenSockets ? 100 : 1, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            socket.NoDelay = true;
            if (_options.SocketSendBufferSize is { } sendBuffer) socket.SendBufferSize = sendBuffer;
            var stream = new NetworkStream(socket, ownsSocket: false);
            var connection = new MqttConnection(this, Core, socket, stream, _time);
            _connections[connection] = Task.CompletedTask;
            var run = tls ? RunTlsAsync(connection, stream) : connection.RunAsync();
            _connections.TryUpdate(connection, run, Task.CompletedTask);
        }
    }

    private async Task RunTlsAsync(MqttConnection connection, NetworkStream stream)
    {
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        try
        {
            using var timeout = new CancellationTokenSource(_options.ConnectTimeout);
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Not TLS, or a failed handshake: close this socket; the connection never ran.
            Log.TlsFailed(_logger, connection.RemoteEndPoint, e.Message);
            Metrics.Rejected.Add(1, BrokerMetrics.ReasonProtocol);
            connection.Abort(MqttClientDisconnectType.ProtocolError);
            await ssl.DisposeAsync().ConfigureAwait(false);
            await OnConnectionClosedAsync(connection, wasConnected: false, MqttClientDisconnectType.ProtocolError).ConfigureAwait(false);
            return;
        }
        connection.UseStream(ssl);
        await connection.RunAsync().ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_core is null || _stopping is null) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var (listener, _) in _listeners) listener.Dispose();
        foreach (var (_, loop) in _listeners) await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _listeners.Clear();
        if (_keepAliveTimer is not null) await _keepAliveTimer.DisposeAsync().ConfigureAwait(false);
        foreach (var connection in _connections.Keys) connection.Abort(MqttClientDisconnectType.ServerShutdown);
        var running = _connections.Values.ToArray();
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _certificate?.Dispose();
        _certificate = null;
        lock (_stateGate) _core = null;
        Port = 0;
        TlsPort = 0;
        Log.Stopped(_logger);
    }

    /// <summary>Publishes a message from inside the process, as if a client had sent it (no ACL applies).</summary>
    public Task InjectApplicationMessage(InjectedMqttApplicationMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        var m = message.ApplicationMessage;
        MqttTopic.ThrowIfInvalidTopicName(m.Topic, nameof(message));
        if (m.QualityOfServiceLevel > MqttQualityOfServiceLevel.ExactlyOnce)
            throw new ArgumentOutOfRangeException(nameof(message), m.QualityOfServiceLevel, "QoS must be 0, 1 or 2.");
        Core.Publish(StoredMessage.Create(m.Topic, m.Payload, m.QualityOfServiceLevel, m.Retain));
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        Metrics.Dispose();
    }

    // ---- keep-alive and CONNECT deadline ----

    private void CheckKeepAlive()
    {
        try
        {
            CheckKeepAliveCore();
        }
        catch (Exception e)
        {
            // A timer callback must never take the process down.
            Log.HookFailed(_logger, e, "keep-alive check", "*");
        }
    }

    private void CheckKeepAliveCore()
    {
        var now = _time.GetTimestamp();
        // Enumerating the dictionary itself takes no snapshot: cheap with 100,000 connections.
        foreach (var (connection, _) in _connections)
        {
            if (!connection.IsConnected)
            {
                if (_time.GetElapsedTime(connection.AcceptedAt, now) > _options.ConnectTimeout)
                {
                    Metrics.Rejected.Add(1, BrokerMetrics.ReasonProtocol);
                    Log.ProtocolError(_logger, connection.RemoteEndPoint, connection.ClientId, $"no CONNECT within {_options.ConnectTimeout.TotalSeconds:0.#} s");
                    connection.Abort(MqttClientDisconnectType.ProtocolError);
                }
                continue;
            }
            var keepAlive = connection.KeepAliveSeconds;
            if (keepAlive == 0) continue;
            var idle = _time.GetElapsedTime(connection.LastActivity, now);
            if (idle.TotalSeconds > keepAlive * _options.KeepAliveGraceFactor)
            {
                Log.KeepAliveExpired(_logger, connection.ClientId, idle.TotalSeconds, keepAlive);
                connection.Abort(MqttClientDisconnectType.KeepAliveTimeout);
            }
        }
    }

    // ---- hooks, called by connections ----

    internal async ValueTask<MqttConnectReturnCode> ValidateConnectionAsync(ConnectPacket connect, string clientId, EndPoint? remote, MqttConnectReturnCode verdict)
    {
        var handlers = ValidatingConnectionAsync;
        if (handlers is null) return verdict;
        var args = new ValidatingConnectionEventArgs(clientId, connect.UserName, connect.Password, connect.CleanSession, remote, verdict);
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                await ((Func<ValidatingConnectionEventArgs, Task>)handler)(args).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.HookFailed(_logger, e, nameof(ValidatingConnectionAsync), clientId);
                return MqttConnectReturnCode.ServerUnavailable;
            }
        }
        return args.ReasonCode;
    }

    internal async ValueTask<InterceptingPublishEventArgs> InterceptPublishAsync(StoredMessage message, bool dup, string clientId, string? userName)
    {
        var args = new InterceptingPublishEventArgs(message.ToApplicationMessage(dup), clientId, userName);
        var handlers = InterceptingPublishAsync;
        if (handlers is null) return args;
        if (handlers.HasSingleTarget)
        {
            // The usual case (one ingestion hook): no invocation-list array per message.
            try
            {
                await handlers(args).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.HookFailed(_logger, e, nameof(InterceptingPublishAsync), clientId);
            }
            return args;
        }
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                await ((Func<InterceptingPublishEventArgs, Task>)handler)(args).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.HookFailed(_logger, e, nameof(InterceptingPublishAsync), clientId);
            }
        }
        return args;
    }

    internal void OnClientConnected(MqttConnection connection)
    {
        Interlocked.Increment(ref _connectedClients);
        Metrics.Connections.Add(1);
    }

    internal async Task RaiseClientConnectedAsync(MqttConnection connection)
    {
        var handlers = ClientConnectedAsync;
        if (handlers is null) return;
        var args = new ClientConnectedEventArgs(connection.ClientId, connection.UserName, connection.RemoteEndPoint);
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                await ((Func<ClientConnectedEventArgs, Task>)handler)(args).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.HookFailed(_logger, e, nameof(ClientConnectedAsync), connection.ClientId);
            }
        }
    }

    internal async Task OnConnectionClosedAsync(MqttConnection connection, bool wasConnected, MqttClientDisconnectType reason)
    {
        _connections.TryRemove(connection, out _);
        if (!wasConnected) return;
        Interlocked.Decrement(ref _connectedClients);
        Metrics.Connections.Add(-1);
        var handlers = ClientDisconnectedAsync;
        if (handlers is null) return;
        var args = new ClientDisconnectedEventArgs(connection.ClientId, reason, connection.RemoteEndPoint);
        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                await ((Func<ClientDisconnectedEventArgs, Task>)handler)(args).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.HookFailed(_logger, e, nameof(ClientDisconnectedAsync), connection.ClientId);
            }
        }
    }
}
