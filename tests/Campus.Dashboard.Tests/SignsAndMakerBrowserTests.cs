using System.Globalization;
using System.Text;
using System.Text.Json;
using Campus.Controller.History;
using Campus.Dashboard.Tests.Support;
using Campus.Testing;
using Microsoft.Playwright;

namespace Campus.Dashboard.Tests;

/// <summary>
/// The class-sign and maker-lab pages in a real browser (headless Chromium) against the real host
/// with its embedded broker; device messages come from mosquitto_pub with the devices' credentials.
/// </summary>
public sealed class SignsAndMakerBrowserTests : IAsyncLifetime
{
    private BrowserHost _browser = default!;
    private DashboardHost Host => _browser.Host;

    public async Task InitializeAsync() => _browser = await BrowserHost.StartAsync();

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    private static string TodayAtSchool() =>
        TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai")).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static async Task ExpectTextAsync(ILocator locator, string text) =>
        await Assertions.Expect(locator).ToContainTextAsync(text, new LocatorAssertionsToContainTextOptions { Timeout = 30_000 });

    [Fact]
    public async Task A_teacher_sends_a_rooms_timetable_and_notice_and_the_class_sign_topic_holds_both_retained()
    {
        var page = await _browser.SignInAsync("s01-teacher", "/signs");
        await page.GetByLabel("room", new PageGetByLabelOptions { Exact = true }).SelectOptionAsync("r101");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Add lesson" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Add lesson" }).ClickAsync();
        var rows = page.Locator("[data-testid=timetable] tbody tr");
        await rows.Nth(0).GetByLabel("subject").FillAsync("Physics");
        await rows.Nth(0).GetByLabel("teacher").FillAsync("Li Wei");
        await rows.Nth(0).GetByLabel("class").FillAsync("8B");
        await rows.Nth(1).GetByLabel("from").FillAsync("09:00");
        await rows.Nth(1).GetByLabel("to").FillAsync("09:45");
        await rows.Nth(1).GetByLabel("subject").FillAsync("Chemistry");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Send timetable to the sign" }).ClickAsync();
        await ExpectTextAsync(page.Locator("[role=status]"), "Timetable sent to g1");

        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Add notice" }).ClickAsync();
        await page.GetByLabel("notice").FillAsync("Sports day on Friday: no lessons after 12:00");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Send notices to the sign" }).ClickAsync();
        await ExpectTextAsync(page.Locator("[role=status]"), "Notices sent to g1");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHost.Screenshot("signs-timetable-and-notice-sent.png"), FullPage = true });

        // A subscriber that comes afterwards (the sign after a restart) gets both as retained messages.
        var (code, output, error) = await ExternalProcess.RunAsync("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", Host.MqttPort.ToString(CultureInfo.InvariantCulture), "-i", "g1", "-u", "g1", "-P", Host.Devices["g1"].MqttPassword,
             "-t", "campus/v1/s01/r101/sign/g1/cmd/+", "-C", "2", "-W", "30", "-F", "%r|%t|%p"], TimeSpan.FromSeconds(40));
        Assert.True(code == 0, $"mosquitto_sub failed ({code}): {error} {output}");
        var messages = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('|', 3)).ToDictionary(p => p[1], p => (Retained: p[0], Payload: p[2]));
        var timetable = messages["campus/v1/s01/r101/sign/g1/cmd/timetable"];
        Assert.Equal("1", timetable.Retained);
        using (var doc = JsonDocument.Parse(timetable.Payload))
        {
            Assert.Equal(TodayAtSchool(), doc.RootElement.GetProperty("date").GetString());
            Assert.Equal("Physics 101", doc.RootElement.GetProperty("room").GetString());
            var lessons = doc.RootElement.GetProperty("lessons").EnumerateArray().ToList();
            Assert.Equal(2, lessons.Count);
            Assert.Equal(("Physics", "Li Wei", "8B", $"{TodayAtSchool()}/1"), (lessons[0].GetProperty("subject").GetString(), lessons[0].GetProperty("teacher").GetString(), lessons[0].GetProperty("class").GetString(), lessons[0].GetProperty("id").GetString()));
            Assert.Equal(("Chemistry", 2, "09:00", "09:45"), (lessons[1].GetProperty("subject").GetString(), lessons[1].GetProperty("period").GetInt32(), lessons[1].GetProperty("from").GetString(), lessons[1].GetProperty("to").GetString()));
        }
        var notices = messages["campus/v1/s01/r101/sign/g1/cmd/notices"];
        Assert.Equal("1", notices.Retained);
        Assert.Contains("Sports day on Friday: no lessons after 12:00", notices.Payload, StringComparison.Ordinal);

        var audit = await Host.History.GetAuditLogAsync(new AuditLogQuery("s01", Actor: "s01-teacher"));
        Assert.Contains(audit.Items, a => a.Entry.Action == "sign.timetable" && a.Entry.Target == "r101");
        Assert.Contains(audit.Items, a => a.Entry.Action == "sign.notices" && a.Entry.Target == "r101");
    }

    [Fact]
    public async Task Card_taps_at_a_class_sign_show_up_live_as_attendance_of_the_lesson()
    {
        var page = await _browser.SignInAsync("s01-teacher", "/signs");
        await page.GetByLabel("room", new PageGetByLabelOptions { Exact = true }).SelectOptionAsync("r101");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Add lesson" }).ClickAsync();
        await page.Locator("[data-testid=timetable] tbody tr").Nth(0).GetByLabel("subject").FillAsync("Physics");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Send timetable to the sign" }).ClickAsync();
        await ExpectTextAsync(page.Locator("[role=status]"), "Timetable sent to g1");
        await ExpectTextAsync(page.Locator("main"), "No check-ins");

        // Ann Li (card 04AA0101) taps twice for period 1, an unknown card once for period 2.
        var lesson1 = $"{TodayAtSchool()}/1";
        var lesson2 = $"{TodayAtSchool()}/2";
        await Host.PublishAsync("s01", "r101", "sign", "g1", "event", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":{Now},\"type\":\"checkin\",\"card\":\"04AA0101\",\"lesson\":\"{lesson1}\"}}"));
        await Host.PublishAsync("s01", "r101", "sign", "g1", "event", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":2,\"ts\":{Now},\"type\":\"checkin\",\"card\":\"04AA0101\",\"lesson\":\"{lesson1}\"}}"));
        await Host.PublishAsync("s01", "r101", "sign", "g1", "event", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":3,\"ts\":{Now},\"type\":\"checkin\",\"card\":\"04BEEF01\",\"lesson\":\"{lesson2}\"}}"));

        var first = page.Locator($"[data-testid=attendance] .lesson[data-lesson='{lesson1}']");
        await ExpectTextAsync(first.Locator("h3"), "Period 1 · Physics 08:00-08:45");
        await ExpectTextAsync(first.Locator("h3"), "1 present");
        await ExpectTextAsync(first.Locator("tr.checkin"), "Ann Li");
        var second = page.Locator($"[data-testid=attendance] .lesson[data-lesson='{lesson2}']");
        await ExpectTextAsync(second.Locator("tr.checkin"), "unknown card");
        await ExpectTextAsync(second.Locator("tr.checkin"), "04BEEF01");
        Assert.Equal(1, await first.Locator("tr.checkin").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHost.Screenshot("signs-attendance-per-lesson.png"), FullPage = true });
        Assert.Equal(1, await page.EvaluateAsync<int>("performance.getEntriesByType('navigation').length"));

        // The API gives the same attendance.
        using var client = Host.Client();
        await client.SignInAsync("s01-teacher");
        var day = JsonDocument.Parse(await (await client.GetAsync($"/api/v1/schools/s01/rooms/r101/attendance?date={TodayAtSchool()}")).Content.ReadAsStringAsync()).RootElement;
        var lessons = day.GetProperty("lessons").EnumerateArray().ToList();
        Assert.Equal([lesson1, lesson2], lessons.Select(l => l.GetProperty("lesson").GetString()));
        Assert.Equal("p-s01", Assert.Single(lessons[0].GetProperty("checkIns").EnumerateArray().ToList()).GetProperty("person").GetString());
    }

    [Fact]
    public async Task A_maker_kits_readings_and_milestone_appear_live_on_the_maker_lab_page()
    {
        var page = await _browser.SignInAsync("s01-student", "/maker");
        var row = page.Locator("[data-testid=kits] tr.kit-row[data-kit=k1]");
        await ExpectTextAsync(row, "never");

        await Host.PublishAsync("s01", "r102", "maker", "k1", "telemetry", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":1,\"ts\":{Now},\"project\":\"p-2026-0042\",\"readings\":{{\"soil\":512,\"light\":730.5}}}}"));
        await ExpectTextAsync(row.Locator("td.readings"), "light 730.5 · soil 512");
        await ExpectTextAsync(row, "online");

        await Host.PublishAsync("s01", "r102", "maker", "k1", "event", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":2,\"ts\":{Now},\"type\":\"milestone\",\"project\":\"p-2026-0042\",\"milestone\":\"first-data\",\"detail\":\"soil sensor wired\"}}"));
        await Host.PublishAsync("s01", "r102", "maker", "k1", "telemetry", Encoding.UTF8.GetBytes($"{{\"v\":1,\"boot\":1,\"seq\":3,\"ts\":{Now},\"project\":\"p-2026-0042\",\"readings\":{{\"soil\":640}}}}"));
        await ExpectTextAsync(row.Locator("td.milestones"), "p-2026-0042 first-data soil sensor wired");
        await ExpectTextAsync(row.Locator("td.readings"), "soil 640");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHost.Screenshot("maker-kit-live-readings-and-milestone.png"), FullPage = true });
        Assert.Equal(1, await page.EvaluateAsync<int>("performance.getEntriesByType('navigation').length"));
        // A student sees who uses a kit but cannot assign one.
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Assign…" }).CountAsync());
    }

    [Fact]
    public async Task A_teacher_assigns_a_kit_to_a_team_and_student_and_the_maker_lab_page_shows_who_uses_it()
    {
        var page = await _browser.SignInAsync("s01-teacher", "/maker");
        var row = page.Locator("[data-testid=kits] tr.kit-row[data-kit=k1]");
        await ExpectTextAsync(row.Locator("td.users"), "free");
        await row.GetByRole(AriaRole.Button, new LocatorGetByRoleOptions { Name = "Assign…" }).ClickAsync();
        await page.GetByLabel("team").FillAsync("Green Sprouts");
        await page.GetByLabel("students").FillAsync("p-s01, p-s02");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Save kit users" }).ClickAsync();
        await ExpectTextAsync(page.Locator("[role=status]"), "'p-s02' is not a person of school s01.");
        await ExpectTextAsync(row.Locator("td.users"), "free");

        await page.GetByLabel("students").FillAsync("p-s01");
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Save kit users" }).ClickAsync();
        await ExpectTextAsync(row.Locator("td.users"), "Green Sprouts: Ann Li");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserHost.Screenshot("maker-kit-assigned.png"), FullPage = true });

        var audit = await Host.History.GetAuditLogAsync(new AuditLogQuery("s01", Actor: "s01-teacher"));
        Assert.Contains(audit.Items, a => a.Entry.Action == "maker.assign" && a.Entry.Target == "k1" && a.Entry.Details == "team=Green Sprouts students=p-s01");

        // Everyone of the maker lab sees it, the student included.
        var student = await _browser.SignInAsync("s01-student", "/maker");
        await ExpectTextAsync(student.Locator("[data-testid=kits] tr.kit-row[data-kit=k1] td.users"), "Green Sprouts: Ann Li");
    }
}
