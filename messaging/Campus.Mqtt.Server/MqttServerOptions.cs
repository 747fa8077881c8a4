namespace Campus.Mqtt.Server;

/// <summary>
/// Settings of the embedded broker. Bound from the configuration section <c>Mqtt:Broker</c>
/// by <see cref="Hosting.MqttBrokerServiceCollectionExtensions.AddCampusMqttBroker"/>, or built
/// with <see cref="MqttServerOptionsBuilder"/>.
/// </summary>
public sealed class MqttServerOptions
{
    /// <summary>The configuration section the hosted broker reads.</summary>
    public const string SectionName = "Mqtt:Broker";

    /// <summary>Listen for plain TCP connections. On by default.</summary>
    public bool DefaultEndpointEnabled { get; set; } = true;

    /// <summary>The address the plain endpoint binds to, e.g. <c>127.0.0.1</c> or <c>0.0.0.0</c>.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>The plain endpoint's port; 0 picks a free one (see <see cref="MqttServer.Port"/>).</summary>
    public int Port { get; set; } = 1883;

    /// <summary>The TLS endpoint's port, or null for no TLS endpoint; 0 picks a free one.</summary>
    public int? TlsPort { get; set; }

    /// <summary>PEM file with the server certificate (chain) for the TLS endpoint.</summary>
    public string? TlsCertificateFile { get; set; }

    /// <summary>PEM file with the private key of <see cref="TlsCertificateFile"/>.</summary>
    public string? TlsKeyFile { get; set; }

    /// <summary>Largest accepted packet in bytes (fixed header included); bigger ones close the connection.</summary>
    public int MaxPacketSize { get; set; } = 256 * 1024;

    /// <summary>A client that sends nothing for this many keep-alive periods is disconnected (MQTT says 1.5).</summary>
    public double KeepAliveGraceFactor { get; set; } = 1.5;

    /// <summary>How long a new connection may take to send CONNECT.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>QoS 1/2 messages queued per session (while offline or beyond the in-flight window); more are dropped and counted.</summary>
    public int MaxQueuedMessagesPerSession { get; set; } = 1000;

    /// <summary>Unacknowledged QoS 1/2 messages in flight to one client.</summary>
    public int MaxInflightMessagesPerSession { get; set; } = 100;

    /// <summary>
    /// Backpressure: a publisher whose messages fill an online subscriber's queue stops being read
    /// until the queue drains. A subscriber that acknowledges nothing for this long is treated as
    /// stalled: it stops slowing publishers down for <see cref="StalledSubscriberExemption"/>, and its
    /// overflow is dropped and counted. Too short, and a subscriber that is merely slow (a busy
    /// machine, a pause) loses messages; too long, and one stuck client holds publishers up.
    /// </summary>
    public TimeSpan SlowSubscriberTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a subscriber found stalled is exempt from backpressure.</summary>
    public TimeSpan StalledSubscriberExemption { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Bytes waiting to be sent to one slow client; QoS 0 messages beyond it are dropped and counted.</summary>
    public int MaxPendingOutputBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// The kernel send buffer of each client connection in bytes (SO_SNDBUF), or null for the
    /// operating system's default and automatic sizing. A fixed small buffer bounds the kernel
    /// memory that many connections to slow clients can hold; output beyond it waits in the
    /// connection's own queue (see <see cref="MaxPendingOutputBytes"/>).
    /// </summary>
    public int? SocketSendBufferSize { get; set; }

    /// <summary>A password file in mosquitto_passwd format, or null.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>An ACL file in Mosquitto's acl_file format, or null (no topic restrictions).</summary>
    public string? AclFile { get; set; }

    /// <summary>
    /// ACL rules as text in the same format, for a program that builds its rules itself and need not
    /// write them to a file; or null. Not together with <see cref="AclFile"/>.
    /// </summary>
    public string? AclRules { get; set; }

    /// <summary>Accept clients that send no user name.</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>
    /// Replace the client id of every client that sends a user name with that user name (like
    /// Mosquitto's <c>use_username_as_clientid</c>), so that ACL patterns with <c>%c</c> name the
    /// authenticated account, never an id the client chose.
    /// </summary>
    public bool UseUsernameAsClientId { get; set; }

    /// <summary>
    /// Refuse (CONNACK 0x02, identifier rejected) a CONNECT whose user name is set and differs
    /// from its client id. Users that have their own <c>user</c> section in the ACL file (the
    /// controller, the dashboard) are exempt: their rights do not come from <c>%c</c> patterns.
    /// </summary>
    public bool RequireClientIdMatchesUsername { get; set; }

    internal void Validate()
    {
        if (!DefaultEndpointEnabled && TlsPort is null)
            throw new InvalidOperationException("The broker has no endpoint: enable the plain endpoint or set TlsPort.");
        if (Port is < 0 or > 65535) throw new InvalidOperationException($"Port must be 0..65535, got {Port}.");
        if (TlsPort is { } tls)
        {
            if (tls is < 0 or > 65535) throw new InvalidOperationException($"TlsPort must be 0..65535, got {tls}.");
            if (string.IsNullOrWhiteSpace(TlsCertificateFile) || string.IsNullOrWhiteSpace(TlsKeyFile))
                throw new InvalidOperationException("The TLS endpoint needs TlsCertificateFile and TlsKeyFile (PEM).");
        }
        if (MaxPacketSize < 64) throw new InvalidOperationException($"MaxPacketSize must be at least 64 bytes, got {MaxPacketSize}.");
        if (KeepAliveGraceFactor < 1) throw new InvalidOperationException($"KeepAliveGraceFactor must be at least 1, got {KeepAliveGraceFactor}.");
        if (MaxQueuedMessagesPerSession < 0) throw new InvalidOperationException("MaxQueuedMessagesPerSession must not be negative.");
        if (MaxInflightMessagesPerSession is < 1 or > 65535) throw new InvalidOperationException("MaxInflightMessagesPerSession must be 1..65535.");
        if (SlowSubscriberTimeout <= TimeSpan.Zero) throw new InvalidOperationException($"SlowSubscriberTimeout must be positive, got {SlowSubscriberTimeout}.");
        if (StalledSubscriberExemption < TimeSpan.Zero) throw new InvalidOperationException($"StalledSubscriberExemption must not be negative, got {StalledSubscriberExemption}.");
        if (MaxPendingOutputBytes < 1024) throw new InvalidOperationException("MaxPendingOutputBytes must be at least 1024.");
        if (AclFile is not null && AclRules is not null) throw new InvalidOperationException("Set AclFile or AclRules, not both.");
        if (SocketSendBufferSize is < 1024) throw new InvalidOperationException($"SocketSendBufferSize must be at least 1024 bytes, got {SocketSendBufferSize}.");
    }
}

/// <summary>Fluent construction of <see cref="MqttServerOptions"/>.</summary>
public sealed class MqttServerOptionsBuilder
{
    private readonly MqttServerOptions _options = new();

    public MqttServerOptionsBuilder WithDefaultEndpoint() { _options.DefaultEndpointEnabled = true; return this; }
    public MqttServerOptionsBuilder WithoutDefaultEndpoint() { _options.DefaultEndpointEnabled = false; return this; }
    public MqttServerOptionsBuilder WithDefaultEndpointBoundIPAddress(string address) { _options.BindAddress = address; return this; }
    public MqttServerOptionsBuilder WithDefaultEndpointPort(int port) { _options.Port = port; return this; }

    public MqttServerOptionsBuilder WithEncryptedEndpoint(int port, string certificatePemFile, string keyPemFile)
    {
        _options.TlsPort = port;
        _options.TlsCertificateFile = certificatePemFile;
        _options.TlsKeyFile = keyPemFile;
        return this;
    }

    public MqttServerOptionsBuilder WithMaxPacketSize(int bytes) { _options.MaxPacketSize = bytes; return this; }
    public MqttServerOptionsBuilder WithKeepAliveGraceFactor(double factor) { _options.KeepAliveGraceFactor = factor; return this; }
    public MqttServerOptionsBuilder WithMaxPendingMessagesPerClient(int messages) { _options.MaxQueuedMessagesPerSession = messages; return this; }
    public MqttServerOptionsBuilder WithMaxInflightMessagesPerClient(int messages) { _options.MaxInflightMessagesPerSession = messages; return this; }
    public MqttServerOptionsBuilder WithPasswordFile(string path) { _options.PasswordFile = path; return this; }
    public MqttServerOptionsBuilder WithAclFile(string path) { _options.AclFile = path; return this; }
    public MqttServerOptionsBuilder WithAclRules(string rules) { _options.AclRules = rules; return this; }
    public MqttServerOptionsBuilder WithAnonymousClients(bool allow = true) { _options.AllowAnonymous = allow; return this; }
    public MqttServerOptionsBuilder WithUsernameAsClientId(bool enabled = true) { _options.UseUsernameAsClientId = enabled; return this; }
    public MqttServerOptionsBuilder WithClientIdMatchingUsername(bool required = true) { _options.RequireClientIdMatchesUsername = required; return this; }

    public MqttServerOptions Build()
    {
        _options.Validate();
        return _options;
    }
}
