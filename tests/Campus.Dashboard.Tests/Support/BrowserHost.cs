namespace Campus.Dashboard.Tests.Support;

/// <summary>A dashboard host and a headless Chromium (<see cref="Browser"/>) for one browser test.</summary>
public sealed class BrowserHost : IAsyncDisposable
{
    private readonly Browser _browser;

    private BrowserHost(DashboardHost host, Browser browser)
    {
        Host = host;
        _browser = browser;
    }

    public DashboardHost Host { get; }

    public static async Task<BrowserHost> StartAsync()
    {
        var host = await DashboardHost.StartAsync();
        return new BrowserHost(host, await Browser.StartAsync(host.Url));
    }

    /// <summary>Signs in with the test password and waits until the page is interactive and follows its school live.</summary>
    public Task<Microsoft.Playwright.IPage> SignInAsync(string user, string page) =>
        _browser.SignInAsync(user, DashboardHost.Password, page, waitForLive: true);

    public static string Screenshot(string name) => Browser.Screenshot(name);

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        await Host.DisposeAsync();
    }
}
