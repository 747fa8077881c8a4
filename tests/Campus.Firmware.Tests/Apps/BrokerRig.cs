using Campus.Mqtt.Server;
using Campus.Simulators.Chips;
using Campus.Testing;

namespace Campus.Firmware.Tests.Apps;

/// <summary>The broker an end-to-end test runs against.</summary>
public enum BrokerKind
{
    /// <summary>Eclipse Mosquitto on a free port (persistent sessions across a restart).</summary>
    Mosquitto,

    /// <summary>The embedded Campus broker (<see cref="MqttServer"/>) in the test process; a restart starts it empty.</summary>
    Embedded,
}

/// <summary>A broker the rig can stop and start again on the same port.</summary>
internal interface IRigBroker : IAsyncDisposable
{
    string Host { get; }

    int Port { get; }

    Task StopAsync();

    Task StartAgainAsync();
}

/// <summary>
/// A broker (a real Mosquitto or the embedded one, on a free port) with the test's controller
/// connected to it, and MQTT client ports (the M2Mqtt-shaped adapter over the Campus client) for devices.
/// </summary>
internal sealed class BrokerRig : IAsyncDisposable
{
    private BrokerRig(IRigBroker broker, BrokerControllerLink controller)
    {
        Broker = broker;
        Controller = controller;
        if (broker is EmbeddedBroker embedded)
        {
            // Mosquitto keeps the controller's persistent session over a restart; the embedded
            // broker starts empty, so a restart returns once the controller listens again.
            embedded.AfterRestart = controller.WaitUntilSubscribedAsync;
        }
    }

    public IRigBroker Broker { get; }

    public BrokerControllerLink Controller { get; }

    public static async Task<BrokerRig> StartAsync(BrokerKind kind = BrokerKind.Mosquitto)
    {
        IRigBroker broker = kind == BrokerKind.Embedded
            ? await EmbeddedBroker.StartAsync()
            : new MosquittoBroker(await MosquittoServer.StartAsync());
        try
        {
            var controller = await BrokerControllerLink.ConnectAsync(broker.Host, broker.Port);
            return new BrokerRig(broker, controller);
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    public MqttClientAdapter DeviceClient() => new(Broker.Host, Broker.Port, TimeSpan.FromSeconds(5));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Controller.DisposeAsync();
        }
        finally
        {
            await Broker.DisposeAsync();
        }
    }

    private sealed class MosquittoBroker(MosquittoServer server) : IRigBroker
    {
        public string Host => server.Host;

        public int Port => server.Port;

        public Task StopAsync() => server.StopAsync();

        public Task StartAgainAsync() => server.StartAgainAsync();

        public ValueTask DisposeAsync() => server.DisposeAsync();
    }

    private sealed class EmbeddedBroker : IRigBroker
    {
        private readonly MqttServerOptions _options;
        private MqttServer _server;

        private EmbeddedBroker(MqttServerOptions options, MqttServer server)
        {
            _options = options;
            _server = server;
        }

        public string Host => _options.BindAddress;

        public int Port => _options.Port;

        public Func<Task>? AfterRestart { get; set; }

        public static async Task<EmbeddedBroker> StartAsync()
        {
            var options = new MqttServerOptions { BindAddress = "127.0.0.1", Port = FreePort.Get(), AllowAnonymous = true };
            var server = new MqttServer(options);
            await server.StartAsync();
            return new EmbeddedBroker(options, server);
        }

        public Task StopAsync() => _server.StopAsync();

        public async Task StartAgainAsync()
        {
            await _server.DisposeAsync();
            _server = new MqttServer(_options);
            await _server.StartAsync();
            if (AfterRestart is not null) await AfterRestart();
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }
}
