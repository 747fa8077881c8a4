using Campus.Controller.History;

namespace Campus.Dashboard.Developer;

/// <summary>Starting a scenario from the page or the API: the run starts, then the audit log gets "scenario started".</summary>
internal static class ScenarioStarts
{
    public const string AuditAction = "scenario.started";

    public static async Task<ScenarioRunView> StartAsync(IScenarioRunner runner, IAuditLog audit, TimeProvider time, string actor,
        string scenario, string school, string room, CancellationToken cancellationToken)
    {
        var run = await runner.StartAsync(scenario, school, room, actor, cancellationToken).ConfigureAwait(false);
        await audit.AppendAuditAsync(new AuditEntry
        {
            SchoolId = school,
            Actor = actor,
            Action = AuditAction,
            Target = school + "/" + room,
            Details = $"scenario started: {scenario} (run {run.Id})",
            At = time.GetUtcNow(),
        }, cancellationToken).ConfigureAwait(false);
        return run;
    }
}
