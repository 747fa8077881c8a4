using System.CommandLine;
using Campus.Mqtt.Server;
using Campus.Mqtt.Server.Hosting;
using Campus.Mqtt.Server.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Campus.Mqtt.Broker;

/// <summary>The command line: run the broker, or add a user to a password file.</summary>
internal static class BrokerCommands
{
    public static RootCommand CreateRootCommand()
    {
        var port = new Option<int>("--port", "-p") { Description = "TCP port for plain MQTT.", DefaultValueFactory = _ => 1883 };
        var bind = new Option<string>("--bind") { Description = "Address to listen on.", DefaultValueFactory = _ => "0.0.0.0" };
        var allowAnonymous = new Option<bool>("--allow-anonymous") { Description = "Accept clients without a user name." };
        var usernameAsClientId = new Option<bool>("--use-username-as-clientid") { Description = "Use each authenticated client's user name as its client id." };
        var requireMatch = new Option<bool>("--require-clientid-matches-username") { Description = "Refuse (0x02) a CONNECT whose client id differs from its user name (users with an ACL 'user' section exempt)." };
        var passwordFile = new Option<FileInfo?>("--password-file") { Description = "Password file in mosquitto_passwd format." };
        var aclFile = new Option<FileInfo?>("--acl-file") { Description = "ACL file in Mosquitto's acl_file format." };
        var tlsPort = new Option<int?>("--tls-port") { Description = "TCP port for MQTT over TLS." };
        var tlsCert = new Option<FileInfo?>("--tls-cert") { Description = "PEM certificate (chain) for the TLS port." };
        var tlsKey = new Option<FileInfo?>("--tls-key") { Description = "PEM private key for the TLS port." };
        var maxPacket = new Option<int?>("--max-packet-size") { Description = "Largest accepted packet in bytes." };
        var maxQueued = new Option<int?>("--max-queued-messages") { Description = "QoS 1/2 messages kept per session." };
        var inlineCompletions = new Option<bool?>("--inline-socket-completions")
        {
            Description = "Run socket completions on the socket engine's threads, not the thread pool (default true; Linux).",
        };

        var root = new RootCommand("Campus MQTT 3.1.1 broker.")
        {
            port, bind, allowAnonymous, usernameAsClientId, requireMatch, passwordFile, aclFile, tlsPort, tlsCert, tlsKey, maxPacket, maxQueued,
            inlineCompletions,
        };
        root.Validators.Add(result =>
        {
            if (result.GetValue(tlsPort) is not null && (result.GetValue(tlsCert) is null || result.GetValue(tlsKey) is null))
                result.AddError("--tls-port needs --tls-cert and --tls-key.");
        });
        root.SetAction(async (parse, cancellationToken) =>
        {
            // Precedence: built-in defaults < appsettings.json ("Mqtt:Broker") < environment < flags given.
            var given = new Dictionary<string, string?>();
            void Given<T>(Option<T> option, string key, Func<T, string?> format)
            {
                if (parse.GetResult(option) is { Implicit: false }) given[$"Mqtt:Broker:{key}"] = format(parse.GetValue(option)!);
            }
            static string Invariant(int v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Given(port, "Port", Invariant);
            Given(bind, "BindAddress", v => v);
            Given(allowAnonymous, "AllowAnonymous", v => v ? "true" : "false");
            Given(usernameAsClientId, "UseUsernameAsClientId", v => v ? "true" : "false");
            Given(requireMatch, "RequireClientIdMatchesUsername", v => v ? "true" : "false");
            Given(passwordFile, "PasswordFile", v => v?.FullName);
            Given(aclFile, "AclFile", v => v?.FullName);
            Given(tlsPort, "TlsPort", v => v is { } p ? Invariant(p) : null);
            Given(tlsCert, "TlsCertificateFile", v => v?.FullName);
            Given(tlsKey, "TlsKeyFile", v => v?.FullName);
            Given(maxPacket, "MaxPacketSize", v => v is { } p ? Invariant(p) : null);
            Given(maxQueued, "MaxQueuedMessagesPerSession", v => v is { } p ? Invariant(p) : null);
            if (parse.GetValue(inlineCompletions) is { } inline) given["Mqtt:InlineSocketCompletions"] = inline ? "true" : "false";
            var defaults = new Dictionary<string, string?>
            {
                ["Mqtt:Broker:Port"] = "1883",
                ["Mqtt:Broker:BindAddress"] = "0.0.0.0",
            };
            return await RunBrokerAsync(defaults, given, cancellationToken);
        });

        var file = new Argument<FileInfo>("FILE") { Description = "Password file (created when missing)." };
        var user = new Argument<string>("USER") { Description = "User name." };
        var password = new Argument<string>("PASSWORD") { Description = "Password; stored as a salted PBKDF2-SHA512 hash." };
        var passwd = new Command("passwd", "Add or replace a user in a mosquitto_passwd-format file.") { file, user, password };
        passwd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!.FullName;
            PasswordFile.AddOrReplace(path, parse.GetValue(user)!, parse.GetValue(password)!);
            Console.WriteLine($"{parse.GetValue(user)} written to {path}");
            return 0;
        });
        root.Subcommands.Add(passwd);
        return root;
    }

    private static async Task<int> RunBrokerAsync(Dictionary<string, string?> defaults, Dictionary<string, string?> given, CancellationToken cancellationToken)
    {
        // appsettings.json next to the program (a "Mqtt:Broker" section there sets any option).
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = defaults });
        builder.Configuration.AddInMemoryCollection(given.Where(kv => kv.Value is not null));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        // Before the host opens any socket (option Mqtt:InlineSocketCompletions, default true).
        var inline = InlineSocketCompletions.Apply(builder.Configuration.GetValue("Mqtt:InlineSocketCompletions", defaultValue: true));
        builder.Services.AddCampusMqttBroker(builder.Configuration.GetSection(MqttServerOptions.SectionName));
        using var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException or System.Net.Sockets.SocketException or Microsoft.Extensions.Options.OptionsValidationException or System.Security.Cryptography.CryptographicException)
        {
            Console.Error.WriteLine($"The broker could not start: {e.Message}");
            return 1;
        }
        var server = host.Services.GetRequiredService<MqttServer>();
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MqttServerOptions>>().Value;
        Console.WriteLine($"Campus MQTT broker listening on {options.BindAddress}:{server.Port}" +
            (server.TlsPort != 0 ? $" and {options.BindAddress}:{server.TlsPort} (TLS)" : "") +
            (inline ? ", socket completions inline" : ", socket completions on the thread pool") + "; Ctrl+C stops it.");
        await host.WaitForShutdownAsync(CancellationToken.None);
        return 0;
    }
}
