using System.Text;
using Campus.Dashboard.Tests.Support;
using Campus.Testing;
using Microsoft.Playwright;

namespace Campus.Dashboard.Tests;

/// <summary>
/// A real browser (Debian's Chromium, headless, through Playwright) against the real host on
/// Kestrel. Screenshots go to TestResults/screenshots at the repository root.
/// </summary>
public sealed class BrowserTests : IAsyncLifetime
{
    private BrowserHost _browser = default!;

    public async Task InitializeAsync() => _browser = await BrowserHost.StartAsync();

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    private Task<IPage> SignInAsync(string user, string page) => _browser.SignInAsync(user, page);

    private static string Screenshot(string name) => Browser.Screenshot(name);

    [Fact]
    public async Task Security_sees_a_forced_door_alert_appear_live_acknowledges_it_and_finds_it_in_the_audit_log()
    {
        var page = await SignInAsync("s01-guard", "/security");
        Assert.Equal(0, await page.Locator("tr.alert-row").CountAsync());

        await _browser.Host.PublishAsync("s01", "r101", "door", "d1", "event", _browser.Host.SignedDoorEvent("d1", 1, "\"type\":\"forced\""));

        var row = page.Locator("tr.alert-row[data-type=DoorForced]");
        await row.WaitForAsync(new LocatorWaitForOptions { Timeout = 20_000 });
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Screenshot("security-forced-door-alert.png"), FullPage = true });

        await row.Locator("input.note").FillAsync("checked on camera");
        await row.Locator("button", new LocatorLocatorOptions { HasText = "Acknowledge" }).ClickAsync();
        await Assertions.Expect(row.Locator("td.status")).ToHaveTextAsync("Acknowledged", new LocatorAssertionsToHaveTextOptions { Timeout = 15_000 });
        var audit = page.Locator("[data-testid=audit] tr.audit-row", new PageLocatorOptions { HasText = "alert.acknowledge" });
        await Assertions.Expect(audit).ToContainTextAsync("s01-guard", new LocatorAssertionsToContainTextOptions { Timeout = 15_000 });
        await Assertions.Expect(audit).ToContainTextAsync("checked on camera");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Screenshot("security-alert-acknowledged-audit.png"), FullPage = true });
        Assert.Equal(1, await page.EvaluateAsync<int>("performance.getEntriesByType('navigation').length"));
    }

    [Fact]
    public async Task Facilities_sees_the_energy_chart_drawn_with_data()
    {
        var now = DateTimeOffset.UtcNow;
        var readings = new[] { (1u, 100.0, now.AddSeconds(-20)), (2u, 100.6, now.AddSeconds(-10)), (3u, 101.5, now) };
        foreach (var (seq, kwh, at) in readings)
        {
            var json = $"{{\"v\":1,\"boot\":1,\"seq\":{seq},\"ts\":{at.ToUnixTimeMilliseconds()},\"energyKwh\":{kwh.ToString(System.Globalization.CultureInfo.InvariantCulture)},\"powerW\":{(800 + seq * 50).ToString(System.Globalization.CultureInfo.InvariantCulture)}}}";
            await _browser.Host.PublishAsync("s01", "r101", "energy", "m1", "telemetry", Encoding.UTF8.GetBytes(json));
        }
        await Poll.UntilAsync(async () => (await _browser.Host.History.GetTelemetryAsync(new Controller.History.TelemetryQuery("s01", "m1", now.AddHours(-1), now.AddHours(1)))).Items.Count == 3,
            "the three readings are stored");

        var page = await SignInAsync("s01-facilities", "/facilities");
        var bars = page.Locator("[data-testid=energy-chart] rect.bar");
        await Assertions.Expect(bars.First).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 15_000 });
        var points = await page.Locator("[data-testid=energy-chart]").First.GetAttributeAsync("data-points");
        Assert.True(int.Parse(points!, System.Globalization.CultureInfo.InvariantCulture) >= 1, $"chart points: {points}");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("Total 1.50 kWh");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Screenshot("facilities-energy-chart.png"), FullPage = true });
    }
}
