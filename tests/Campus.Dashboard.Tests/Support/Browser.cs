using Microsoft.Playwright;

namespace Campus.Dashboard.Tests.Support;

/// <summary>
/// Debian's Chromium, headless, through Playwright, for the browser tests of a host. The browser
/// uses "localhost" (a secure context), so the Secure sign-in cookie is kept over plain HTTP.
/// Screenshots go to TestResults/screenshots at the repository root.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    private static readonly string[] ChromiumArgs = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly string _url;

    private Browser(IPlaywright playwright, IBrowser browser, string url)
    {
        _playwright = playwright;
        _browser = browser;
        _url = url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
    }

    public static async Task<Browser> StartAsync(string hostUrl)
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ChromiumArgs });
        return new Browser(playwright, browser, hostUrl);
    }

    /// <summary>
    /// Signs in through the sign-in form and waits for <paramref name="page"/>; with
    /// <paramref name="waitForLive"/>, also until the page is interactive and follows its school live.
    /// </summary>
    public async Task<IPage> SignInAsync(string user, string password, string page, bool waitForLive = false)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = _url, ViewportSize = new ViewportSize { Width = 1400, Height = 1100 } });
        // Generous deadlines: the machine may be busy with other builds and browsers.
        context.SetDefaultTimeout(60_000);
        var p = await context.NewPageAsync();
        await p.GotoAsync("/login?returnUrl=" + Uri.EscapeDataString(page));
        await p.FillAsync("input[name=userName]", user);
        await p.FillAsync("input[name=password]", password);
        await p.ClickAsync("button[type=submit]");
        try
        {
            await p.WaitForURLAsync("**" + page, new PageWaitForURLOptions { Timeout = 60_000 });
        }
        catch (TimeoutException e)
        {
            // Say where the browser stands and keep a picture of it, so that a rare stall can be told apart from a refusal.
            var shot = Screenshot($"sign-in-stalled-{user}-{DateTime.UtcNow:HHmmss}.png");
            string text;
            try
            {
                await p.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true, Timeout = 10_000 });
                text = await p.Locator("body").InnerTextAsync(new LocatorInnerTextOptions { Timeout = 10_000 });
            }
            catch (Exception inner) when (inner is PlaywrightException or TimeoutException)
            {
                text = $"(the page could not be read: {inner.Message})";
            }
            throw new TimeoutException(
                $"Signing in as {user} did not reach {page} within 60 s; the browser is at {p.Url} showing: {text[..Math.Min(text.Length, 300)]} (screenshot {shot})", e);
        }
        if (waitForLive) await p.Locator("[data-live=on]").WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
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
    }
}
