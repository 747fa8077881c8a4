using System.CommandLine;
using Campus.Mqtt.Broker;

// The standalone Campus MQTT broker:
//   Campus.Mqtt.Broker --port 1883 [--bind 127.0.0.1] [--allow-anonymous] [--use-username-as-clientid] [--require-clientid-matches-username] [--password-file F] [--acl-file F]
//                      [--tls-port P --tls-cert F --tls-key F]
//   Campus.Mqtt.Broker passwd FILE USER PASSWORD
var root = BrokerCommands.CreateRootCommand();
// Ctrl+C and SIGTERM are handled by the host's console lifetime, which stops the broker cleanly.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
