using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Campus.Controller.Hosting;
using Campus.Testing;
using Xunit.Abstractions;

namespace Campus.Controller.Tests.EndToEnd;

/// <summary>
/// The built host with <c>--demo</c>: a district admin starts the "night break-in" scenario through
/// the developer API on the running simulated district, and the controller raises the door-forced
/// alert from the simulated door's own (firmware) event.
/// </summary>
public sealed class DemoScenarioTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_district_admin_starts_night_break_in_on_the_demo_district_and_the_controller_raises_the_door_forced_alert()
    {
        var mqttPort = FreePort.Get();
        var httpPort = FreePort.Get();
        await using var host = BuiltHost.StartDemo(Directory.CreateTempSubdirectory("campus-demo-").FullName, mqttPort, httpPort, "--Campus:Storage:Provider=InMemory");
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(10) };
        string? last = null;
        try
        {
            await Poll.UntilAsync(async () =>
            {
                if (host.HasExited) throw new InvalidOperationException($"The host exited: {host.StandardError}{host.StandardOutput}");
                try
                {
                    var report = await http.GetFromJsonAsync<ControllerHealthReport>("/healthz");
                    last = report?.ToString();
                    return report is { Accepted: > 0, BrokerClients: 11 };
                }
                catch (HttpRequestException) { return false; }
                catch (TaskCanceledException) { return false; }
            }, "the demo district's 11 devices are connected and sending", TimeSpan.FromSeconds(90));

            // The demo's district admin ("admin", demo password); the session cookie is Secure, so it is carried by hand over loopback HTTP.
            using var signIn = await http.PostAsJsonAsync("/api/v1/session", new { userName = "admin", password = "campus-demo" });
            Assert.Equal(HttpStatusCode.NoContent, signIn.StatusCode);
            var cookie = signIn.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]).Single(c => c.StartsWith("campus.auth=", StringComparison.Ordinal));
            http.DefaultRequestHeaders.Add("Cookie", cookie);

            string school = "", room = "";
            // The runner attaches once the simulated district has started; until then the scenario has no rooms.
            await Poll.UntilAsync(async () =>
            {
                using var scenarios = JsonDocument.Parse(await http.GetStringAsync("/api/v1/developer/scenarios"));
                var night = scenarios.RootElement.EnumerateArray().Single(s => s.GetProperty("name").GetString() == "night-break-in");
                if (night.GetProperty("targets").GetArrayLength() == 0) return false;
                var target = night.GetProperty("targets")[0];
                (school, room) = (target.GetProperty("school").GetString()!, target.GetProperty("room").GetString()!);
                return true;
            }, "the night break-in scenario lists the rooms it can run in", TimeSpan.FromSeconds(30));

            using var started = await http.PostAsJsonAsync("/api/v1/developer/scenarios/night-break-in/runs", new { school, room });
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
            var runId = JsonDocument.Parse(await started.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();

            await Poll.UntilAsync(async () =>
            {
                using var run = JsonDocument.Parse(await http.GetStringAsync($"/api/v1/developer/runs/{runId}"));
                last = run.RootElement.GetRawText();
                var state = run.RootElement.GetProperty("state").GetString();
                if (state == "failed") throw new InvalidOperationException("The scenario run failed: " + last);
                return state == "completed" && run.RootElement.GetProperty("steps").EnumerateArray().All(s => s.GetProperty("doneAtSimulatedUtc").ValueKind == JsonValueKind.String);
            }, "the scenario run took its step and completed", TimeSpan.FromSeconds(60));

            await Poll.UntilAsync(async () =>
            {
                using var alerts = JsonDocument.Parse(await http.GetStringAsync($"/api/v1/schools/{school}/alerts"));
                last = alerts.RootElement.GetRawText();
                return alerts.RootElement.EnumerateArray().Any(a => a.GetProperty("type").GetString() == "door-forced" && a.GetProperty("room").GetString() == room);
            }, $"the controller raised a door-forced alert in {school}/{room}", TimeSpan.FromSeconds(30));

            using var audit = JsonDocument.Parse(await http.GetStringAsync($"/api/v1/schools/{school}/audit"));
            Assert.Contains(audit.RootElement.GetProperty("items").EnumerateArray(),
                e => e.GetProperty("action").GetString() == "scenario.started" && e.GetProperty("actor").GetString() == "admin");
        }
        finally
        {
            output.WriteLine($"last: {last}");
            output.WriteLine(host.StandardOutput);
        }

        await host.TerminateAsync(TimeSpan.FromSeconds(20));
    }
}
