using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Tests.Support;

namespace Campus.Dashboard.Tests;

/// <summary>Kit assignments and class-sign attendance through /api/v1: validation and scoping.</summary>
[Collection(HostCollection.Name)]
public sealed class SignsAndMakerApiTests(HostFixture fixture)
{
    private async Task<ApiClient> TeacherAsync()
    {
        var client = fixture.Host.Client();
        Assert.Equal(HttpStatusCode.NoContent, await client.SignInAsync(DashboardHost.Accounts[DashboardRole.Teacher]));
        return client;
    }

    [Fact]
    public async Task A_kit_assignment_names_only_people_of_the_kits_school_and_only_maker_kits_of_the_school()
    {
        using var client = await TeacherAsync();
        using var stranger = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/maker/kits/k1/assignment", JsonContent.Create(new { team = "A", students = new[] { "p-s01", "p-s02", "nobody" } }));
        Assert.Equal(HttpStatusCode.BadRequest, stranger.StatusCode);
        var text = await stranger.Content.ReadAsStringAsync();
        Assert.Contains("'p-s02' is not a person of school s01.", text, StringComparison.Ordinal);
        Assert.Contains("'nobody' is not a person of school s01.", text, StringComparison.Ordinal);
        using var longTeam = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/maker/kits/k1/assignment", JsonContent.Create(new { team = new string('x', 65), students = Array.Empty<string>() }));
        Assert.Contains("at most 64 characters", await longTeam.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var door = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/maker/kits/d1/assignment", JsonContent.Create(new { team = "A" }));
        Assert.Equal(HttpStatusCode.NotFound, door.StatusCode);
        using var other = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/maker/kits/k2/assignment", JsonContent.Create(new { team = "A" }));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);

        using var ok = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/maker/kits/k1/assignment", JsonContent.Create(new { team = "Solar Car", students = new[] { "p-s01" } }));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var kits = JsonDocument.Parse(await (await client.GetAsync("/api/v1/schools/s01/maker/kits")).Content.ReadAsStringAsync()).RootElement.GetProperty("items");
        var k1 = kits.EnumerateArray().Single(k => k.GetProperty("id").GetString() == "k1");
        Assert.Equal("Solar Car", k1.GetProperty("team").GetString());
        Assert.Equal("Ann Li", k1.GetProperty("students")[0].GetProperty("name").GetString());

        using var freed = await client.SendAsync(HttpMethod.Put, "/api/v1/schools/s01/maker/kits/k1/assignment", JsonContent.Create(new { team = " ", students = Array.Empty<string>() }));
        Assert.Equal(HttpStatusCode.OK, freed.StatusCode);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(await freed.Content.ReadAsStringAsync()).RootElement.GetProperty("team").ValueKind);
    }

    [Fact]
    public async Task Attendance_needs_a_valid_date_and_a_room_of_the_school()
    {
        using var client = await TeacherAsync();
        using var badDate = await client.GetAsync("/api/v1/schools/s01/rooms/r101/attendance?date=26.11.2026");
        Assert.Equal(HttpStatusCode.BadRequest, badDate.StatusCode);
        Assert.Contains("yyyy-MM-dd", await badDate.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var otherRoom = await client.GetAsync("/api/v1/schools/s01/rooms/r201/attendance");
        Assert.Equal(HttpStatusCode.NotFound, otherRoom.StatusCode);
        using var empty = await client.GetAsync("/api/v1/schools/s01/rooms/r102/attendance?date=2020-01-01");
        var day = JsonDocument.Parse(await empty.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("2020-01-01", day.GetProperty("date").GetString());
        Assert.Equal(0, day.GetProperty("lessons").GetArrayLength());
    }
}
