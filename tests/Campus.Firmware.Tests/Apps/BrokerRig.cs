using Campus.Simulators.Chips;
using Campus.Testing;

namespace Campus.Firmware.Tests.Apps;

/// <summary>
/// A real broker (Eclipse Mosquitto on a free port) with the test's controller connected to it, and
/// MQTT client ports (the M2Mqtt-shaped adapter over the Campus client) for devices.
/// </summary>
internal sealed class BrokerRig : IAsyncDisposable
{
    private BrokerRig(MosquittoServer broker, BrokerControllerLink controller)
    {
        Broker = broker;
        Controller = controller;
    }

    public MosquittoServer Broker { get; }

    public BrokerControllerLink Controller { get; }

    public static async Task<BrokerRig> StartAsync()
    {
        var broker = await MosquittoServer.StartAsync();
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
}
