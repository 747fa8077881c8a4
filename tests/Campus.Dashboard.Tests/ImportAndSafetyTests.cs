using System.Net;
using System.Net.Http.Json;
using System.Text;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Import;
using Campus.Dashboard.Tests.Support;

namespace Campus.Dashboard.Tests;

[Collection(HostCollection.Name)]
public sealed class ImportTests(HostFixture fixture)
{
    [Fact]
    public async Task Csv_import_saves_the_good_rows_and_reports_each_bad_row_with_its_line_and_reason()
    {
        var csv = """
            id,name,role,cards,zones
            imp-1,Li Wei,teacher,04A1B2C3,labs
            imp-2,,student,04A1B2C4,
            imp-3,Zhang San,janitor,04A1B2C5,
            imp-4,Wang Fang,student,XYZ,
            imp-5,Chen Jie,student,04A1B2C6;04A1B2C6A1B2C3,
            imp-6,Liu Yang,student,04A1B2C7,gym
            imp-1,Li Wei again,teacher,,
            imp-7,"Zhou, Min",staff,,

            """;
        using var client = fixture.Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[DashboardRole.SchoolAdmin]);
        using var response = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/people/import", new StringContent(csv, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<ImportReport>();
        Assert.NotNull(report);
        Assert.Equal(8, report.Rows);
        Assert.Equal(3, report.Imported);
        Assert.Equal(
            [(3, "imp-2", "name"), (4, "imp-3", "role"), (5, "imp-4", "Card"), (7, "imp-6", "Zone"), (8, "imp-1", "more than once")],
            report.Errors.Select(e => (e.Line, e.Id, Word(e.Reason))).ToList());
        Assert.NotNull(await fixture.Host.Registry.GetPerson("imp-1"));
        Assert.Equal(2, (await fixture.Host.Registry.GetPerson("imp-5"))!.Cards.Count);
        Assert.Equal("Zhou, Min", (await fixture.Host.Registry.GetPerson("imp-7"))!.Name);
        Assert.Null(await fixture.Host.Registry.GetPerson("imp-3"));
        Assert.Null(await fixture.Host.Registry.GetPerson("imp-6"));

        static string Word(string reason) => new[] { "name", "role", "Card", "Zone", "more than once" }.First(w => reason.Contains(w, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Csv_import_with_a_bad_card_reports_that_line_with_the_exact_reason_saves_the_rest_and_audits_the_import()
    {
        var u = Guid.NewGuid().ToString("N")[..8];
        var csv = $"id,name,role,cards,zones\nbad-{u}-1,Ma Chao,student,04A1B2D1,\nbad-{u}-2,Huang Zhong,teacher,04A1B2,\nbad-{u}-3,Wei Yan,staff,,\n";
        using var client = fixture.Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[DashboardRole.SchoolAdmin]);
        using var response = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/people/import", new StringContent(csv, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<ImportReport>();

        Assert.Equal((3, 2), (report!.Rows, report.Imported));
        Assert.Equal(new ImportError(3, $"bad-{u}-2", "Card '04A1B2' is not a UID of 8 or 14 hex digits."), Assert.Single(report.Errors));
        Assert.NotNull(await fixture.Host.Registry.GetPerson($"bad-{u}-1"));
        Assert.Null(await fixture.Host.Registry.GetPerson($"bad-{u}-2"));
        Assert.NotNull(await fixture.Host.Registry.GetPerson($"bad-{u}-3"));
        var audit = await fixture.Host.History.GetAuditLogAsync(new AuditLogQuery("s01", Actor: "s01-admin", Page: new PageRequest(1000)));
        Assert.Contains(audit.Items, a => a.Entry.Action == "people.import" && a.Entry.Details == "rows=3 imported=2 rejected=1");
        Assert.Contains(audit.Items, a => a.Entry.Action == "person.upsert" && a.Entry.Target == $"bad-{u}-3");
    }

    [Fact]
    public async Task Csv_import_saves_the_good_rows_in_one_call_and_reports_a_row_the_registry_refuses_at_its_line()
    {
        var csv = "id,name,role,cards,zones\nr-1,Ann,student,,\nr-2,Ben,role-x,,\nr-3,Cai,student,,\nr-4,Dai,student,,\n";
        var school = new SchoolSpec("s01", "s01", "Asia/Shanghai", new WeeklySchedule([]), []);
        var calls = new List<IReadOnlyList<PersonProfile>>();

        var report = await PeopleCsvImporter.ImportAsync(new StringReader(csv), school, people =>
        {
            calls.Add(people);
            // The registry refuses the second person it is given (r-3, line 4).
            return Task.FromResult(new PeopleUpsertResult(people.Count - 1, [new PersonRowError(1, people[1].Id, "School 's01' is not registered; register the school first.")]));
        });

        Assert.Equal(["r-1", "r-3", "r-4"], Assert.Single(calls).Select(p => p.Id));
        Assert.Equal((4, 2), (report.Rows, report.Imported));
        Assert.Equal([(3, "r-2"), (4, "r-3")], report.Errors.Select(e => (e.Line, e.Id)));
        Assert.Equal("School 's01' is not registered; register the school first.", report.Errors[1].Reason);
        Assert.StartsWith("Unknown role 'role-x'", report.Errors[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_import_without_the_required_header_imports_nothing_and_says_which_columns_are_missing()
    {
        using var client = fixture.Host.Client();
        await client.SignInAsync(DashboardHost.Accounts[DashboardRole.DistrictAdmin]);
        using var response = await client.SendAsync(HttpMethod.Post, "/api/v1/schools/s01/people/import", new StringContent("identifier,name\nz-1,Ann\n", Encoding.UTF8, "text/csv"));
        var report = await response.Content.ReadFromJsonAsync<ImportReport>();
        Assert.Equal(0, report!.Imported);
        Assert.Contains("id, role", Assert.Single(report.Errors).Reason, StringComparison.Ordinal);
        Assert.Null(await fixture.Host.Registry.GetPerson("z-1"));
    }
}

public sealed class SignInSafetyTests
{
    [Fact]
    public async Task Sign_in_attempts_beyond_the_limit_are_refused_with_429()
    {
        await using var host = await DashboardHost.StartAsync(loginPermitLimit: 3);
        using var client = host.Client();
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, await client.SignInAsync("s01-guard", "not-the-password"));
        Assert.Equal((HttpStatusCode)429, await client.SignInAsync("s01-guard"));
    }

    [Fact]
    public async Task The_sign_in_form_needs_an_antiforgery_token_and_the_cookie_is_secure_httponly_and_strict()
    {
        await using var host = await DashboardHost.StartAsync();
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = new Uri(host.Url) };
        using var forged = await http.PostAsync("/account/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["userName"] = "s01-guard", ["password"] = DashboardHost.Password }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);

        using var page = await http.GetAsync("/login");
        var html = await page.Content.ReadAsStringAsync();
        var token = System.Text.RegularExpressions.Regex.Match(html, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(token);
        var afCookie = page.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).Single(c => c.StartsWith("campus.af=", StringComparison.Ordinal));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/account/login")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["userName"] = "s01-guard", ["password"] = DashboardHost.Password, ["__RequestVerificationToken"] = token, ["returnUrl"] = "/security" }),
        };
        request.Headers.Add("Cookie", afCookie);
        using var signedIn = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/security", signedIn.Headers.Location?.OriginalString);
        var auth = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("campus.auth=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("secure", auth, StringComparison.Ordinal);
        Assert.Contains("httponly", auth, StringComparison.Ordinal);
        Assert.Contains("samesite=strict", auth, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_school_user_asking_for_another_schools_page_sees_not_found_and_none_of_its_data()
    {
        await using var host = await DashboardHost.StartAsync();
        using var client = host.Client();
        await client.SignInAsync("s01-guard");
        var html = await (await client.GetAsync("/security?school=s02")).Content.ReadAsStringAsync();
        Assert.Contains("School not found", html, StringComparison.Ordinal);
        Assert.DoesNotContain("South High School", html, StringComparison.Ordinal);
        var own = await (await client.GetAsync("/security")).Content.ReadAsStringAsync();
        Assert.Contains("Alerts", own, StringComparison.Ordinal);
        Assert.DoesNotContain("South High School", own, StringComparison.Ordinal);
        foreach (var page in new[] { "/?school=s02", "/facilities?school=s02", "/admin?school=s02", "/maker?school=s02" })
        {
            using var admin = host.Client();
            await admin.SignInAsync("s01-admin");
            var text = await (await admin.GetAsync(page)).Content.ReadAsStringAsync();
            Assert.DoesNotContain("South High School", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Chemistry 201", text, StringComparison.Ordinal);
        }
    }
}
