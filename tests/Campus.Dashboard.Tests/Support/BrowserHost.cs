using Microsoft.Playwright;

namespace Campus.Dashboard.Tests.Support;

/// <summary>
/// A dashboard host and a headless Chromium (Debian's, through Playwright) for one browser test:
/// sign-in, screenshots under TestResults/screenshots at the repository root.
/// </summary>
public sealed class BrowserHost : IAsyncDisposable
{
    private static readonly string[] ChromiumArgs = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private BrowserHost(DashboardHost host, IPlaywright playwright, IBrowser browser)
    {
        Host = host;
        _playwright = playwright;
        _browser = browser;
    }

    public DashboardHost Host { get; }

    public static async Task<BrowserHost> StartAsync()
    {
        var host = await DashboardHost.StartAsync();
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ChromiumArgs });
        return new BrowserHost(host, playwright, browser);
    }

    /// <summary>Signs in through the form and waits until the page is interactive and follows its school live.</summary>
    public async Task<IPage> SignInAsync(string user, string page)
    {
        // "localhost" is a secure context, so the Secure sign-in cookie is kept over plain HTTP.
        var url = Host.Url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = url, ViewportSize = new ViewportSize { Width = 1400, Height = 1100 } });
        // Generous deadlines: the machine may be busy with other builds and browsers.
        context.SetDefaultTimeout(60_000);
        var p = await context.NewPageAsync();
        await p.GotoAsync("/login?returnUrl=" + Uri.EscapeDataString(page));
        await p.FillAsync("input[name=userName]", user);
        await p.FillAsync("input[name=password]", DashboardHost.Password);
        await p.ClickAsync("button[type=submit]");
        await p.WaitForURLAsync("**" + page, new PageWaitForURLOptions { Timeout = 60_000 });
        await p.Locator("[data-live=on]").WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
        return p;
    }

    public static string Screenshot(string name)
    {
        var dir = Path.Combine(RepositoryRoot(), "TestResults", "screenshots");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Campus.sln"))) return d.FullName;
        return AppContext.BaseDirectory;
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await Host.DisposeAsync();
    }
}
