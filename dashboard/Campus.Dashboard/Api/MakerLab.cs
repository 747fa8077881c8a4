using System.Security.Claims;
using Campus.Contracts;
using Campus.Controller.Grains;
using Campus.Controller.History;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Campus.Dashboard.Api;

/// <summary>Who uses a kit: a team name and/or students (person ids of the school). Empty both: the kit is free.</summary>
public sealed record KitAssignmentRequest(string? Team, IReadOnlyList<string>? Students);

/// <summary>A student of a kit's team, by id and name.</summary>
public sealed record KitUser(string Id, string Name);

/// <summary>A milestone a kit reported (from the event log).</summary>
public sealed record KitMilestone(DateTimeOffset At, string Text);

/// <summary>A kit on the maker-lab page and in the API: live state, readings, who uses it and its latest milestones.</summary>
public sealed record MakerKitView(string Id, string Room, bool Online, DateTimeOffset? LastSeen, IReadOnlyDictionary<string, double>? Readings,
    string? Team, IReadOnlyList<KitUser> Students, IReadOnlyList<KitMilestone> Milestones);

/// <summary>
/// The maker lab: kits with their live readings and latest milestones, and which student or
/// team uses which kit (<see cref="IMakerAssignmentGrain"/>), assigned by mentors (teachers and
/// admins). Assignments are audited.
/// </summary>
internal static class MakerLab
{
    public const int MilestonesPerKit = 5;
    public const int MaxStudents = 12;
    public const int MaxTeamLength = 64;

    /// <summary>Roles that may assign kits: the maker mentors (teachers) and admins.</summary>
    public static readonly DashboardRole[] MentorRoles = [DashboardRole.DistrictAdmin, DashboardRole.SchoolAdmin, DashboardRole.Teacher];

    private static readonly AuthorizationPolicy Mentors = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().RequireRole([.. MentorRoles.Select(r => r.ToWire())]).Build();

    public static bool IsMentor(ClaimsPrincipal user) => user.Role() is { } r && MentorRoles.Contains(r);

    public static void Map(RouteGroupBuilder school) =>
        school.MapPut("/maker/kits/{kit}/assignment", AssignEndpointAsync).RequireAuthorization(Mentors);

    private static async Task<Results<Ok<MakerKitView>, NotFound, ValidationProblem>> AssignEndpointAsync(string school, string kit, KitAssignmentRequest request, ClaimsPrincipal user, CampusData data)
    {
        var (view, errors) = await AssignAsync(data, school, kit, request, user.Name());
        if (errors is not null) return TypedResults.ValidationProblem(errors);
        return view is null ? TypedResults.NotFound() : TypedResults.Ok(view);
    }

    /// <summary>One page of the school's kits with readings, users and milestones.</summary>
    public static async Task<PageOf<MakerKitView>> KitPageAsync(CampusData data, string school, int offset, int limit)
    {
        var page = await data.DevicePageAsync(school, null, DeviceKind.Maker, null, offset, limit).ConfigureAwait(false);
        var assignments = await Assignments(data, school).GetAssignments().ConfigureAwait(false);
        var items = await Task.WhenAll(page.Items.Select(k => ViewAsync(data, school, k, assignments.GetValueOrDefault(k.Device)))).ConfigureAwait(false);
        return new PageOf<MakerKitView>(items, offset, limit, page.Total);
    }

    public static async Task<(MakerKitView? View, Dictionary<string, string[]>? Errors)> AssignAsync(CampusData data, string school, string kit, KitAssignmentRequest request, string by)
    {
        var spec = await data.DeviceAsync(school, kit).ConfigureAwait(false);
        if (spec is null || spec.Kind != DeviceKind.Maker) return (null, null);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var team = string.IsNullOrWhiteSpace(request.Team) ? null : request.Team.Trim();
        if (team is { Length: > MaxTeamLength }) errors["team"] = [$"A team name has at most {MaxTeamLength} characters."];
        var ids = (request.Students ?? []).Select(s => s?.Trim() ?? "").Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count > MaxStudents) errors["students"] = [$"At most {MaxStudents} students share a kit."];
        else
        {
            var problems = new List<string>();
            foreach (var id in ids)
                if (await data.Registry.GetPerson(id).ConfigureAwait(false) is not { } p || p.School != school)
                    problems.Add($"'{id}' is not a person of school {school}.");
            if (problems.Count > 0) errors["students"] = [.. problems];
        }
        if (errors.Count > 0) return (null, errors);
        var assignment = new KitAssignment(kit, team, ids, by, DateTimeOffset.UtcNow);
        await Assignments(data, school).Assign(assignment).ConfigureAwait(false);
        await data.History.AppendAuditAsync(new AuditEntry
        {
            SchoolId = school, Actor = by, Action = "maker.assign", Target = kit,
            Details = ids.Count == 0 && team is null ? "free" : $"team={team} students={string.Join(';', ids)}", At = assignment.At,
        }).ConfigureAwait(false);
        var snapshot = await DeviceGrains.Get(data.Grains, DeviceKind.Maker, kit).GetSnapshot().ConfigureAwait(false);
        return (await ViewAsync(data, school, snapshot, assignment).ConfigureAwait(false), null);
    }

    private static async Task<MakerKitView> ViewAsync(CampusData data, string school, DeviceSnapshot kit, KitAssignment? assignment)
    {
        var students = new List<KitUser>();
        foreach (var id in assignment?.Students ?? [])
            students.Add(new KitUser(id, (await data.Registry.GetPerson(id).ConfigureAwait(false))?.Name ?? id));
        var log = await data.History.GetAccessLogAsync(new AccessLogQuery(school, DoorId: kit.Device, Page: new PageRequest(50))).ConfigureAwait(false);
        var milestones = log.Items.Select(e => e.Entry).Where(e => e.EventType == "milestone").Take(MilestonesPerKit)
            .Select(e => new KitMilestone(e.OccurredAt, e.Details ?? "")).ToList();
        return new MakerKitView(kit.Device, kit.Room, kit.Online, kit.LastSeen, kit.Readings, assignment?.Team, students, milestones);
    }

    private static IMakerAssignmentGrain Assignments(CampusData data, string school) => data.Grains.GetGrain<IMakerAssignmentGrain>(school);
}
