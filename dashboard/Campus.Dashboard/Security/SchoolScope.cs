using System.Security.Claims;
using Campus.Dashboard.Accounts;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace Campus.Dashboard.Security;

/// <summary>Claims of a signed-in dashboard user.</summary>
internal static class CampusClaims
{
    public const string School = "campus:school";
    public const string DisplayName = "campus:display";

    public static ClaimsPrincipal For(DashboardUser user, string scheme)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, user.UserName),
            new(ClaimTypes.Role, user.Role.ToWire()),
            new(DisplayName, user.DisplayName),
        };
        if (user.School is not null) claims.Add(new Claim(School, user.School));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme, ClaimTypes.Name, ClaimTypes.Role));
    }

    public static string Name(this ClaimsPrincipal user) => user.Identity?.Name ?? "anonymous";

    public static DashboardRole? Role(this ClaimsPrincipal user) =>
        RoleNames.TryParse(user.FindFirstValue(ClaimTypes.Role), out var r) ? r : null;
}

/// <summary>
/// The one place where school scoping is decided: a district admin sees every school, every
/// other user exactly the school of their account. The API filter and every page ask here.
/// </summary>
internal static class SchoolScope
{
    public static bool IsDistrictWide(ClaimsPrincipal user) => user.Role() == DashboardRole.DistrictAdmin;

    /// <summary>The user's own school (null for district admins and anonymous users).</summary>
    public static string? HomeSchool(ClaimsPrincipal user) => IsDistrictWide(user) ? null : user.FindFirstValue(CampusClaims.School);

    public static bool CanSee(ClaimsPrincipal user, string? school)
    {
        if (user.Identity?.IsAuthenticated != true || string.IsNullOrEmpty(school)) return false;
        return IsDistrictWide(user) || string.Equals(user.FindFirstValue(CampusClaims.School), school, StringComparison.Ordinal);
    }

    /// <summary>The schools filter for a history query: null (all) only for district admins.</summary>
    public static string? QuerySchool(ClaimsPrincipal user, string? requested) =>
        IsDistrictWide(user) ? requested : user.FindFirstValue(CampusClaims.School) ?? throw new InvalidOperationException("A school user without a school claim.");
}

/// <summary>
/// API filter for every route with a <c>{school}</c> segment: a school the user may not see is
/// answered 404, exactly like a school that does not exist (its existence is not revealed).
/// </summary>
internal sealed class SchoolScopeFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var school = context.HttpContext.Request.RouteValues["school"] as string;
        if (school is not null && !SchoolScope.CanSee(context.HttpContext.User, school))
            return ValueTask.FromResult<object?>(TypedResults.NotFound());
        return next(context);
    }
}

/// <summary>Authorization policies: which roles use which area.</summary>
internal static class Policies
{
    public const string Overview = "campus.overview";
    public const string Security = "campus.security";
    public const string Facilities = "campus.facilities";
    public const string Admin = "campus.admin";
    public const string District = "campus.district";
    public const string Signs = "campus.signs";
    public const string Maker = "campus.maker";

    public static readonly IReadOnlyDictionary<string, DashboardRole[]> Roles = new Dictionary<string, DashboardRole[]>
    {
        [Overview] = [DashboardRole.DistrictAdmin, DashboardRole.SchoolAdmin, DashboardRole.Security, DashboardRole.Facilities, DashboardRole.Teacher],
        [Security] = [DashboardRole.DistrictAdmin, DashboardRole.SchoolAdmin, DashboardRole.Security],
        [Facilities] = [DashboardRole.DistrictAdmin, DashboardRole.SchoolAdmin, DashboardRole.Facilities],
        [Admin] = [DashboardRole.DistrictAdmin, DashboardRole.SchoolAdmin],
        [District] = [DashboardRole.DistrictAdmin],
        [Signs] = [DashboardRole.DistrictAdmin, DashboardRole.SchoolAdmin, DashboardRole.Teacher],
        [Maker] = [DashboardRole.DistrictAdmin, DashboardRole.SchoolAdmin, DashboardRole.Teacher, DashboardRole.Student],
    };

    public static void Add(AuthorizationOptions options)
    {
        foreach (var (name, roles) in Roles)
            options.AddPolicy(name, p => p.RequireAuthenticatedUser().RequireRole([.. roles.Select(r => r.ToWire())]));
    }

    public static bool Allows(ClaimsPrincipal user, string policy) => user.Role() is { } r && Roles[policy].Contains(r);
}
