using System.Reflection;
using Campus.Benchmarks;

// Benchmarks: `dotnet run -c Release --project tests/Campus.Benchmarks -- MODE [options]`.
// Each mode is a class implementing IBenchmarkMode; figures go to bench/results/MODE.json.
// The host runs with socket completions inline by default (Campus:Host:InlineSocketCompletions); the bench
// process, its bare-broker child and the host it starts run the same way. Must be set before any socket is used.
Campus.Mqtt.Server.Hosting.InlineSocketCompletions.Apply(true);

var modes = typeof(IBenchmarkMode).Assembly.GetTypes()
    .Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(IBenchmarkMode).IsAssignableFrom(t))
    .Select(t => (IBenchmarkMode)Activator.CreateInstance(t)!)
    .OrderBy(m => m.Name, StringComparer.Ordinal)
    .ToList();

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: dotnet run -c Release --project tests/Campus.Benchmarks -- MODE [options]");
    foreach (var m in modes) Console.WriteLine($"  {m.Name,-12} {m.Description}");
    return args.Length == 0 ? 2 : 0;
}

var mode = modes.FirstOrDefault(m => string.Equals(m.Name, args[0], StringComparison.OrdinalIgnoreCase));
if (mode is null)
{
    Console.Error.WriteLine($"unknown mode '{args[0]}'; known: {string.Join(", ", modes.Select(m => m.Name))}");
    return 2;
}
return await mode.RunAsync(args[1..]);
