using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Campus.Contracts;
using Campus.Controller.Services;
using Campus.Mqtt;
using Campus.Mqtt.Server;
using Microsoft.Extensions.Options;

namespace Campus.Controller.Ingestion;

/// <summary>
/// Ingestion inside the embedded broker: device credentials are checked at CONNECT against the
/// device directory, and every PUBLISH on campus/v1/... is ingested in the broker's publish hook,
/// which the broker awaits before it sends PUBACK. So a device's QoS 1 message is acknowledged
/// only when its effect is durable, and a message whose effect could not be stored closes the
/// connection without PUBACK (the device sends it again after reconnecting). Each connection's
/// messages are processed in order; different devices run concurrently.
/// </summary>
internal sealed class EmbeddedBrokerBridge(
    MqttServer server,
    MessageIngestor ingestor,
    DeviceDirectory directory,
    IngestionStatus status,
    IOptions<CampusMqttOptions> options)
{
    private static readonly string Prefix = DeviceTopic.Prefix;

    public void Attach()
    {
        server.ValidatingConnectionAsync += ValidateAsync;
        server.InterceptingPublishAsync += InterceptAsync;
        status.Mode = "embedded";
    }

    private Task ValidateAsync(ValidatingConnectionEventArgs e)
    {
        var o = options.Value;
        if (e.UserName is null)
        {
            e.ReasonCode = o.AllowAnonymous ? MqttConnectReturnCode.Accepted : MqttConnectReturnCode.NotAuthorized;
            return Task.CompletedTask;
        }
        if (directory.TryGet(e.UserName, out _))
        {
            // A device: user name = client id = device id, and its issued password.
            e.ReasonCode = string.Equals(e.UserName, e.ClientId, StringComparison.Ordinal) && directory.CheckPassword(e.UserName, e.Password.Span)
                ? MqttConnectReturnCode.Accepted
                : MqttConnectReturnCode.BadUserNameOrPassword;
            return Task.CompletedTask;
        }
        if (o.Users.TryGetValue(e.UserName, out var password))
        {
            var given = e.Password.Span;
            var expected = Encoding.UTF8.GetBytes(password);
            e.ReasonCode = CryptographicOperations.FixedTimeEquals(given, expected) ? MqttConnectReturnCode.Accepted : MqttConnectReturnCode.BadUserNameOrPassword;
            return Task.CompletedTask;
        }
        e.ReasonCode = MqttConnectReturnCode.BadUserNameOrPassword;
        return Task.CompletedTask;
    }

    private async Task InterceptAsync(InterceptingPublishEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        if (!topic.StartsWith(Prefix, StringComparison.Ordinal)) return;
        // Only a registered device is held to its own topics; gateways and tools log in as users.
        var sender = directory.TryGet(e.ClientId, out _) ? e.ClientId : null;
        var payload = e.ApplicationMessage.Payload;
        var bytes = payload.IsSingleSegment ? payload.First : payload.ToArray();
        // DUP is the device's own flag on this PUBLISH: set only when it re-sends a message whose
        // PUBACK it missed, so a byte-identical copy without it is a replay, not a redelivery.
        switch (await ingestor.IngestAsync(topic, bytes, sender, e.ApplicationMessage.Dup).ConfigureAwait(false))
        {
            case IngestDisposition.Rejected:
                e.ProcessPublish = false;
                break;
            case IngestDisposition.Retry:
                e.ProcessPublish = false;
                e.CloseConnection = true;
                break;
        }
    }
}

/// <summary>Commands through the embedded broker: injected as the controller's own QoS 1 messages.</summary>
internal sealed class EmbeddedCommandPublisher(MqttServer server) : ICommandPublisher
{
    public ValueTask PublishAsync(DeviceTopic topic, DeviceCommand command, CancellationToken cancellationToken = default)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic.ToString())
            .WithPayload(PayloadWriter.Write(command))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(CommandNames.IsRetained(command.Name))
            .Build();
        return new ValueTask(server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = "campus-controller" }, cancellationToken));
    }
}
