using System.Text;
using Campus.Mqtt;

namespace Campus.Firmware.Tests.Apps;

/// <summary>
/// The controller side over a real broker: a Campus MQTT client subscribed to <c>campus/v1/#</c>
/// with a persistent session (so nothing is missed while the broker restarts) that reconnects by itself.
/// </summary>
internal sealed class BrokerControllerLink : IControllerLink
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly List<PublishedMessage> _received = new();
    private readonly SemaphoreSlim _probeSeen = new(0);
    private const string ProbeTopic = "campus/v1/rig/rig/rig/rig/probe";

    private BrokerControllerLink()
    {
    }

    public static async Task<BrokerControllerLink> ConnectAsync(string host, int port)
    {
        var link = new BrokerControllerLink();
        link._client.ApplicationMessageReceivedAsync += link.OnMessage;
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId("test-controller-" + Guid.NewGuid().ToString("N")[..8])
            .WithCleanSession(false)
            .WithAutoReconnect(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500))
            .Build();
        await link._client.ConnectAsync(options);
        await link._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("campus/v1/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return link;
    }

    public bool IsConnected => _client.IsConnected;

    public IReadOnlyList<PublishedMessage> Received
    {
        get { lock (_received) return _received.ToArray(); }
    }

    private Task OnMessage(MqttApplicationMessageReceivedEventArgs e)
    {
        var m = e.ApplicationMessage;
        if (m.Topic == ProbeTopic)
        {
            _probeSeen.Release();
            return Task.CompletedTask;
        }
        // Commands the test itself sent come back through the subscription: keep only device output.
        if (m.Topic.Contains("/cmd/", StringComparison.Ordinal) && !m.Topic.EndsWith("/ack", StringComparison.Ordinal)) return Task.CompletedTask;
        lock (_received) _received.Add(new PublishedMessage(m.Topic, m.ConvertPayloadToString(), m.Retain, e.PacketIdentifier));
        return Task.CompletedTask;
    }

    public async Task SendAsync(string topic, string payload, bool retain = false)
    {
        await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(retain)
            .Build());
    }

    /// <summary>
    /// Waits until a message sent now comes back through the subscription: after a broker that
    /// lost every session (the embedded one restarted) the link has reconnected and subscribed again.
    /// </summary>
    public async Task WaitUntilSubscribedAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (_probeSeen.CurrentCount > 0) await _probeSeen.WaitAsync();
        while (DateTime.UtcNow < deadline)
        {
            if (_client.IsConnected)
            {
                try
                {
                    await SendAsync(ProbeTopic, "probe").WaitAsync(TimeSpan.FromSeconds(1));
                }
                catch (Exception e) when (e is MqttCommunicationException or TimeoutException or OperationCanceledException)
                {
                    // Not connected yet after all: try again.
                }
            }

            if (await _probeSeen.WaitAsync(TimeSpan.FromMilliseconds(200))) return;
        }

        throw new TimeoutException("The controller link did not subscribe again within 30 s.");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_client.IsConnected) await _client.DisconnectAsync();
        }
        finally
        {
            await _client.DisposeAsync();
        }
    }
}
