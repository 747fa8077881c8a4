using System.Text.Json;

namespace Campus.Firmware.Tests.Apps;

/// <summary>The test's side of MQTT: what the devices published, and a way to send them commands.</summary>
internal interface IControllerLink : IAsyncDisposable
{
    IReadOnlyList<PublishedMessage> Received { get; }

    Task SendAsync(string topic, string payload, bool retain = false);
}

internal static class ControllerLinkExtensions
{
    public static IReadOnlyList<PublishedMessage> On(this IControllerLink link, string topicEnd) =>
        link.Received.Where(m => m.Topic.EndsWith(topicEnd, StringComparison.Ordinal)).ToArray();

    /// <summary>The device's events of <paramref name="type"/>, parsed, oldest first.</summary>
    public static JsonElement[] Events(this IControllerLink link, string type) =>
        link.On("/event").Select(m => JsonDocument.Parse(m.Payload).RootElement)
            .Where(e => e.GetProperty("type").GetString() == type).ToArray();

    public static JsonElement[] Telemetry(this IControllerLink link) =>
        link.On("/telemetry").Select(m => JsonDocument.Parse(m.Payload).RootElement).ToArray();
}

/// <summary>The controller side over <see cref="FakeMqttClient"/>: no broker in between.</summary>
internal sealed class FakeControllerLink(FakeMqttClient device) : IControllerLink
{
    public IReadOnlyList<PublishedMessage> Received => device.Published;

    public Task SendAsync(string topic, string payload, bool retain = false)
    {
        device.Deliver(topic, payload, retain);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
