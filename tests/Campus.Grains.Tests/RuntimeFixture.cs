using Campus.Grains.Testing;

namespace Campus.Grains.Tests;

/// <summary>One runtime shared by a test class; tests use their own keys.</summary>
public sealed class RuntimeFixture : IAsyncLifetime
{
    public Probe Probe { get; } = new();
    public TestGrainRuntime Runtime { get; private set; } = null!;
    public IGrainFactory Grains => Runtime.GrainFactory;

    public async Task InitializeAsync() =>
        Runtime = await TestGrainRuntime.StartAsync(s => s.AddSingleton(Probe).AddGrainsFromAssembly(typeof(RuntimeFixture).Assembly).AddMemoryGrainStorage("store"));

    public async Task DisposeAsync() => await Runtime.DisposeAsync();
}

internal static class Keys
{
    public static string New(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];
}
