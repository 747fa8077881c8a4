using Campus.Dashboard.Accounts;
using Campus.Dashboard.Api;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Campus.Dashboard.Security;

/// <summary>Form posts of the sign-in page and of the sign-out button (antiforgery checked, sign-in rate-limited).</summary>
internal static class AccountEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var account = routes.MapGroup("/account").ExcludeFromDescription();
        account.MapPost("/login", LoginAsync).AllowAnonymous().RequireRateLimiting(ApiEndpoints.LoginRateLimit).WithMetadata(new RequireAntiforgeryTokenAttribute());
        account.MapPost("/logout", LogoutAsync).RequireAuthorization().WithMetadata(new RequireAntiforgeryTokenAttribute());
    }

    private static async Task<RedirectHttpResult> LoginAsync([FromForm] string? userName, [FromForm] string? password, [FromForm] string? returnUrl, HttpContext http, UserService users)
    {
        var user = await users.SignInAsync(userName ?? "", password ?? "", http.Connection.RemoteIpAddress?.ToString(), http.RequestAborted);
        var back = IsLocal(returnUrl) ? returnUrl! : "/";
        if (user is null) return TypedResults.LocalRedirect("/login?failed=1&returnUrl=" + Uri.EscapeDataString(back));
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, CampusClaims.For(user, CookieAuthenticationDefaults.AuthenticationScheme));
        return TypedResults.LocalRedirect(back);
    }

    private static async Task<RedirectHttpResult> LogoutAsync(HttpContext http, UserService users)
    {
        await users.SignedOutAsync(http.User.Name(), SchoolScope.HomeSchool(http.User), http.RequestAborted);
        await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.LocalRedirect("/login");
    }

    private static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\'));
}
