using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Campus.Mqtt.Protocol.V311;
using Microsoft.Extensions.Logging;

namespace Campus.Mqtt;

/// <summary>How an <see cref="IMqttClient"/> connects. Build it with <see cref="MqttClientOptionsBuilder"/>.</summary>
public sealed record MqttClientOptions
{
    public string Host { get; init; } = "localhost";

    public int Port { get; init; } = 1883;

    /// <summary>Defaults to a random 23-character identifier, the longest every 3.1.1 server must accept.</summary>
    public string ClientId { get; init; } = "campus-" + Guid.NewGuid().ToString("N")[..16];

    public string? UserName { get; init; }

    public byte[]? Password { get; init; }

    /// <summary>True (the default) starts a new session; false resumes the broker's stored session.</summary>
    public bool CleanSession { get; init; } = true;

    /// <summary>Keep-alive period; <see cref="TimeSpan.Zero"/> turns keep-alive off. Whole seconds, at most 65,535.</summary>
    public TimeSpan KeepAlivePeriod { get; init; } = TimeSpan.FromSeconds(15);

    public string? WillTopic { get; init; }

    public ReadOnlyMemory<byte> WillPayload { get; init; }

    public MqttQualityOfServiceLevel WillQualityOfServiceLevel { get; init; }

    public bool WillRetain { get; init; }

    public MqttClientTlsOptions TlsOptions { get; init; } = new();

    /// <summary>How long to wait for the connection, CONNACK, SUBACK/UNSUBACK and PINGRESP.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Campus extension: reconnect on its own after losing the connection, with exponential backoff and jitter, and subscribe again.</summary>
    public bool AutoReconnect { get; init; }

    public TimeSpan AutoReconnectMinDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan AutoReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Campus extension: how many outgoing QoS 1/2 messages may await acknowledgement at once; PublishAsync waits for a free slot.</summary>
    public int MaximumInFlightMessages { get; init; } = 64;

    /// <summary>Largest packet accepted from the broker, in bytes.</summary>
    public int MaximumPacketSize { get; init; } = MqttV311Decoder.MaximumPacketSize;

    public ILogger? Logger { get; init; }

    /// <summary>The clock for keep-alive, timeouts and reconnect delays.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>TLS settings; the connection goes through an <see cref="SslStream"/> when <see cref="UseTls"/> is set.</summary>
public sealed record MqttClientTlsOptions
{
    public bool UseTls { get; init; }

    /// <summary>The name the server certificate must carry; defaults to the host.</summary>
    public string? TargetHost { get; init; }

    public SslProtocols SslProtocols { get; init; } = SslProtocols.None;

    public X509CertificateCollection? ClientCertificates { get; init; }

    /// <summary>Decides whether to trust the server certificate; without one, the platform's validation decides.</summary>
    public Func<MqttClientCertificateValidationEventArgs, bool>? CertificateValidationHandler { get; init; }

    /// <summary>Accept a certificate whose only fault is an untrusted chain (self-signed). The name must still match.</summary>
    public bool AllowUntrustedCertificates { get; init; }
}

/// <summary>What a certificate validation handler sees.</summary>
public sealed class MqttClientCertificateValidationEventArgs
{
    internal MqttClientCertificateValidationEventArgs(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors sslPolicyErrors, MqttClientOptions clientOptions)
    {
        Certificate = certificate;
        Chain = chain;
        SslPolicyErrors = sslPolicyErrors;
        ClientOptions = clientOptions;
    }

    public X509Certificate? Certificate { get; }

    public X509Chain? Chain { get; }

    public SslPolicyErrors SslPolicyErrors { get; }

    public MqttClientOptions ClientOptions { get; }
}

/// <summary>Builds <see cref="MqttClientTlsOptions"/>.</summary>
public sealed class MqttClientTlsOptionsBuilder
{
    private MqttClientTlsOptions _options = new() { UseTls = true };

    public MqttClientTlsOptionsBuilder UseTls(bool useTls = true)
    {
        _options = _options with { UseTls = useTls };
        return this;
    }

    public MqttClientTlsOptionsBuilder WithTargetHost(string targetHost)
    {
        _options = _options with { TargetHost = targetHost };
        return this;
    }

    public MqttClientTlsOptionsBuilder WithSslProtocols(SslProtocols sslProtocols)
    {
        _options = _options with { SslProtocols = sslProtocols };
        return this;
    }

    public MqttClientTlsOptionsBuilder WithClientCertificates(X509CertificateCollection certificates)
    {
        _options = _options with { ClientCertificates = certificates };
        return this;
    }

    public MqttClientTlsOptionsBuilder WithCertificateValidationHandler(Func<MqttClientCertificateValidationEventArgs, bool> handler)
    {
        _options = _options with { CertificateValidationHandler = handler };
        return this;
    }

    public MqttClientTlsOptionsBuilder WithAllowUntrustedCertificates(bool allow = true)
    {
        _options = _options with { AllowUntrustedCertificates = allow };
        return this;
    }

    public MqttClientTlsOptions Build() => _options;
}

/// <summary>Builds <see cref="MqttClientOptions"/>.</summary>
public sealed class MqttClientOptionsBuilder
{
    private MqttClientOptions _options = new();

    public MqttClientOptionsBuilder WithTcpServer(string host, int port = 1883)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        _options = _options with { Host = host, Port = port };
        return this;
    }

    public MqttClientOptionsBuilder WithClientId(string clientId)
    {
        ArgumentNullException.ThrowIfNull(clientId);
        _options = _options with { ClientId = clientId };
        return this;
    }

    public MqttClientOptionsBuilder WithCredentials(string userName, string? password = null) =>
        WithCredentials(userName, password is null ? null : System.Text.Encoding.UTF8.GetBytes(password));

    public MqttClientOptionsBuilder WithCredentials(string userName, byte[]? password)
    {
        ArgumentNullException.ThrowIfNull(userName);
        _options = _options with { UserName = userName, Password = password };
        return this;
    }

    public MqttClientOptionsBuilder WithCleanSession(bool cleanSession = true)
    {
        _options = _options with { CleanSession = cleanSession };
        return this;
    }

    public MqttClientOptionsBuilder WithKeepAlivePeriod(TimeSpan period)
    {
        if (period < TimeSpan.Zero || period.TotalSeconds > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(period), period, "The keep-alive period is 0 to 65,535 seconds.");
        _options = _options with { KeepAlivePeriod = period };
        return this;
    }

    public MqttClientOptionsBuilder WithNoKeepAlive() => WithKeepAlivePeriod(TimeSpan.Zero);

    public MqttClientOptionsBuilder WithWillTopic(string topic)
    {
        MqttTopic.ThrowIfInvalidTopicName(topic, nameof(topic));
        _options = _options with { WillTopic = topic };
        return this;
    }

    public MqttClientOptionsBuilder WithWillPayload(byte[] payload)
    {
        _options = _options with { WillPayload = payload };
        return this;
    }

    public MqttClientOptionsBuilder WithWillPayload(string payload) => WithWillPayload(System.Text.Encoding.UTF8.GetBytes(payload));

    public MqttClientOptionsBuilder WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel qualityOfServiceLevel)
    {
        _options = _options with { WillQualityOfServiceLevel = qualityOfServiceLevel };
        return this;
    }

    public MqttClientOptionsBuilder WithWillRetain(bool retain = true)
    {
        _options = _options with { WillRetain = retain };
        return this;
    }

    public MqttClientOptionsBuilder WithTlsOptions(MqttClientTlsOptions tlsOptions)
    {
        ArgumentNullException.ThrowIfNull(tlsOptions);
        _options = _options with { TlsOptions = tlsOptions };
        return this;
    }

    public MqttClientOptionsBuilder WithTlsOptions(Action<MqttClientTlsOptionsBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var builder = new MqttClientTlsOptionsBuilder();
        configure(builder);
        return WithTlsOptions(builder.Build());
    }

    public MqttClientOptionsBuilder WithTimeout(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        _options = _options with { Timeout = timeout };
        return this;
    }

    /// <summary>Campus extension: reconnect automatically after a lost connection, waiting between
    /// <paramref name="minDelay"/> and <paramref name="maxDelay"/> (exponential backoff with jitter),
    /// then subscribe again to everything subscribed.</summary>
    public MqttClientOptionsBuilder WithAutoReconnect(TimeSpan minDelay, TimeSpan maxDelay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, minDelay);
        _options = _options with { AutoReconnect = true, AutoReconnectMinDelay = minDelay, AutoReconnectMaxDelay = maxDelay };
        return this;
    }

    /// <summary>Campus extension: the in-flight window for outgoing QoS 1/2 messages.</summary>
    public MqttClientOptionsBuilder WithMaximumInFlightMessages(int maximum)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maximum, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maximum, 65_000);
        _options = _options with { MaximumInFlightMessages = maximum };
        return this;
    }

    public MqttClientOptionsBuilder WithMaximumPacketSize(int maximumPacketSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maximumPacketSize, 2);
        _options = _options with { MaximumPacketSize = Math.Min(maximumPacketSize, MqttV311Decoder.MaximumPacketSize) };
        return this;
    }

    public MqttClientOptionsBuilder WithLogger(ILogger logger)
    {
        _options = _options with { Logger = logger };
        return this;
    }

    public MqttClientOptionsBuilder WithTimeProvider(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _options = _options with { TimeProvider = timeProvider };
        return this;
    }

    public MqttClientOptions Build()
    {
        if (_options.WillTopic is null && (_options.WillRetain || _options.WillQualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce || !_options.WillPayload.IsEmpty))
            throw new InvalidOperationException("A will payload, QoS or retain flag needs WithWillTopic.");
        return _options;
    }
}
