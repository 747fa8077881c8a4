using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Api;
using Campus.Dashboard.Tests.Support;
using Campus.Testing;
using Microsoft.Playwright;

namespace Campus.Dashboard.Tests;

/// <summary>District -> school -> building -> room through /api/v1: live sums per building, rooms by building, paging.</summary>
[Collection(HostCollection.Name)]
public sealed class BuildingTests(HostFixture fixture)
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private DashboardHost Host => fixture.Host;

    [Fact]
    public async Task Buildings_carry_their_rooms_live_power_devices_and_open_alerts_and_rooms_filter_by_building()
    {
        var u = Guid.NewGuid().ToString("N")[..8];
        string building = "bx-" + u, room = "rb-" + u, meter = "mb-" + u, door = "db-" + u;
        await Host.Registry.UpsertBuilding(new BuildingSpec("s01", building, "Annex " + u), "test");
        await Host.Registry.UpsertRoom(new RoomSpec("s01", room, "Workshop " + u, Building: building), "test");
        Host.Devices[meter] = await Host.Registry.CreateDevice(new DeviceSpec("s01", room, DeviceKind.Energy, meter), "test");
        Host.Devices[door] = await Host.Registry.CreateDevice(new DeviceSpec("s01", room, DeviceKind.Door, door), "test");
        using var client = Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[DashboardRole.Facilities]);

        await Host.PublishAsync("s01", room, "energy", meter, "telemetry", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()},\"energyKwh\":10.0,\"powerW\":1500}}"));
        await Host.PublishAsync("s01", room, "door", door, "event", Host.SignedDoorEvent(door, 1, "\"type\":\"forced\""));
        BuildingSummary? annex = null;
        await Poll.UntilAsync(async () =>
        {
            var page = await (await client.GetAsync($"/api/v1/schools/s01/buildings?q={building}")).Content.ReadFromJsonAsync<PageOf<BuildingSummary>>(Web);
            annex = page!.Items.SingleOrDefault();
            return annex is { PowerW: 1500, OpenAlerts: 1, DevicesOnline: 2 };
        }, "the annex sums its room's meter, door and forced-door alert", TimeSpan.FromSeconds(30));
        Assert.Equal(("Annex " + u, 1), (annex!.Name, annex.Rooms));

        var rooms = await (await client.GetAsync($"/api/v1/schools/s01/rooms?building={building}")).Content.ReadFromJsonAsync<PageOf<RoomSummary>>(Web);
        var only = Assert.Single(rooms!.Items);
        Assert.Equal((room, building, 1500.0, 1), (only.Id, only.Building, only.PowerW, only.OpenAlerts));
        var main = await (await client.GetAsync("/api/v1/schools/s01/rooms?building=main&limit=200")).Content.ReadFromJsonAsync<PageOf<RoomSummary>>(Web);
        Assert.Contains(main!.Items, r => r.Id == "r101");
        Assert.DoesNotContain(main.Items, r => r.Id == room);
        Assert.All(main.Items, r => Assert.Equal("main", r.Building));
        using var unknown = await client.GetAsync("/api/v1/schools/s01/rooms?building=no-such-building");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        var first = await (await client.GetAsync("/api/v1/schools/s01/buildings?limit=1")).Content.ReadFromJsonAsync<PageOf<BuildingSummary>>(Web);
        Assert.Single(first!.Items);
        Assert.True(first.Total >= 2, $"total {first.Total}");
        var second = await (await client.GetAsync("/api/v1/schools/s01/buildings?limit=1&offset=1")).Content.ReadFromJsonAsync<PageOf<BuildingSummary>>(Web);
        Assert.NotEqual(first.Items[0].Id, Assert.Single(second!.Items).Id);
    }
}

/// <summary>The overview page's building level in a real browser.</summary>
public sealed class OverviewBuildingBrowserTests : IAsyncLifetime
{
    private BrowserHost _browser = default!;

    public async Task InitializeAsync() => _browser = await BrowserHost.StartAsync();

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    [Fact]
    public async Task The_overview_shows_each_building_collapsible_with_its_rooms_and_live_power()
    {
        var host = _browser.Host;
        await host.Registry.UpsertBuilding(new BuildingSpec("s01", "north", "North wing"), "test");
        await host.Registry.UpsertRoom(new RoomSpec("s01", "n201", "Robotics 201", Building: "north"), "test");
        host.Devices["mn"] = await host.Registry.CreateDevice(new DeviceSpec("s01", "n201", DeviceKind.Energy, "mn"), "test");

        var page = await _browser.SignInAsync("s01-admin", "/");
        var north = page.Locator("[data-testid=buildings] tr.building-row[data-building=north]");
        await Assertions.Expect(north).ToContainTextAsync("North wing");
        await Assertions.Expect(page.Locator("[data-testid=buildings] tr.building-row[data-building=main]")).ToContainTextAsync("Main building");
        Assert.Equal(0, await page.Locator("tr.building-rooms[data-building=north]").CountAsync());

        await north.Locator("button.toggle").ClickAsync();
        var inside = page.Locator("tr.building-rooms[data-building=north] tr.room-row");
        await Assertions.Expect(inside).ToHaveCountAsync(1);
        await Assertions.Expect(inside).ToContainTextAsync("Robotics 201");

        await host.PublishAsync("s01", "n201", "energy", "mn", "telemetry", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()},\"energyKwh\":5.0,\"powerW\":2250}}"));
        await Assertions.Expect(north.Locator("td.power")).ToHaveTextAsync("2.25 kW", new LocatorAssertionsToHaveTextOptions { Timeout = 30_000 });
        await Assertions.Expect(inside.Locator("td.power")).ToHaveTextAsync("2.25 kW", new LocatorAssertionsToHaveTextOptions { Timeout = 30_000 });
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHost.Screenshot("overview-buildings.png"), FullPage = true });

        await north.Locator("button.toggle").ClickAsync();
        await Assertions.Expect(page.Locator("tr.building-rooms[data-building=north]")).ToHaveCountAsync(0);
        Assert.Equal(1, await page.EvaluateAsync<int>("performance.getEntriesByType('navigation').length"));
    }
}
