using Campus.Controller.Hosting;
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

    /// <summary>The variable .NET's socket engine on Linux reads once, when the process first uses an asynchronous socket.</summary>
    public const string InlineSocketCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Option <c>Campus:Host:InlineSocketCompletions</c> (default true): socket completions run on the socket
    /// engine's own threads instead of being queued to the thread pool. The broker's per-message work is
    /// short and never blocks (it hands messages to grains, which run on the thread pool), and with
    /// 10,000 device connections the hop per read and per send was a third of the broker's CPU per message
    /// (the ingest benchmark's bare broker: 45 µs per message with the hop, 28 µs without). Must run
    /// before any socket is used; an explicit environment variable wins.
    /// </summary>
    public static WebApplicationBuilder UseInlineSocketCompletions(this WebApplicationBuilder builder)
    {
        if (Environment.GetEnvironmentVariable(InlineSocketCompletionsVariable) is null
            && builder.Configuration.GetValue("Campus:Host:InlineSocketCompletions", defaultValue: true))
        {
            Environment.SetEnvironmentVariable(InlineSocketCompletionsVariable, "1");
        }
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
