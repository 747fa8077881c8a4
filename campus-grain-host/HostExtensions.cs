using Campus.Controller.Hosting;
using Campus.Mqtt.Server.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Campus.GrainHost;

/// <summary>The wiring of the host, kept out of Program.cs.</summary>
internal static class HostExtensions
{
    /// <summary>Adds the controller (grains, storage, history, ingestion, broker) configured from appsettings.</summary>
    public static WebApplicationBuilder AddCampusControllerHost(this WebApplicationBuilder builder)
    {
        builder.Services.AddCampusController(builder.Configuration);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        return builder;
    }

    /// <summary>
    /// Option <c>Campus:Host:InlineSocketCompletions</c> (default true): socket completions run on the socket
    /// engine's own threads instead of being queued to the thread pool (see <see cref="InlineSocketCompletions"/>).
    /// Must run before any socket is used; an explicit environment variable wins.
    /// </summary>
    public static WebApplicationBuilder UseInlineSocketCompletions(this WebApplicationBuilder builder)
    {
        InlineSocketCompletions.Apply(builder.Configuration.GetValue("Campus:Host:InlineSocketCompletions", defaultValue: true));
        return builder;
    }

    /// <summary>GET /healthz: 200 with the report when broker, storage and ingestion are up, 503 with it otherwise.</summary>
    public static IEndpointRouteBuilder MapCampusHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", async Task<Results<Ok<ControllerHealthReport>, JsonHttpResult<ControllerHealthReport>>> (ControllerHealth health, CancellationToken ct) =>
        {
            var report = await health.CheckAsync(ct);
            return report.Healthy ? TypedResults.Ok(report) : TypedResults.Json(report, statusCode: StatusCodes.Status503ServiceUnavailable);
        });
        return endpoints;
    }

    /// <summary>
    /// The dashboard's mount point. Campus.Dashboard (a Razor class library referenced by this
    /// project) adds its services and endpoints here, e.g. <c>app.MapCampusDashboard()</c>; the
    /// controller's grains (IGrainFactory), history (IHistoryStore) and health are in the
    /// container for it. Until then this maps nothing.
    /// </summary>
    public static WebApplication MapCampusDashboardMountPoint(this WebApplication app) => app;
}
