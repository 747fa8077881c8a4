using System.Text.Json;
using System.Text.Json.Nodes;

namespace Campus.Benchmarks;

/// <summary>One benchmark command. Implementations are found by reflection.</summary>
internal interface IBenchmarkMode
{
    string Name { get; }
    string Description { get; }
    Task<int> RunAsync(string[] args);
}

/// <summary>Writes benchmark figures to bench/results/NAME.json at the repository root.</summary>
internal static class BenchResults
{
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Campus.sln"))) dir = dir.Parent;
        return dir?.FullName ?? Environment.CurrentDirectory;
    }

    public static string Write(string name, JsonObject figures)
    {
        figures["measuredAt"] = DateTimeOffset.UtcNow.ToString("O");
        figures["machine"] = new JsonObject
        {
            ["processorCount"] = Environment.ProcessorCount,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        };
        var dir = Path.Combine(RepositoryRoot(), "bench", "results");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name + ".json");
        File.WriteAllText(path, figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"figures written to {path}");
        return path;
    }
}
