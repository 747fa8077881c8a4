using System.Security.Claims;
using Campus.Controller.History;
using Campus.Dashboard.Developer;
using Campus.Dashboard.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Dashboard.Api;

/// <summary>A scenario with the rooms it can run in.</summary>
public sealed record ScenarioListItem(string Name, string Title, string Description, string? Unavailable, IReadOnlyList<ScenarioTarget> Targets);

public sealed record ScenarioStartRequest(string? School, string? Room);

/// <summary>
/// Demo only, district admins only: <c>/api/v1/developer/*</c> lists the simulators' scenarios and
/// starts one on the running district. Mapped only when the host registered an
/// <see cref="IScenarioRunner"/>; otherwise the routes do not exist (404 for everyone).
/// </summary>
internal static class DeveloperEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        if (routes.ServiceProvider.GetService<IScenarioRunner>() is null)
        {
            // Not a demo host: the developer API does not exist, whatever the method or caller.
            routes.Map("/api/v1/developer/{**rest}", () => TypedResults.NotFound()).AllowAnonymous().ExcludeFromDescription();
            return;
        }
        var dev = routes.MapGroup("/api/v1/developer").WithTags("developer").RequireAuthorization(Policies.District);
        dev.MapGet("/scenarios", ListScenarios);
        dev.MapPost("/scenarios/{name}/runs", StartAsync);
        dev.MapGet("/runs", (IScenarioRunner runner) => TypedResults.Ok(runner.Runs));
        dev.MapGet("/runs/{id}", GetRun);
    }

    private static Ok<List<ScenarioListItem>> ListScenarios(IScenarioRunner runner) =>
        TypedResults.Ok(runner.Scenarios.Select(s => new ScenarioListItem(s.Name, s.Title, s.Description, s.Unavailable, runner.Targets(s.Name))).ToList());

    private static Results<Ok<ScenarioRunView>, NotFound> GetRun(string id, IScenarioRunner runner) =>
        runner.Runs.FirstOrDefault(r => r.Id == id) is { } run ? TypedResults.Ok(run) : TypedResults.NotFound();

    private static async Task<Results<Accepted<ScenarioRunView>, NotFound, ValidationProblem>> StartAsync(
        string name, ScenarioStartRequest? body, ClaimsPrincipal user, IScenarioRunner runner, IAuditLog audit, TimeProvider time, HttpContext http)
    {
        var scenario = runner.Scenarios.FirstOrDefault(s => s.Name == name);
        if (scenario is null) return TypedResults.NotFound();
        if (scenario.Unavailable is { } why) return Invalid("name", why);
        if (string.IsNullOrEmpty(body?.School) || string.IsNullOrEmpty(body.Room)) return Invalid("room", "Give the school and the room to run the scenario in.");
        if (!runner.Targets(name).Any(t => t.School == body.School && t.Room == body.Room))
            return Invalid("room", $"Scenario '{name}' cannot run in {body.School}/{body.Room}; GET /api/v1/developer/scenarios lists its rooms.");
        try
        {
            var run = await ScenarioStarts.StartAsync(runner, audit, time, user.Name(), name, body.School, body.Room, http.RequestAborted);
            return TypedResults.Accepted($"/api/v1/developer/runs/{Uri.EscapeDataString(run.Id)}", run);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return Invalid("name", ex.Message);
        }
    }

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });
}
