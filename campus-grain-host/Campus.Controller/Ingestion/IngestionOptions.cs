namespace Campus.Controller.Ingestion;

/// <summary>MQTT settings of the controller (section "Campus:Mqtt").</summary>
public sealed class CampusMqttOptions
{
    public const string SectionName = "Campus:Mqtt";

    /// <summary>
    /// True (default): run the embedded broker in this process and ingest inside its publish hook,
    /// so a device's PUBACK is sent only after the message's effect is durable. False: connect to
    /// an external broker (e.g. Mosquitto) as a client.
    /// </summary>
    public bool Embedded { get; set; } = true;

    /// <summary>Embedded broker: address and port to listen on (0 = a free port).</summary>
    public string BindAddress { get; set; } = "0.0.0.0";
    public int Port { get; set; } = 1883;

    /// <summary>Embedded broker: let clients without a device credential connect (development only).</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>Embedded broker: user names and passwords of non-device clients (dashboard, gateways, tools).</summary>
    public Dictionary<string, string> Users { get; set; } = new(StringComparer.Ordinal);

    /// <summary>External broker: where it is and how the controller logs in.</summary>
    public string Host { get; set; } = "127.0.0.1";
    public string ClientId { get; set; } = "campus-controller";
    public string? UserName { get; set; }
    public string? Password { get; set; }
}

/// <summary>Ingestion settings (section "Campus:Ingest").</summary>
public sealed class IngestOptions
{
    public const string SectionName = "Campus:Ingest";

    /// <summary>
    /// External broker: messages being processed at once on the connection. Processing runs
    /// concurrently across devices (each device grain keeps its own order); acknowledgements go
    /// back in arrival order through an ordered queue.
    /// </summary>
    public int MaxInFlight { get; set; } = 2000;

    /// <summary>External broker: the topic filter subscribed to.</summary>
    public string TopicFilter { get; set; } = "campus/v1/#";
}
