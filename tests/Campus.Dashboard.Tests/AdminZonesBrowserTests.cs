using Campus.Dashboard.Tests.Support;
using Microsoft.Playwright;

namespace Campus.Dashboard.Tests;

/// <summary>The admin page's access-zone editor in a real browser.</summary>
public sealed class AdminZonesBrowserTests : IAsyncLifetime
{
    private BrowserHost _browser = default!;

    public async Task InitializeAsync() => _browser = await BrowserHost.StartAsync();

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    private static Task ExpectAsync(ILocator locator, string text) =>
        Assertions.Expect(locator).ToContainTextAsync(text, new LocatorAssertionsToContainTextOptions { Timeout = 30_000 });

    [Fact]
    public async Task An_admin_creates_a_zone_with_a_weekly_window_fixes_a_bad_window_assigns_it_and_deletes_it()
    {
        var page = await _browser.SignInAsync("s01-admin", "/admin");
        var status = page.Locator("[role=status]");
        await page.GetByLabel("zone id", new PageGetByLabelOptions { Exact = true }).FillAsync("music");
        await page.GetByLabel("zone rooms", new PageGetByLabelOptions { Exact = true }).FillAsync("r101");
        var window = page.Locator(".window-row").Nth(0);
        await window.GetByLabel("Fri", new LocatorGetByLabelOptions { Exact = true }).UncheckAsync();
        await window.GetByLabel("Sat", new LocatorGetByLabelOptions { Exact = true }).CheckAsync();
        await window.GetByLabel("to", new LocatorGetByLabelOptions { Exact = true }).FillAsync("06:30");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Save zone", Exact = true }).ClickAsync();
        await ExpectAsync(status, "The window must end after it starts: 07:00-06:30.");
        Assert.Equal(0, await page.Locator("tr.zone-row[data-zone=music]").CountAsync());

        await window.GetByLabel("to", new LocatorGetByLabelOptions { Exact = true }).FillAsync("12:00");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Save zone", Exact = true }).ClickAsync();
        await ExpectAsync(status, "Zone music saved");
        var row = page.Locator("tr.zone-row[data-zone=music]");
        await ExpectAsync(row.Locator("td.schedule"), "Mo Tu We Th Sa 07:00-12:00");
        await ExpectAsync(row, "d1");

        await page.Locator("tr.person-row[data-person=p-s01]").GetByRole(AriaRole.Button, new LocatorGetByRoleOptions { Name = "Zones…" }).ClickAsync();
        // The pick fills both fields in one render over the circuit; typing before it arrives would be overwritten.
        await Assertions.Expect(page.GetByLabel("person id", new PageGetByLabelOptions { Exact = true })).ToHaveValueAsync("p-s01", new LocatorAssertionsToHaveValueOptions { Timeout = 30_000 });
        await page.GetByLabel("person zones", new PageGetByLabelOptions { Exact = true }).FillAsync("music");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Save zones of person" }).ClickAsync();
        await ExpectAsync(status, "Zones of p-s01: music.");
        await ExpectAsync(page.Locator("tr.person-row[data-person=p-s01] td.zones"), "music");
        await ExpectAsync(row, "Mo Tu We Th Sa 07:00-12:00");
        var grant = Assert.Single((await _browser.Host.Registry.GetPerson("p-s01"))!.Zones);
        Assert.Equal(("music", "12346", new TimeOnly(7, 0), new TimeOnly(12, 0)), (grant.Zone, grant.Schedule.Windows[0].Days, grant.Schedule.Windows[0].From, grant.Schedule.Windows[0].To));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHost.Screenshot("admin-access-zones.png"), FullPage = true });

        await row.GetByRole(AriaRole.Button, new LocatorGetByRoleOptions { Name = "Delete" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new LocatorGetByRoleOptions { Name = "Yes, delete music" }).ClickAsync();
        await ExpectAsync(status, "Zone music deleted.");
        await Assertions.Expect(row).ToHaveCountAsync(0);
        Assert.Empty((await _browser.Host.Registry.GetPerson("p-s01"))!.Zones);
        Assert.Equal(1, await page.EvaluateAsync<int>("performance.getEntriesByType('navigation').length"));
    }
}
