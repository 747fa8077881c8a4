using System.Collections.Concurrent;
using Campus.Testing;

namespace Campus.Mqtt.Tests.Client;

/// <summary>A Mosquitto shared by the tests of one class that never stop or restart it.</summary>
public sealed class SharedMosquitto : IAsyncLifetime
{
    public MosquittoServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await MosquittoServer.StartAsync(new MosquittoOptions { Persistence = false });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>A client plus everything it received, for assertions.</summary>
internal sealed class MqttTestClient : IAsyncDisposable
{
    private MqttTestClient(IMqttClient client) => Client = client;

    public IMqttClient Client { get; }

    public ConcurrentQueue<MqttApplicationMessageReceivedEventArgs> Received { get; } = new();

    public List<string> ReceivedPayloads
    {
        get
        {
            var list = new List<string>();
            foreach (var r in Received) list.Add(r.ApplicationMessage.ConvertPayloadToString());
            return list;
        }
    }

    /// <summary>Set before connecting to keep messages unacknowledged.</summary>
    public bool AutoAcknowledge { get; set; } = true;

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 23)];

    public static Task<MqttTestClient> ConnectAsync(MosquittoServer server, Func<MqttClientOptionsBuilder, MqttClientOptionsBuilder>? configure = null, bool autoAcknowledge = true) =>
        ConnectAsync(server.Host, server.Port, configure, autoAcknowledge);

    public static async Task<MqttTestClient> ConnectAsync(string host, int port, Func<MqttClientOptionsBuilder, MqttClientOptionsBuilder>? configure = null, bool autoAcknowledge = true)
    {
        var client = Create(autoAcknowledge);
        var builder = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(NewId("t")).WithTimeout(TimeSpan.FromSeconds(5));
        if (configure is not null) builder = configure(builder);
        await client.Client.ConnectAsync(builder.Build());
        return client;
    }

    public static MqttTestClient Create(bool autoAcknowledge = true)
    {
        var test = new MqttTestClient(new MqttClientFactory().CreateMqttClient()) { AutoAcknowledge = autoAcknowledge };
        test.Client.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = test.AutoAcknowledge;
            test.Received.Enqueue(e);
            return Task.CompletedTask;
        };
        return test;
    }

    public async Task<MqttClientSubscribeResult> SubscribeAsync(string filter, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) =>
        await Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, qos).Build());

    public Task<MqttClientPublishResult> PublishAsync(string topic, string payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce, bool retain = false) =>
        Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).WithRetainFlag(retain).Build());

    public Task WaitForAsync(int count, string because, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => Received.Count >= count, $"{because} (received so far: {string.Join(", ", ReceivedPayloads)})", timeout);

    public Task WaitForPayloadAsync(string payload, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => ReceivedPayloads.Contains(payload), $"the message '{payload}' arrives (received so far: {string.Join(", ", ReceivedPayloads)})", timeout);

    public async ValueTask DisposeAsync() => await Client.DisposeAsync();
}
