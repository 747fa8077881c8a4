using Campus.Contracts;

namespace Campus.Controller.Services;

/// <summary>Sends commands to devices (controller -> device, QoS 1).</summary>
public interface ICommandPublisher
{
    /// <summary>Publishes the UTF-8 JSON of <paramref name="command"/> on <paramref name="topic"/>; retained per the command's name.</summary>
    ValueTask PublishAsync(DeviceTopic topic, DeviceCommand command, CancellationToken cancellationToken = default);
}

/// <summary>Makes command ids: short, unique per process and ordered.</summary>
internal static class CommandIds
{
    private static long _next = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public static string Next() => "c-" + Interlocked.Increment(ref _next).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
}
