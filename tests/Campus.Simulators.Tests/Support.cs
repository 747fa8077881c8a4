using System.Collections.Concurrent;
using System.Text.Json;
using Campus.Mqtt;
using Campus.Mqtt.Server;
using Campus.Simulators.District;

namespace Campus.Simulators.Tests;

/// <summary>One message seen on the broker.</summary>
internal sealed record Seen(string Topic, string Device, string Stream, string Payload, bool Retained)
{
    public JsonElement Json => JsonDocument.Parse(Payload).RootElement;
}

/// <summary>Subscribes to <c>campus/v1/#</c> and keeps everything, in arrival order.</summary>
internal sealed class Recorder : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly ConcurrentQueue<Seen> _seen = new();

    public static async Task<Recorder> StartAsync(string host, int port)
    {
        var recorder = new Recorder();
        recorder._client.ApplicationMessageReceivedAsync += e =>
        {
            var topic = e.ApplicationMessage.Topic;
            var parts = topic.Split('/');
            if (parts.Length >= 7)
            {
                string stream = string.Join('/', parts.Skip(6));
                recorder._seen.Enqueue(new Seen(topic, parts[5], stream, e.ApplicationMessage.ConvertPayloadToString(), e.ApplicationMessage.Retain));
            }

            return Task.CompletedTask;
        };
        await recorder._client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId("test-recorder-" + Guid.NewGuid().ToString("N")[..8]).Build());
        await recorder._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("campus/v1/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return recorder;
    }

    public IReadOnlyList<Seen> Messages => [.. _seen];

    public IEnumerable<Seen> From(string device, string stream) => Messages.Where(m => m.Device == device && m.Stream == stream);

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
    }
}

internal static class Districts
{
    public static string Folder
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Campus.sln"))) dir = dir.Parent;
            return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("The repository root was not found."), "simulators", "districts");
        }
    }

    public static string SmallText => File.ReadAllText(Path.Combine(Folder, "small.yaml"));

    public static DistrictModel Small => DistrictLoader.Parse(SmallText, "small.yaml");

    public static DistrictModel Default => DistrictLoader.LoadFile(Path.Combine(Folder, "default.yaml"));

    public static async Task<MqttServer> EmbeddedBrokerAsync()
    {
        var server = new MqttServer(new MqttServerOptions { BindAddress = "127.0.0.1", Port = 0, AllowAnonymous = true });
        await server.StartAsync();
        return server;
    }
}
