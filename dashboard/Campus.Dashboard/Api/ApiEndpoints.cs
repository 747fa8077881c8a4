using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Controller.Services;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Import;
using Campus.Dashboard.Live;
using Campus.Dashboard.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Campus.Dashboard.Api;

/// <summary>The HTTP API under /api/v1: one group per area; every school route passes <see cref="SchoolScopeFilter"/>.</summary>
internal static class ApiEndpoints
{
    public const string LoginRateLimit = "campus.login";
    private const int MaxLimit = 200;

    public static void Map(IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api/v1").WithTags("campus");

        api.MapPost("/session", SignInAsync).AllowAnonymous().RequireRateLimiting(LoginRateLimit).DisableAntiforgery();
        api.MapDelete("/session", SignOutAsync).RequireAuthorization();
        api.MapGet("/me", Me).RequireAuthorization();

        api.MapGet("/schools", ListSchoolsAsync).RequireAuthorization();
        api.MapPost("/schools", CreateSchoolAsync).RequireAuthorization(Policies.District);
        api.MapGet("/users", ListUsersAsync).RequireAuthorization(Policies.Admin);
        api.MapPost("/users", SaveUserAsync).RequireAuthorization(Policies.Admin);

        var school = api.MapGroup("/schools/{school}").AddEndpointFilter<SchoolScopeFilter>();
        school.MapGet("", GetSchoolAsync).RequireAuthorization();
        school.MapGet("/buildings", ListBuildingsAsync).RequireAuthorization(Policies.Overview);
        school.MapGet("/rooms", ListRoomsAsync).RequireAuthorization(Policies.Overview);
        school.MapGet("/devices", ListDevicesAsync).RequireAuthorization(Policies.Overview);
        school.MapGet("/devices/{device}", GetDeviceAsync).RequireAuthorization(Policies.Overview);
        school.MapPost("/devices", CreateDeviceAsync).RequireAuthorization(Policies.Admin);
        school.MapPost("/devices/{device}/credentials", RotateAsync).RequireAuthorization(Policies.Admin);
        school.MapGet("/people", ListPeopleAsync).RequireAuthorization(Policies.Admin);
        school.MapPost("/people/import", ImportPeopleAsync).RequireAuthorization(Policies.Admin).Accepts<string>("text/csv");
        school.MapGet("/alerts", ListAlertsAsync).RequireAuthorization(Policies.Security);
        school.MapPost("/alerts/{alert}/acknowledge", (string school, string alert, AlertActionRequest? body, ClaimsPrincipal user, CampusData data) => MoveAlertAsync(school, alert, body, user, data, AlertStatus.Acknowledged)).RequireAuthorization(Policies.Security);
        school.MapPost("/alerts/{alert}/resolve", (string school, string alert, AlertActionRequest? body, ClaimsPrincipal user, CampusData data) => MoveAlertAsync(school, alert, body, user, data, AlertStatus.Resolved)).RequireAuthorization(Policies.Security);
        school.MapPost("/alerts/{alert}/close", (string school, string alert, AlertActionRequest? body, ClaimsPrincipal user, CampusData data) => MoveAlertAsync(school, alert, body, user, data, AlertStatus.Closed)).RequireAuthorization(Policies.Security);
        school.MapGet("/access", AccessLogAsync).RequireAuthorization(Policies.Security);
        school.MapGet("/lockdown", GetLockdownAsync).RequireAuthorization(Policies.Security);
        school.MapPost("/lockdown", StartLockdownAsync).RequireAuthorization(Policies.Security);
        school.MapDelete("/lockdown", LiftLockdownAsync).RequireAuthorization(Policies.Security);
        school.MapGet("/audit", AuditAsync).RequireAuthorization(Policies.Security);
        school.MapGet("/energy", EnergyAsync).RequireAuthorization(Policies.Facilities);
        school.MapGet("/energy.csv", EnergyCsvAsync).RequireAuthorization(Policies.Facilities);
        school.MapGet("/energy/after-hours", AfterHoursAsync).RequireAuthorization(Policies.Facilities);
        school.MapPost("/rooms/{room}/timetable", PushTimetableAsync).RequireAuthorization(Policies.Signs);
        school.MapPost("/rooms/{room}/notices", PushNoticesAsync).RequireAuthorization(Policies.Signs);
        school.MapGet("/maker/kits", MakerKitsAsync).RequireAuthorization(Policies.Maker);
        AccessZones.Map(school);
        ClassSigns.Map(school);
        MakerLab.Map(school);
        school.MapGet("/live", LiveAsync).RequireAuthorization(Policies.Overview).ExcludeFromDescription();
    }

    private static (int Offset, int Limit) Paging(int? offset, int? limit) =>
        (Math.Max(0, offset ?? 0), Math.Clamp(limit ?? 50, 1, MaxLimit));

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });

    // ---- session ----

    private static async Task<Results<NoContent, UnauthorizedHttpResult, ValidationProblem>> SignInAsync(LoginRequest request, HttpContext http, UserService users)
    {
        if (string.IsNullOrWhiteSpace(request.UserName) || string.IsNullOrEmpty(request.Password)) return Invalid("userName", "User name and password are required.");
        var user = await users.SignInAsync(request.UserName, request.Password, http.Connection.RemoteIpAddress?.ToString(), http.RequestAborted);
        if (user is null) return TypedResults.Unauthorized();
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, CampusClaims.For(user, CookieAuthenticationDefaults.AuthenticationScheme));
        return TypedResults.NoContent();
    }

    private static async Task<NoContent> SignOutAsync(HttpContext http, UserService users)
    {
        await users.SignedOutAsync(http.User.Name(), SchoolScope.HomeSchool(http.User), http.RequestAborted);
        await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.NoContent();
    }

    private static Ok<MeResponse> Me(ClaimsPrincipal user) =>
        TypedResults.Ok(new MeResponse(user.Name(), user.FindFirstValue(CampusClaims.DisplayName) ?? user.Name(), user.Role()?.ToWire() ?? "", SchoolScope.HomeSchool(user)));

    // ---- district ----

    private static async Task<Ok<PageOf<SchoolSummary>>> ListSchoolsAsync(ClaimsPrincipal user, CampusData data, string? q, int? offset, int? limit)
    {
        var (o, l) = Paging(offset, limit);
        return TypedResults.Ok(await data.SchoolPageAsync(s => SchoolScope.CanSee(user, s), q, o, l));
    }

    private static async Task<Results<Ok<SchoolSpec>, ValidationProblem>> CreateSchoolAsync(CreateSchoolRequest request, ClaimsPrincipal user, CampusData data)
    {
        try
        {
            var spec = await data.Registry.UpsertSchool(new SchoolSpec(request.Id, request.Name, request.TimeZoneId, DashboardDefaults.OpeningHours, []), user.Name());
            data.Forget();
            return TypedResults.Ok(spec);
        }
        catch (ArgumentException ex)
        {
            return Invalid("school", ex.Message);
        }
    }

    private static async Task<Ok<PageOf<MeResponse>>> ListUsersAsync(ClaimsPrincipal user, UserService users, string? school, int? offset, int? limit)
    {
        var (o, l) = Paging(offset, limit);
        var scope = SchoolScope.IsDistrictWide(user) ? school : SchoolScope.HomeSchool(user);
        var list = await users.ListAsync(scope, o, l);
        return TypedResults.Ok(new PageOf<MeResponse>([.. list.Select(u => new MeResponse(u.UserName, u.DisplayName, u.Role.ToWire(), u.School))], o, l, -1));
    }

    private static async Task<Results<Ok<MeResponse>, ValidationProblem, NotFound>> SaveUserAsync(UserRequest request, ClaimsPrincipal user, UserService users)
    {
        if (!SchoolScope.IsDistrictWide(user))
        {
            // A school admin manages the accounts of their own school only, and never a district admin.
            if (request.Role == DashboardRole.DistrictAdmin) return Invalid("role", "Only a district admin can create district admins.");
            if (!SchoolScope.CanSee(user, request.School)) return TypedResults.NotFound();
            var existing = await users.FindAsync(request.UserName);
            if (existing is not null && !SchoolScope.CanSee(user, existing.School)) return TypedResults.NotFound();
        }
        var errors = UserService.Validate(request, await users.FindAsync(request.UserName) is null);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var saved = await users.SaveAsync(request, user.Name());
        return TypedResults.Ok(new MeResponse(saved.UserName, saved.DisplayName, saved.Role.ToWire(), saved.School));
    }

    // ---- school ----

    private static async Task<Results<Ok<SchoolSnapshot>, NotFound>> GetSchoolAsync(string school, CampusData data)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        return TypedResults.Ok(await data.School(school).GetSnapshot());
    }

    private static async Task<Results<Ok<PageOf<BuildingSummary>>, NotFound>> ListBuildingsAsync(string school, CampusData data, string? q, int? offset, int? limit)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        var (o, l) = Paging(offset, limit);
        return TypedResults.Ok(await data.BuildingPageAsync(school, q, o, l));
    }

    /// <summary>Rooms, optionally of one building (<c>?building=</c>; 404 for a building the school does not have).</summary>
    private static async Task<Results<Ok<PageOf<RoomSummary>>, NotFound>> ListRoomsAsync(string school, CampusData data, string? q, string? building, int? offset, int? limit)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        if (!string.IsNullOrEmpty(building) && (await data.BuildingsAsync(school)).All(b => b.Id != building)) return TypedResults.NotFound();
        var (o, l) = Paging(offset, limit);
        return TypedResults.Ok(await data.RoomPageAsync(school, q, o, l, string.IsNullOrEmpty(building) ? null : building));
    }

    private static async Task<Results<Ok<PageOf<DeviceSnapshot>>, NotFound, ValidationProblem>> ListDevicesAsync(string school, CampusData data, string? q, string? kind, string? room, int? offset, int? limit)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        DeviceKind? k = null;
        if (!string.IsNullOrEmpty(kind))
        {
            if (!WireNames.TryParse<DeviceKind>(kind, out var parsed) || parsed == DeviceKind.Unknown) return Invalid("kind", "Use energy, env, door, sign or maker.");
            k = parsed;
        }
        var (o, l) = Paging(offset, limit);
        return TypedResults.Ok(await data.DevicePageAsync(school, q, k, room, o, l));
    }

    private static async Task<Results<Ok<DeviceSnapshot>, NotFound>> GetDeviceAsync(string school, string device, CampusData data)
    {
        var spec = await data.DeviceAsync(school, device);
        if (spec is null) return TypedResults.NotFound();
        return TypedResults.Ok(await DeviceGrains.Get(data.Grains, spec.Kind, spec.Id).GetSnapshot());
    }

    private static async Task<Results<Ok<DeviceCredentials>, ValidationProblem>> CreateDeviceAsync(string school, CreateDeviceRequest request, ClaimsPrincipal user, CampusData data)
    {
        if (!WireNames.TryParse<DeviceKind>(request.Kind, out var kind) || kind == DeviceKind.Unknown) return Invalid("kind", "Use energy, env, door, sign or maker.");
        if (await data.Registry.GetDevice(request.Id) is { } existing && existing.School != school)
            return Invalid("id", "This device id is taken; device ids are unique in the district.");
        try
        {
            var credentials = await data.Registry.CreateDevice(new DeviceSpec(school, request.Room, kind, request.Id, request.Name), user.Name());
            data.Forget(school);
            return TypedResults.Ok(credentials);
        }
        catch (ArgumentException ex)
        {
            return Invalid("device", ex.Message);
        }
    }

    private static async Task<Results<Ok<DeviceCredentials>, NotFound>> RotateAsync(string school, string device, ClaimsPrincipal user, CampusData data)
    {
        if (await data.DeviceAsync(school, device) is null) return TypedResults.NotFound();
        return TypedResults.Ok(await data.Registry.RotateCredentials(device, user.Name()));
    }

    private static async Task<Results<Ok<PageOf<PersonProfile>>, NotFound>> ListPeopleAsync(string school, CampusData data, string? q, int? offset, int? limit)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        var (o, l) = Paging(offset, limit);
        var all = (await data.Registry.ListPeople(school)).Where(p => CampusData.Matches(q, p.Id, p.Name)).ToList();
        return TypedResults.Ok(new PageOf<PersonProfile>([.. all.Skip(o).Take(l)], o, l, all.Count));
    }

    private static async Task<Results<Ok<ImportReport>, NotFound, ValidationProblem>> ImportPeopleAsync(string school, HttpRequest request, ClaimsPrincipal user, CampusData data)
    {
        var spec = await data.SchoolAsync(school);
        if (spec is null) return TypedResults.NotFound();
        if (request.ContentLength > 10_000_000) return Invalid("body", "The file is larger than 10 MB; split it.");
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var report = await PeopleCsvImporter.ImportAsync(reader, spec, people => data.Registry.UpsertPeople(people, user.Name()), request.HttpContext.RequestAborted, await AccessZones.SchedulesAsync(data, spec));
        await data.History.AppendAuditAsync(new AuditEntry { SchoolId = school, Actor = user.Name(), Action = "people.import", Target = school, Details = $"rows={report.Rows} imported={report.Imported} rejected={report.Errors.Count}", At = DateTimeOffset.UtcNow });
        return TypedResults.Ok(report);
    }

    private static async Task<Results<Ok<IReadOnlyList<AlertView>>, NotFound>> ListAlertsAsync(string school, CampusData data, bool? all)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        return TypedResults.Ok(await data.School(school).GetAlerts(all ?? false));
    }

    internal static async Task<Results<Ok<AlertView>, NotFound, ValidationProblem>> MoveAlertAsync(string school, string alert, AlertActionRequest? body, ClaimsPrincipal user, CampusData data, AlertStatus to)
    {
        var grain = data.School(school);
        var alerts = await grain.GetAlerts(includeClosed: true);
        if (!alerts.Any(a => a.Id == alert)) return TypedResults.NotFound();
        try
        {
            var note = string.IsNullOrWhiteSpace(body?.Note) ? null : body.Note.Trim();
            return TypedResults.Ok(to switch
            {
                AlertStatus.Acknowledged => await grain.AcknowledgeAlert(alert, user.Name(), note),
                AlertStatus.Resolved => await grain.ResolveAlert(alert, user.Name(), note),
                _ => await grain.CloseAlert(alert, user.Name(), note),
            });
        }
        catch (AlertLifecycleException ex)
        {
            return Invalid("status", ex.Message);
        }
    }

    private static async Task<Results<Ok<HistoryPage<AccessRow>>, NotFound, ValidationProblem>> AccessLogAsync(string school, CampusData data, string? door, string? after, int? limit)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        try
        {
            var page = await data.History.GetAccessLogAsync(new AccessLogQuery(school, DoorId: door, Page: new PageRequest(Paging(0, limit).Limit, after)));
            return TypedResults.Ok(new HistoryPage<AccessRow>([.. page.Items.Select(CampusData.Row)], page.NextCursor));
        }
        catch (ArgumentException ex)
        {
            return Invalid("after", ex.Message);
        }
    }

    private static async Task<Results<Ok<HistoryPage<AuditRow>>, NotFound, ValidationProblem>> AuditAsync(string school, CampusData data, string? actor, string? after, int? limit)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        try
        {
            var page = await data.History.GetAuditLogAsync(new AuditLogQuery(school, Actor: actor, Page: new PageRequest(Paging(0, limit).Limit, after)));
            return TypedResults.Ok(new HistoryPage<AuditRow>([.. page.Items.Select(CampusData.Row)], page.NextCursor));
        }
        catch (ArgumentException ex)
        {
            return Invalid("after", ex.Message);
        }
    }

    private static async Task<Results<Ok<LockdownView>, NotFound>> GetLockdownAsync(string school, CampusData data)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        return TypedResults.Ok(await data.School(school).GetLockdown());
    }

    private static async Task<Results<Ok<LockdownView>, NotFound, ValidationProblem>> StartLockdownAsync(string school, LockdownRequest request, ClaimsPrincipal user, CampusData data)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        if (!request.Confirm) return Invalid("confirm", "A lockdown must be confirmed: send confirm = true.");
        if (string.IsNullOrWhiteSpace(request.Message) || request.Message.Length > 256) return Invalid("message", "1-256 characters, shown on every class sign.");
        return TypedResults.Ok(await data.School(school).StartLockdown(user.Name(), request.Message.Trim()));
    }

    private static async Task<Results<Ok<LockdownView>, NotFound>> LiftLockdownAsync(string school, ClaimsPrincipal user, CampusData data)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        return TypedResults.Ok(await data.School(school).LiftLockdown(user.Name()));
    }

    // ---- energy ----

    internal static async Task<(EnergySeriesQuery? Query, string? Error)> EnergyQueryAsync(string school, CampusData data, string? granularity, string? room, DateOnly? from, DateOnly? to)
    {
        var spec = await data.SchoolAsync(school);
        if (spec is null) return (null, null);
        if (!Enum.TryParse<EnergyGranularity>(granularity ?? "hour", ignoreCase: true, out var g) || !Enum.IsDefined(g)) return (null, "granularity: use hour, day or month.");
        var (f, t) = CampusData.DefaultRange(g, data.Today(spec));
        var target = string.IsNullOrEmpty(room) ? EnergyTarget.School(school) : EnergyTarget.Room(school, room);
        try
        {
            var q = new EnergySeriesQuery(target, g, from ?? f, to ?? t);
            return (q, null);
        }
        catch (ArgumentException ex)
        {
            return (null, ex.Message);
        }
    }

    private static async Task<Results<Ok<EnergySeries>, NotFound, ValidationProblem>> EnergyAsync(string school, CampusData data, string? granularity, string? room, DateOnly? from, DateOnly? to)
    {
        var (q, error) = await EnergyQueryAsync(school, data, granularity, room, from, to);
        if (error is not null) return Invalid("query", error);
        if (q is null) return TypedResults.NotFound();
        try
        {
            return TypedResults.Ok(await data.History.GetEnergySeriesAsync(q));
        }
        catch (ArgumentException ex)
        {
            return Invalid("range", ex.Message);
        }
    }

    private static async Task<Results<FileContentHttpResult, NotFound, ValidationProblem>> EnergyCsvAsync(string school, CampusData data, string? granularity, string? room, DateOnly? from, DateOnly? to)
    {
        var (q, error) = await EnergyQueryAsync(school, data, granularity, room, from, to);
        if (error is not null) return Invalid("query", error);
        if (q is null) return TypedResults.NotFound();
        try
        {
            var writer = new StringWriter(CultureInfo.InvariantCulture);
            await data.History.ExportEnergyCsvAsync(q, writer);
            var name = $"energy-{q.Target.ToString().Replace('/', '-')}-{q.Granularity.ToString().ToLowerInvariant()}-{q.From:yyyyMMdd}-{q.To:yyyyMMdd}.csv";
            return TypedResults.File(Encoding.UTF8.GetBytes(writer.ToString()), "text/csv", name);
        }
        catch (ArgumentException ex)
        {
            return Invalid("range", ex.Message);
        }
    }

    private static async Task<Results<Ok<IReadOnlyList<AfterHoursRank>>, NotFound, ValidationProblem>> AfterHoursAsync(string school, CampusData data, DateOnly? from, DateOnly? to, int? offset, int? limit)
    {
        var spec = await data.SchoolAsync(school);
        if (spec is null) return TypedResults.NotFound();
        var today = data.Today(spec);
        var (o, l) = Paging(offset, limit);
        try
        {
            return TypedResults.Ok(await data.History.GetAfterHoursRankingAsync(new AfterHoursRankingQuery(school, from ?? today.AddDays(-6), to ?? today, new RankPage(o, l))));
        }
        catch (ArgumentException ex)
        {
            return Invalid("range", ex.Message);
        }
    }

    // ---- class signs and maker labs ----

    internal static async Task<Results<Ok<SignPushResult>, NotFound, ValidationProblem>> PushTimetableAsync(string school, string room, TimetableRequest request, ClaimsPrincipal user, CampusData data, ICommandPublisher commands)
    {
        if (!DateOnly.TryParseExact(request.Date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)) return Invalid("date", "Use yyyy-MM-dd.");
        foreach (var l in request.Lessons)
        {
            if (string.IsNullOrWhiteSpace(l.Subject) || l.Period is < 1 or > 20
                || !TimeOnly.TryParseExact(l.From, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var f)
                || !TimeOnly.TryParseExact(l.To, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) || t <= f)
                return Invalid("lessons", $"Lesson {l.Period}: period 1-20, a subject, and from < to as HH:mm.");
        }
        var roomSpec = (await data.RoomsAsync(school)).FirstOrDefault(r => r.Id == room);
        if (roomSpec is null) return TypedResults.NotFound();
        var lessons = request.Lessons.Select(l => l with { Id = string.IsNullOrEmpty(l.Id) ? $"{request.Date}/{l.Period}" : l.Id }).ToList();
        return await PushAsync(school, room, user, data, commands, "timetable", id => new TimetableCommand { Id = id, Ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Date = request.Date, Room = roomSpec.Name, Lessons = lessons });
    }

    internal static async Task<Results<Ok<SignPushResult>, NotFound, ValidationProblem>> PushNoticesAsync(string school, string room, NoticesRequest request, ClaimsPrincipal user, CampusData data, ICommandPublisher commands)
    {
        if (request.Items.Any(n => string.IsNullOrWhiteSpace(n.Text) || n.Text.Length > 500)) return Invalid("items", "Each notice has 1-500 characters.");
        if ((await data.RoomsAsync(school)).All(r => r.Id != room)) return TypedResults.NotFound();
        return await PushAsync(school, room, user, data, commands, "notices", id => new NoticesCommand { Id = id, Ts = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Items = request.Items });
    }

    private static async Task<Results<Ok<SignPushResult>, NotFound, ValidationProblem>> PushAsync(string school, string room, ClaimsPrincipal user, CampusData data, ICommandPublisher commands, string what, Func<string, DeviceCommand> make)
    {
        var signs = (await data.DevicesAsync(school)).Where(d => d.Room == room && d.Kind == DeviceKind.Sign).ToList();
        if (signs.Count == 0) return Invalid("room", $"Room '{room}' has no class sign.");
        var id = "c-" + Guid.NewGuid().ToString("N")[..12];
        var command = make(id);
        foreach (var s in signs)
            await commands.PublishAsync(DeviceTopic.Command(school, room, DeviceKind.Sign, s.Id, command.Name), command);
        await data.History.AppendAuditAsync(new AuditEntry { SchoolId = school, Actor = user.Name(), Action = "sign." + what, Target = room, Details = $"command={id} signs={signs.Count}", At = DateTimeOffset.UtcNow });
        return TypedResults.Ok(new SignPushResult([.. signs.Select(s => s.Id)], id));
    }

    private static async Task<Results<Ok<PageOf<MakerKitView>>, NotFound>> MakerKitsAsync(string school, CampusData data, int? offset, int? limit)
    {
        if (await data.SchoolAsync(school) is null) return TypedResults.NotFound();
        var (o, l) = Paging(offset, limit);
        return TypedResults.Ok(await MakerLab.KitPageAsync(data, school, o, l));
    }

    // ---- live (server-sent events) ----

    private static async Task LiveAsync(string school, HttpContext http, CampusData data, LiveHub hub)
    {
        if (await data.SchoolAsync(school) is null)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-store";
        var queue = System.Threading.Channels.Channel.CreateBounded<LiveChange>(new System.Threading.Channels.BoundedChannelOptions(256) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropOldest });
        await using var registration = await hub.ListenAsync(school, c => queue.Writer.TryWrite(c));
        await http.Response.WriteAsync(": live\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
        try
        {
            await foreach (var change in queue.Reader.ReadAllAsync(http.RequestAborted))
            {
                var (name, json) = change switch
                {
                    { Alert: { } a } => ("alert", JsonSerializer.Serialize(new { a.Id, a.Type, a.Status, a.Source, a.Room, a.LastSeen })),
                    { Lockdown: { } l } => ("lockdown", JsonSerializer.Serialize(new { l.Active, l.CommandId })),
                    { Snapshot: { } s } => ("school", JsonSerializer.Serialize(new { s.PowerW, s.DevicesOnline, s.DevicesOffline, s.OpenAlerts, s.UpdatedAt })),
                    _ => ("ping", "{}"),
                };
                await http.Response.WriteAsync($"event: {name}\ndata: {json}\n\n", http.RequestAborted);
                await http.Response.Body.FlushAsync(http.RequestAborted);
            }
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }
}
