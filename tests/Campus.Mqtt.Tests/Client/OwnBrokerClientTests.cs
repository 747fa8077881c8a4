using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Campus.Testing;

namespace Campus.Mqtt.Tests.Client;

/// <summary>Tests that need a Mosquitto of their own: restarts, passwords, TLS.</summary>
public sealed class OwnBrokerClientTests
{
    [Fact]
    public async Task The_client_reconnects_and_subscribes_again_after_mosquitto_restarts()
    {
        await using var server = await MosquittoServer.StartAsync();
        var connects = 0;
        var disconnects = 0;
        var subscriber = MqttTestClient.Create();
        await using var _ = subscriber;
        subscriber.Client.ConnectedAsync += _ => { Interlocked.Increment(ref connects); return Task.CompletedTask; };
        subscriber.Client.DisconnectedAsync += e =>
        {
            if (e.Reason == MqttClientDisconnectReason.ConnectionLost) Interlocked.Increment(ref disconnects);
            return Task.CompletedTask;
        };
        await subscriber.Client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(server.Host, server.Port)
            .WithCleanSession(true)
            .WithAutoReconnect(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500))
            .Build());
        await subscriber.SubscribeAsync("restart/#");

        await server.StopAsync();
        await Poll.UntilAsync(() => !subscriber.Client.IsConnected, "the client notices the broker is gone");
        await server.StartAgainAsync();
        await Poll.UntilAsync(() => subscriber.Client.IsConnected, "the client reconnects on its own");

        // Clean session: Mosquitto forgot the subscription; the client must have made it again.
        await using var publisher = await MqttTestClient.ConnectAsync(server);
        await publisher.PublishAsync("restart/after", "still subscribed");
        await subscriber.WaitForPayloadAsync("still subscribed");
        Assert.Equal(2, Volatile.Read(ref connects));
        Assert.Equal(1, Volatile.Read(ref disconnects));
    }

    [Fact]
    public async Task A_wrong_password_is_refused_with_the_connack_code()
    {
        var dir = Directory.CreateTempSubdirectory("campus-mqtt-passwd-").FullName;
        try
        {
            var passwordFile = Path.Combine(dir, "passwd");
            var (code, _, error) = await ExternalProcess.RunAsync("mosquitto_passwd", ["-b", "-c", passwordFile, "gateway", "right-password"]);
            Assert.True(code == 0, error);
            await using var server = await MosquittoServer.StartAsync(new MosquittoOptions { AllowAnonymous = false, PasswordFile = passwordFile });

            var client = new MqttClientFactory().CreateMqttClient();
            var refused = await Assert.ThrowsAsync<MqttConnectingFailedException>(() => client.ConnectAsync(
                new MqttClientOptionsBuilder().WithTcpServer(server.Host, server.Port).WithCredentials("gateway", "wrong-password").Build()));
            // Mosquitto answers an MQTT 3.1.1 client with a bad password by 0x05 "not authorized".
            Assert.Equal(MqttConnectReturnCode.NotAuthorized, refused.ResultCode);
            Assert.False(client.IsConnected);

            var accepted = await client.ConnectAsync(
                new MqttClientOptionsBuilder().WithTcpServer(server.Host, server.Port).WithCredentials("gateway", "right-password").Build());
            Assert.Equal(MqttConnectReturnCode.Accepted, accepted.ResultCode);
            await client.DisposeAsync();
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Fact]
    public async Task The_client_talks_to_mosquitto_over_tls()
    {
        var dir = Directory.CreateTempSubdirectory("campus-mqtt-tls-").FullName;
        try
        {
            using var certificate = CreateSelfSignedCertificate(dir, out var certFile, out var keyFile);
            var tlsPort = FreePort.Get();
            await using var server = await MosquittoServer.StartAsync(new MosquittoOptions
            {
                ExtraConfig = $"listener {tlsPort} 127.0.0.1\ncertfile {certFile}\nkeyfile {keyFile}\n",
            });
            await FreePort.WaitUntilListeningAsync(tlsPort, TimeSpan.FromSeconds(10), "mosquitto TLS listener");

            // The platform does not trust a self-signed certificate...
            var untrusting = new MqttClientFactory().CreateMqttClient();
            var e = await Assert.ThrowsAsync<MqttCommunicationException>(() => untrusting.ConnectAsync(
                new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", tlsPort).WithTlsOptions(o => o.UseTls()).Build()));
            Assert.IsType<System.Security.Authentication.AuthenticationException>(e.InnerException);

            // ...a handler pinning its thumbprint does.
            var thumbprint = certificate.Thumbprint;
            await using var subscriber = await MqttTestClient.ConnectAsync("127.0.0.1", tlsPort, b => b.WithTlsOptions(o => o
                .WithCertificateValidationHandler(args => args.Certificate is X509Certificate2 c && c.Thumbprint == thumbprint)));
            await subscriber.SubscribeAsync("tls/test");
            await using var plain = await MqttTestClient.ConnectAsync(server);
            await plain.PublishAsync("tls/test", "through TLS");
            await subscriber.WaitForPayloadAsync("through TLS");
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    private static X509Certificate2 CreateSelfSignedCertificate(string dir, out string certFile, out string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        certFile = Path.Combine(dir, "server.crt");
        keyFile = Path.Combine(dir, "server.key");
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }
}
