using System.Globalization;
using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Tests.Support;

namespace Campus.Mqtt.Server.Tests;

public sealed class LoadTests
{
    [Fact]
    public async Task A_thousand_concurrent_clients_exchange_qos1_messages_and_none_is_lost()
    {
        const int Clients = 1000;
        await using var server = await TestBroker.StartAsync();
        var clients = new RawMqttClient[Clients];
        try
        {
            for (var batch = 0; batch < Clients; batch += 100)
            {
                var connects = new Task<RawMqttClient>[100];
                for (var i = 0; i < 100; i++)
                    connects[i] = RawMqttClient.ConnectAsync(server.Port, Id(batch + i));
                var done = await Task.WhenAll(connects);
                done.CopyTo(clients, batch);
            }
            await Task.WhenAll(clients.Select((c, i) => c.SubscribeAsync(1, ($"load/{Id(i)}/cmd", MqttQualityOfServiceLevel.AtLeastOnce))));
            Assert.Equal(Clients, server.ConnectedClientCount);

            // Every client sends one QoS 1 message to the next one, all at once.
            var exchanges = clients.Select(async (c, i) =>
            {
                var to = (i + 1) % Clients;
                await c.PublishAsync($"load/{Id(to)}/cmd", $"from {Id(i)}", MqttQualityOfServiceLevel.AtLeastOnce, packetId: 1);
                string? got = null;
                var acked = false;
                while (got is null || !acked)
                {
                    var p = await c.ReceiveAsync(TimeSpan.FromSeconds(30));
                    if (p.Type == MqttPacketType.PubAck) acked = true;
                    else if (p.Type == MqttPacketType.Publish)
                    {
                        Assert.Null(got); // exactly one message each
                        got = p.PayloadText;
                        await c.SendAckAsync(MqttPacketType.PubAck, p.PacketIdentifier);
                    }
                }
                return got;
            }).ToArray();
            var received = await Task.WhenAll(exchanges);

            for (var i = 0; i < Clients; i++)
                Assert.Equal($"from {Id((i + Clients - 1) % Clients)}", received[i]);
        }
        finally
        {
            await Task.WhenAll(clients.Where(c => c is not null).Select(c => c.DisposeAsync().AsTask()));
        }

        static string Id(int i) => "dev-" + i.ToString("D4", CultureInfo.InvariantCulture);
    }
}
