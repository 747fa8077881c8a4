using System.Text;

namespace Campus.Contracts;

/// <summary>Subscription filters of the topic scheme.</summary>
public static class TopicFilters
{
    /// <summary>Everything of schema version 1: what the controller subscribes to.</summary>
    public const string All = "campus/v1/#";

    /// <summary>The filter a device subscribes to for its commands: <c>campus/v1/{school}/{room}/{kind}/{device}/cmd/+</c>.</summary>
    public static string DeviceCommands(string school, string room, DeviceKind kind, string device) =>
        DeviceTopic.Command(school, room, kind, device, "x").ToString()[..^1] + "+";
}

/// <summary>
/// Broker access control in Eclipse Mosquitto's <c>acl_file</c> format. The device rules are
/// <c>pattern</c> lines where <c>%c</c> is the client id; the broker must force client id = user name
/// (Mosquitto: <c>use_username_as_clientid true</c>), otherwise a device with valid credentials could pick
/// another device's id as its client id and write that device's topics.
/// </summary>
public static class BrokerAcl
{
    /// <summary>The per-device pattern lines: write own telemetry, status, event and command acks; read own commands.</summary>
    public static IReadOnlyList<string> DevicePatternLines { get; } =
    [
        "pattern write campus/v1/+/+/+/%c/telemetry",
        "pattern write campus/v1/+/+/+/%c/status",
        "pattern write campus/v1/+/+/+/%c/event",
        "pattern write campus/v1/+/+/+/%c/cmd/+/ack",
        "pattern read campus/v1/+/+/+/%c/cmd/+",
    ];

    /// <summary>
    /// A complete acl_file: the controller's user reads and writes <c>campus/v1/#</c>; every other
    /// authenticated client gets the device patterns only.
    /// </summary>
    public static string Build(string controllerUser)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(controllerUser);
        if (controllerUser.AsSpan().ContainsAny(" \t\r\n"))
        {
            throw new ArgumentException($"The controller user '{controllerUser}' contains white space, which acl_file cannot express.", nameof(controllerUser));
        }
        var sb = new StringBuilder();
        sb.Append("# Campus broker ACL (schema v1). Requires use_username_as_clientid true.\n");
        sb.Append("# Devices: own topics only (%c = client id = user name = device id).\n");
        foreach (var line in DevicePatternLines)
        {
            sb.Append(line).Append('\n');
        }
        sb.Append('\n');
        sb.Append("# The controller reads and writes everything of schema v1.\n");
        sb.Append("user ").Append(controllerUser).Append('\n');
        sb.Append("topic readwrite ").Append(TopicFilters.All).Append('\n');
        return sb.ToString();
    }
}
