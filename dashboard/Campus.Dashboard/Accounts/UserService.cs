using Campus.Contracts;
using Campus.Controller.History;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Campus.Dashboard.Accounts;

/// <summary>A request to create or change an account.</summary>
public sealed record UserRequest(string UserName, string DisplayName, DashboardRole Role, string? School, string? Password, bool Disabled = false);

/// <summary>Accounts: sign-in checks and changes, each change audited with the acting user.</summary>
internal sealed partial class UserService(
    IUserStore store,
    IPasswordHasher<DashboardUser> hasher,
    IAuditLog audit,
    TimeProvider time,
    ILogger<UserService> logger)
{
    public const int MinPasswordLength = 10;

    /// <summary>The account if the password is right and the account is enabled; audits both outcomes.</summary>
    public async Task<DashboardUser?> SignInAsync(string userName, string password, string? client, CancellationToken cancellationToken = default)
    {
        var user = string.IsNullOrWhiteSpace(userName) ? null : await store.FindAsync(userName, cancellationToken).ConfigureAwait(false);
        var result = user is null || user.Disabled
            ? PasswordVerificationResult.Failed
            : hasher.VerifyHashedPassword(user, user.PasswordHash, password ?? "");
        if (result == PasswordVerificationResult.Failed)
        {
            LogSignInFailed(userName, client);
            await AuditAsync(user?.School, userName ?? "", "login.failure", userName ?? "", client, cancellationToken).ConfigureAwait(false);
            return null;
        }
        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            user = user! with { PasswordHash = hasher.HashPassword(user, password!) };
            await store.UpsertAsync(user, cancellationToken).ConfigureAwait(false);
        }
        await AuditAsync(user!.School, user.UserName, "login.success", user.UserName, client, cancellationToken).ConfigureAwait(false);
        return user;
    }

    public async Task SignedOutAsync(string userName, string? school, CancellationToken cancellationToken = default) =>
        await AuditAsync(school, userName, "logout", userName, null, cancellationToken).ConfigureAwait(false);

    /// <summary>Checks a request; returns the problems by field (empty when valid).</summary>
    public static Dictionary<string, string[]> Validate(UserRequest request, bool creating)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!Identifier.IsValid(request.UserName)) errors["userName"] = ["1-32 characters of a-z, 0-9 and '-', starting with a letter or digit."];
        if (string.IsNullOrWhiteSpace(request.DisplayName) || request.DisplayName.Length > 100) errors["displayName"] = ["1-100 characters."];
        if (request.Role == DashboardRole.DistrictAdmin && request.School is not null) errors["school"] = ["A district admin has no school."];
        if (request.Role != DashboardRole.DistrictAdmin && string.IsNullOrEmpty(request.School)) errors["school"] = ["Every role but district admin belongs to one school."];
        if ((creating || request.Password is not null) && (request.Password is null || request.Password.Length < MinPasswordLength))
            errors["password"] = [$"At least {MinPasswordLength} characters."];
        return errors;
    }

    /// <summary>Creates or changes an account (password kept when not given); audited.</summary>
    public async Task<DashboardUser> SaveAsync(UserRequest request, string actor, CancellationToken cancellationToken = default)
    {
        var existing = await store.FindAsync(request.UserName, cancellationToken).ConfigureAwait(false);
        var errors = Validate(request, existing is null);
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors.Select(e => e.Key + ": " + e.Value[0])), nameof(request));
        var user = new DashboardUser(request.UserName, request.DisplayName, request.Role, request.School, existing?.PasswordHash ?? "", request.Disabled, existing?.CreatedAt ?? time.GetUtcNow());
        if (request.Password is not null) user = user with { PasswordHash = hasher.HashPassword(user, request.Password) };
        await store.UpsertAsync(user, cancellationToken).ConfigureAwait(false);
        var details = $"role={user.Role.ToWire()} school={user.School ?? "*"} disabled={user.Disabled}{(request.Password is null ? "" : " password-set")}";
        await AuditAsync(user.School, actor, existing is null ? "user.create" : "user.update", user.UserName, details, cancellationToken).ConfigureAwait(false);
        return user;
    }

    public Task<DashboardUser?> FindAsync(string userName, CancellationToken cancellationToken = default) => store.FindAsync(userName, cancellationToken);

    public Task<IReadOnlyList<DashboardUser>> ListAsync(string? school, int offset, int limit, CancellationToken cancellationToken = default) =>
        store.ListAsync(school, offset, limit, cancellationToken);

    private ValueTask AuditAsync(string? school, string actor, string action, string target, string? details, CancellationToken cancellationToken) =>
        audit.AppendAuditAsync(new AuditEntry { SchoolId = school, Actor = string.IsNullOrEmpty(actor) ? "anonymous" : actor, Action = action, Target = string.IsNullOrEmpty(target) ? "-" : target, Details = details, At = time.GetUtcNow() }, cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-in failed for {UserName} from {Client}")]
    private partial void LogSignInFailed(string? userName, string? client);
}
