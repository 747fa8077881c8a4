using System.Globalization;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;

namespace Campus.Mqtt.Server.Tests;

public sealed class LoadTests
{
    [Fact]
    public async Task A_thousand_concurrent_clients_exchange_qos1_messages_and_none_is_lost()
    {
        const int Clients = 1000;
        await using var server = await TestBroker.StartAsync();
        var factory = new MqttClientFactory();
        var clients = new IMqttClient[Clients];
        var received = new string?[Clients];
        var duplicates = 0;
        try
        {
            for (var batch = 0; batch < Clients; batch += 100)
            {
                var connects = new List<Task>();
                for (var i = batch; i < batch + 100; i++)
                {
                    var index = i;
                    var client = factory.CreateMqttClient();
                    client.ApplicationMessageReceivedAsync += e =>
                    {
                        if (Interlocked.CompareExchange(ref received[index], e.ApplicationMessage.ConvertPayloadToString(), null) is not null)
                            Interlocked.Increment(ref duplicates);
                        return Task.CompletedTask;
                    };
                    clients[i] = client;
                    connects.Add(client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", server.Port).WithClientId(Id(i)).Build()));
                }
                await Task.WhenAll(connects);
            }
            await Task.WhenAll(clients.Select((c, i) => c.SubscribeAsync(
                new MqttClientSubscribeOptionsBuilder().WithTopicFilter($"load/{Id(i)}/cmd", MqttQualityOfServiceLevel.AtLeastOnce).Build())));
            Assert.Equal(Clients, server.ConnectedClientCount);

            // Every client sends one QoS 1 message to the next one, all at once; each publish completes at PUBACK.
            await Task.WhenAll(clients.Select((c, i) => c.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"load/{Id((i + 1) % Clients)}/cmd").WithPayload($"from {Id(i)}").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build())));

            await Poll.UntilAsync(() => received.All(r => r is not null), $"all {Clients} clients received their message", TimeSpan.FromSeconds(60));
            for (var i = 0; i < Clients; i++)
                Assert.Equal($"from {Id((i + Clients - 1) % Clients)}", received[i]);
            Assert.Equal(0, Volatile.Read(ref duplicates));
        }
        finally
        {
            await Task.WhenAll(clients.Where(c => c is not null).Select(c => c.DisposeAsync().AsTask()));
        }

        static string Id(int i) => "dev-" + i.ToString("D4", CultureInfo.InvariantCulture);
    }
}
