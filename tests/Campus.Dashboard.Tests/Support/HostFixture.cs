namespace Campus.Dashboard.Tests.Support;

/// <summary>One dashboard host shared by the tests of a collection (unique keys per test).</summary>
public sealed class HostFixture : IAsyncLifetime
{
    public DashboardHost Host { get; private set; } = default!;

    public async Task InitializeAsync() => Host = await DashboardHost.StartAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class HostCollection : ICollectionFixture<HostFixture>
{
    public const string Name = "dashboard host";
}
