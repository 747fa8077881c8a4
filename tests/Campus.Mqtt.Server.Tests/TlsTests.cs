using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

public sealed class TlsTests : IDisposable
{
    private readonly TempDirectory _temp = TempDirectory.Create("campus-mqtt-test-");

    public void Dispose() => _temp.Dispose();

    private (string Cert, string Key) WriteSelfSignedPem()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = _temp.File("broker.crt", cert.ExportCertificatePem());
        var keyPath = _temp.File("broker.key", key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    [Fact]
    public async Task Tls_endpoint_serves_mosquitto_pub_with_a_pem_certificate_and_key()
    {
        var (cert, key) = WriteSelfSignedPem();
        await using var server = await TestBroker.StartAsync(o => { o.TlsPort = 0; o.TlsCertificateFile = cert; o.TlsKeyFile = key; });
        Assert.NotEqual(0, server.TlsPort);
        await using var sub = await RawMqttClient.ConnectAsync(server.Port, "plain-sub");
        await sub.SubscribeAsync(1, ("secure/#", MqttQualityOfServiceLevel.AtLeastOnce));

        var pub = await ExternalProcess.RunAsync("mosquitto_pub",
            ["-h", "127.0.0.1", "-p", server.TlsPort.ToString(CultureInfo.InvariantCulture), "--cafile", cert, "-t", "secure/hello", "-m", "over tls", "-q", "1"]);
        Assert.True(pub.ExitCode == 0, pub.Error + pub.Output);

        var p = await sub.ExpectAsync(Protocol.MqttPacketType.Publish);
        Assert.Equal("secure/hello", p.Topic);
        Assert.Equal("over tls", p.PayloadText);
    }

    [Fact]
    public async Task Plain_mqtt_sent_to_the_tls_port_is_refused_without_harming_the_broker()
    {
        var (cert, key) = WriteSelfSignedPem();
        var logger = new CapturingLogger();
        await using var server = await TestBroker.StartAsync(o => { o.TlsPort = 0; o.TlsCertificateFile = cert; o.TlsKeyFile = key; }, logger);
        var wrong = await ExternalProcess.RunAsync("mosquitto_pub", ["-h", "127.0.0.1", "-p", server.TlsPort.ToString(CultureInfo.InvariantCulture), "-t", "x", "-m", "y"]);
        Assert.NotEqual(0, wrong.ExitCode);
        await using var fine = await RawMqttClient.ConnectAsync(server.Port, "still-fine");
        await fine.PingAsync();
        await fine.ExpectAsync(Protocol.MqttPacketType.PingResp);
        Assert.True(logger.Contains("TLS handshake"), logger.Dump());
        Assert.DoesNotContain(logger.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }
}
