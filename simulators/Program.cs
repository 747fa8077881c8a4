using System.CommandLine;
using Campus.Simulators.Cli;

var root = new RootCommand("Campus simulators: a district of simulated devices running the real firmware, scenarios and a load generator.");
root.Subcommands.Add(Commands.District());
root.Subcommands.Add(Commands.Validate());
root.Subcommands.Add(Commands.GenerateDistrict());
return await root.Parse(args).InvokeAsync();
