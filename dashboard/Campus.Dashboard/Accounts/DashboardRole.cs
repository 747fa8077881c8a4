namespace Campus.Dashboard.Accounts;

/// <summary>What a dashboard user may do. Every role but <see cref="DistrictAdmin"/> is bound to one school.</summary>
public enum DashboardRole
{
    DistrictAdmin,
    SchoolAdmin,
    Security,
    Facilities,
    Teacher,
    Student,
}

/// <summary>A dashboard account. <see cref="School"/> is null only for district admins.</summary>
public sealed record DashboardUser(
    string UserName,
    string DisplayName,
    DashboardRole Role,
    string? School,
    string PasswordHash,
    bool Disabled,
    DateTimeOffset CreatedAt);

internal static class RoleNames
{
    public static string ToWire(this DashboardRole role) => role switch
    {
        DashboardRole.DistrictAdmin => "district-admin",
        DashboardRole.SchoolAdmin => "school-admin",
        DashboardRole.Security => "security",
        DashboardRole.Facilities => "facilities",
        DashboardRole.Teacher => "teacher",
        DashboardRole.Student => "student",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Not a dashboard role."),
    };

    public static bool TryParse(string? text, out DashboardRole role)
    {
        foreach (var r in Enum.GetValues<DashboardRole>())
        {
            if (string.Equals(r.ToWire(), text, StringComparison.OrdinalIgnoreCase) || string.Equals(r.ToString(), text, StringComparison.OrdinalIgnoreCase))
            {
                role = r;
                return true;
            }
        }
        role = default;
        return false;
    }
}
