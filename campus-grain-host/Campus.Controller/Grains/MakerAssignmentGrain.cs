using Campus.Grains;
using Campus.Grains.Storage;

namespace Campus.Controller.Grains;

/// <summary>Who uses a maker kit: a team name and/or students (person ids of the kit's school).</summary>
public sealed record KitAssignment(string Kit, string? Team, IReadOnlyList<string> Students, string By, DateTimeOffset At);

/// <summary>
/// Which student or team uses which maker kit of a school (key = school id). It only stores;
/// callers check that the kit and the students belong to the school.
/// </summary>
public interface IMakerAssignmentGrain : IGrainWithStringKey
{
    /// <summary>Every kit's assignment, by kit id.</summary>
    Task<IReadOnlyDictionary<string, KitAssignment>> GetAssignments();

    /// <summary>Sets a kit's assignment; one with no team and no students removes it.</summary>
    Task Assign(KitAssignment assignment);
}

/// <summary>The persisted kit assignments of one school.</summary>
internal sealed class MakerAssignmentState
{
    public Dictionary<string, KitAssignment> Kits { get; set; } = new(StringComparer.Ordinal);
}

/// <inheritdoc cref="IMakerAssignmentGrain"/>
internal sealed class MakerAssignmentGrain([PersistentState("maker-assignments")] IPersistentState<MakerAssignmentState> state) : Grain, IMakerAssignmentGrain
{
    public Task<IReadOnlyDictionary<string, KitAssignment>> GetAssignments() =>
        Task.FromResult<IReadOnlyDictionary<string, KitAssignment>>(new Dictionary<string, KitAssignment>(state.State.Kits, StringComparer.Ordinal));

    public async Task Assign(KitAssignment assignment)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        ArgumentException.ThrowIfNullOrWhiteSpace(assignment.Kit);
        if (string.IsNullOrWhiteSpace(assignment.Team) && assignment.Students.Count == 0) state.State.Kits.Remove(assignment.Kit);
        else state.State.Kits[assignment.Kit] = assignment;
        await state.WriteStateAsync();
    }
}
