using System.Text;
using System.Threading.Channels;
using Campus.Controller.History;
using Campus.Dashboard.Live;
using Campus.Dashboard.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Campus.Dashboard.Tests;

/// <summary>The security page's access feed is pushed by the door grains, not polled.</summary>
public sealed class LiveAccessFeedTests : IAsyncLifetime
{
    private DashboardHost _host = default!;

    public async Task InitializeAsync() => _host = await DashboardHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private byte[] AccessRequest(string door, uint seq, string card) =>
        _host.SignedDoorEvent(door, seq, $"\"type\":\"access-request\",\"req\":\"r{seq}\",\"card\":\"{card}\"");

    [Fact]
    public async Task A_card_tap_reaches_a_listener_of_its_school_after_its_entry_is_stored_and_not_one_of_another_school()
    {
        var hub = _host.Services.GetRequiredService<LiveHub>();
        var changes = Channel.CreateUnbounded<AccessChange>();
        var registration = await hub.ListenAccessAsync("s01", c => changes.Writer.TryWrite(c));
        Assert.Equal(1, hub.FollowedDoors("s01"));

        // A tap at s02's door first: were it delivered to s01's listener, it would arrive first.
        await _host.PublishAsync("s02", "r201", "door", "d2", "event", AccessRequest("d2", 1, "04BB0002"));
        await _host.PublishAsync("s01", "r101", "door", "d1", "event", AccessRequest("d1", 1, "04AA0001"));

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var change = await changes.Reader.ReadAsync(deadline.Token);
        Assert.Equal(("s01", "r101", "d1"), (change.School, change.Room, change.Door));
        var log = await _host.History.GetAccessLogAsync(new AccessLogQuery("s01", Page: new PageRequest(10)));
        var entry = Assert.Single(log.Items, e => e.Entry.Card == "04AA0001");
        Assert.Equal(("access-request", "denied", "d1"), (entry.Entry.EventType, entry.Entry.Result, entry.Entry.DoorId));

        await registration.DisposeAsync();
        Assert.Equal(0, hub.FollowedDoors("s01"));
    }

    [Fact]
    public async Task A_card_tap_appears_on_an_open_security_page_within_seconds_without_a_reload()
    {
        await using var browser = await Browser.StartAsync(_host.Url);
        var page = await browser.SignInAsync(DashboardHost.Accounts[Accounts.DashboardRole.Security], DashboardHost.Password, "/security");
        await page.Locator("[data-access-live=on]").WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });
        var tapped = page.Locator("[data-testid=access] tr.access-row", new PageLocatorOptions { HasText = "04C0FFEE" });
        Assert.Equal(0, await tapped.CountAsync());

        await _host.PublishAsync("s01", "r101", "door", "d1", "event", AccessRequest("d1", 7, "04C0FFEE"));

        // No timer reloads the feed any more: the row comes with a live notification.
        await tapped.WaitForAsync(new LocatorWaitForOptions { Timeout = 15_000 });
        await Assertions.Expect(tapped).ToContainTextAsync("denied");
        await Assertions.Expect(tapped).ToContainTextAsync("r101 / d1");
        Assert.Equal("1", await tapped.GetAttributeAsync("data-fresh"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Browser.Screenshot("security-access-feed-live.png"), FullPage = true });
        Assert.Equal(1, await page.EvaluateAsync<int>("performance.getEntriesByType('navigation').length"));
    }
}
