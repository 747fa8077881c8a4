using Campus.Mqtt.Protocol;
using Campus.Mqtt.Server.Hosting;
using Campus.Mqtt.Server.Tests.Support;
using Campus.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Campus.Mqtt.Server.Tests;

public sealed class HostingTests
{
    [Fact]
    public async Task Hosted_broker_binds_its_options_from_the_mqtt_broker_section_and_stops_with_the_host()
    {
        var port = FreePort.Get();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mqtt:Broker:BindAddress"] = "127.0.0.1",
            ["Mqtt:Broker:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mqtt:Broker:AllowAnonymous"] = "true",
            ["Mqtt:Broker:MaxQueuedMessagesPerSession"] = "7",
        });
        builder.Services.AddCampusMqttBroker(builder.Configuration.GetSection(MqttServerOptions.SectionName));
        using var host = builder.Build();
        await host.StartAsync();
        var server = host.Services.GetRequiredService<MqttServer>();
        Assert.Equal(port, server.Port);
        Assert.Equal(7, server.Core.Options.MaxQueuedMessagesPerSession);

        await using var client = await RawMqttClient.ConnectAsync(port, "hosted");
        await client.PingAsync();
        await client.ExpectAsync(MqttPacketType.PingResp);

        await host.StopAsync();
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(server.IsStarted);
    }
}

public sealed class StartupTests
{
    [Fact]
    public async Task Start_on_a_port_in_use_fails_clearly_and_leaves_the_server_startable()
    {
        await using var first = await TestBroker.StartAsync();
        await using var second = new MqttServer(new MqttServerOptions { BindAddress = "127.0.0.1", Port = first.Port, AllowAnonymous = true });
        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => second.StartAsync());
        Assert.False(second.IsStarted);
    }

    [Fact]
    public void Options_without_any_endpoint_are_rejected_with_a_message_that_says_what_to_do()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build());
        Assert.Contains("TlsPort", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_acl_file_and_acl_rules_together_are_rejected()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new MqttServer(new MqttServerOptions { BindAddress = "127.0.0.1", Port = 0, AllowAnonymous = true, AclFile = "acl", AclRules = "topic read #" }));
        Assert.Contains("AclFile or AclRules, not both", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1023)]
    public void A_socket_send_buffer_below_1_KB_is_rejected(int bytes)
    {
        var e = Assert.Throws<InvalidOperationException>(() => new MqttServer(new MqttServerOptions { BindAddress = "127.0.0.1", Port = 0, AllowAnonymous = true, SocketSendBufferSize = bytes }));
        Assert.Contains("SocketSendBufferSize must be at least 1024", e.Message, StringComparison.Ordinal);
    }
}
