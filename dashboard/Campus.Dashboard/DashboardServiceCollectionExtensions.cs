using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Campus.Controller.Domain;
using Campus.Controller.Hosting;
using Campus.Dashboard.Accounts;
using Campus.Dashboard.Api;
using Campus.Dashboard.Components;
using Campus.Dashboard.Live;
using Campus.Dashboard.Security;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Campus.Dashboard;

internal static class DashboardDefaults
{
    public static readonly WeeklySchedule OpeningHours = new([TimeWindow.Parse("12345", "07:00", "18:00")]);
}

/// <summary>Wiring of the dashboard: <c>services.AddCampusDashboard(configuration)</c> then <c>app.MapCampusDashboard()</c>.</summary>
public static class DashboardServiceCollectionExtensions
{
    /// <summary>
    /// Adds the dashboard (Blazor server components, HTTP API, accounts, cookie sign-in, rate
    /// limiting, antiforgery, OpenAPI), configured from "Campus:Dashboard"; accounts are kept in
    /// the controller's database ("Campus:Storage"). Needs the controller's services.
    /// </summary>
    public static IServiceCollection AddCampusDashboard(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.Configure<DashboardOptions>(configuration.GetSection(DashboardOptions.SectionName));
        var storage = configuration.GetSection(CampusStorageOptions.SectionName).Get<CampusStorageOptions>() ?? new CampusStorageOptions();
        var dashboard = configuration.GetSection(DashboardOptions.SectionName).Get<DashboardOptions>() ?? new DashboardOptions();
        var provider = dashboard.UserStore ?? storage.Provider switch
        {
            CampusStorageProvider.Postgres => UserStoreProvider.Postgres,
            CampusStorageProvider.InMemory => UserStoreProvider.InMemory,
            _ => UserStoreProvider.Sqlite,
        };
        services.TryAddSingleton<IUserStore>(_ => provider switch
        {
            UserStoreProvider.Postgres => SqlUserStore.Postgres(storage.PostgresConnectionString ?? throw new InvalidOperationException("Campus:Storage:PostgresConnectionString is empty; the dashboard keeps its accounts in the controller's database.")),
            UserStoreProvider.Sqlite => SqlUserStore.Sqlite($"Data Source={storage.SqlitePath}"),
            _ => new InMemoryUserStore(),
        });
        return services.AddCampusDashboardCore(dashboard);
    }

    internal static IServiceCollection AddCampusDashboardCore(this IServiceCollection services, DashboardOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<DashboardOptions>();
        services.Configure<PasswordHasherOptions>(o => o.IterationCount = options.PasswordIterations);
        services.TryAddSingleton<IPasswordHasher<DashboardUser>, PasswordHasher<DashboardUser>>();
        services.TryAddSingleton<UserService>();
        services.TryAddSingleton<CampusData>();
        services.TryAddSingleton<LiveHub>();
        services.AddHostedService<DashboardStartup>();

        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.Cookie.Name = "campus.auth";
                o.Cookie.HttpOnly = true;
                o.Cookie.SecurePolicy = CookieSecurePolicy.Always;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.LoginPath = "/login";
                o.LogoutPath = "/account/logout";
                o.AccessDeniedPath = "/denied";
                o.ExpireTimeSpan = options.SessionLifetime;
                o.SlidingExpiration = true;
                // The API answers 401/403; pages redirect to the sign-in page.
                o.Events.OnRedirectToLogin = ctx => Answer(ctx.HttpContext, ctx.RedirectUri, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = ctx => Answer(ctx.HttpContext, ctx.RedirectUri, StatusCodes.Status403Forbidden);
            });
        services.AddAuthorization(Policies.Add);
        services.AddCascadingAuthenticationState();
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "campus.af";
            // Secure over HTTPS. (Antiforgery refuses to issue an Always-secure cookie on a plain-HTTP
            // request, and the demo serves plain HTTP on loopback; the token is useless without the session cookie, which is always Secure.)
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(ApiEndpoints.LoginRateLimit, ctx => RateLimitPartition.GetFixedWindowLimiter(
                ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.LoginPermitLimit, Window = options.LoginWindow, QueueLimit = 0 }));
        });
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        });
        services.AddOpenApi("v1");
        services.AddRazorComponents().AddInteractiveServerComponents();
        return services;
    }

    /// <summary>Prints the dashboard's address and the demo accounts once the host has started (demo mode only).</summary>
    public static WebApplication PrintCampusDemoBanner(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<IOptions<DashboardOptions>>().Value;
        if (!options.Demo) return app;
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var url = app.Urls.FirstOrDefault()?.Replace("0.0.0.0", "localhost", StringComparison.Ordinal).Replace("[::]", "localhost", StringComparison.Ordinal) ?? "http://localhost:5080";
            var text = new System.Text.StringBuilder();
            text.AppendLine().AppendLine($"Campus dashboard: {url}").AppendLine($"Demo accounts (password \"{options.DemoPassword}\"):");
            foreach (var (name, display, role) in DemoAccounts.List()) text.AppendLine($"  {name,-11} {role.ToWire(),-15} {display}");
            Console.WriteLine(text.ToString());
        });
        return app;
    }

    /// <summary>Serves the framework's Blazor script from this library when the host's static assets lack it.</summary>
    private static void MapEmbeddedBlazorScript(WebApplication app)
    {
        var script = EmbeddedScript.Load();
        if (script is null) return;
        app.MapGet("/_framework/blazor.web.js", () => Results.Bytes(script, "text/javascript")).AllowAnonymous().ExcludeFromDescription();
    }

    private static Task Answer(HttpContext http, string redirect, int status)
    {
        if (http.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
            http.Response.StatusCode = status;
        else
            http.Response.Redirect(redirect);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Adds the dashboard's middleware (authentication, authorization, rate limiting, antiforgery)
    /// and endpoints: pages, <c>/account/*</c>, <c>/api/v1/*</c> and <c>/openapi/v1.json</c>.
    /// </summary>
    public static WebApplication MapCampusDashboard(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseAntiforgery();
        var manifest = Path.Combine(AppContext.BaseDirectory, app.Environment.ApplicationName + ".staticwebassets.endpoints.json");
        // A Web SDK host has the static web assets manifest (blazor.web.js, dashboard.css); a plain
        // console host (benchmarks) has not: pages then render on the server without interactivity.
        var hasManifest = File.Exists(manifest);
        if (hasManifest) app.MapStaticAssets(manifest);
        else app.UseStaticFiles();
        if (!hasManifest || !File.ReadAllText(manifest).Contains("_framework/blazor.web.js", StringComparison.Ordinal))
            MapEmbeddedBlazorScript(app);
        app.MapOpenApi("/openapi/{documentName}.json");
        AccountEndpoints.Map(app);
        ApiEndpoints.Map(app);
        DeveloperEndpoints.Map(app);    // demo only: mapped when the host registered a scenario runner
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}

internal static class EmbeddedScript
{
    public static byte[]? Load()
    {
        using var stream = typeof(EmbeddedScript).Assembly.GetManifestResourceStream("Campus.Dashboard.blazor.web.js");
        if (stream is null) return null;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}

/// <summary>Creates the account table and, in demo mode only, the demo accounts.</summary>
internal sealed class DashboardStartup(IUserStore store, UserService users, IOptions<DashboardOptions> options, CampusData data, IServiceProvider services) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        if (options.Value.Demo) await DemoAccounts.SeedAsync(users, data, options.Value.DemoPassword, services.GetService<Developer.ISimulatedDistrict>(), cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The demo accounts: a district admin and one account of each role in the first school.</summary>
internal static class DemoAccounts
{
    /// <param name="simulated">The district the host simulates and provisions itself, or null: then an empty district gets a sample school with rooms.</param>
    public static async Task SeedAsync(UserService users, CampusData data, string password, Developer.ISimulatedDistrict? simulated, CancellationToken cancellationToken)
    {
        var school = (await data.SchoolsAsync().ConfigureAwait(false)).FirstOrDefault()?.Id;
        if (school is null && simulated is not null)
        {
            // The simulated district provisions its own schools, buildings and rooms (perhaps only after
            // this seeding): sample rooms here would stay behind as a stray default building.
            school = simulated.FirstSchool;
            data.Forget(); // the empty school list just read must not be served once the district is provisioned
        }
        else if (school is null)
        {
            // An empty demo district: one school with a few rooms, so every page has something to show.
            school = "s01";
            await data.Registry.UpsertSchool(new Controller.Grains.SchoolSpec(school, "Demo Middle School", "Asia/Shanghai", DashboardDefaults.OpeningHours, []), "demo-seed").ConfigureAwait(false);
            foreach (var (id, name) in new[] { ("r101", "Physics 101"), ("r102", "Maker Lab"), ("gate", "Main Gate") })
                await data.Registry.UpsertRoom(new Controller.Grains.RoomSpec(school, id, name), "demo-seed").ConfigureAwait(false);
            data.Forget();
        }
        foreach (var (name, display, role) in List())
        {
            if (await users.FindAsync(name, cancellationToken).ConfigureAwait(false) is not null) continue;
            await users.SaveAsync(new UserRequest(name, display, role, role == DashboardRole.DistrictAdmin ? null : school, password), "demo-seed", cancellationToken).ConfigureAwait(false);
        }
    }

    public static IEnumerable<(string Name, string Display, DashboardRole Role)> List() =>
    [
        ("admin", "District Admin", DashboardRole.DistrictAdmin),
        ("principal", "School Admin", DashboardRole.SchoolAdmin),
        ("guard", "Security Officer", DashboardRole.Security),
        ("facilities", "Facilities Manager", DashboardRole.Facilities),
        ("teacher", "Maker Mentor", DashboardRole.Teacher),
        ("student", "Student", DashboardRole.Student),
    ];
}
