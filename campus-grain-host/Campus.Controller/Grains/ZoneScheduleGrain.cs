using Campus.Controller.Domain;
using Campus.Grains;
using Campus.Grains.Storage;

namespace Campus.Controller.Grains;

/// <summary>
/// The weekly schedule of each access zone of a school (key = school id). A zone's rooms live in
/// <see cref="SchoolSpec.Zones"/>; the schedule kept here is the one a person gets when the zone
/// is assigned to them (<see cref="ZoneGrant"/>). It only stores: whoever changes a schedule also
/// rewrites the grants of the zone's holders through <see cref="IRegistryGrain.UpsertPerson"/>.
/// </summary>
public interface IZoneScheduleGrain : IGrainWithStringKey
{
    /// <summary>Every zone's schedule, by zone id.</summary>
    Task<IReadOnlyDictionary<string, WeeklySchedule>> GetSchedules();

    Task SetSchedule(string zone, WeeklySchedule schedule);

    Task RemoveSchedule(string zone);
}

/// <summary>The persisted zone schedules of one school.</summary>
internal sealed class ZoneScheduleState
{
    public Dictionary<string, WeeklySchedule> Schedules { get; set; } = new(StringComparer.Ordinal);
}

/// <inheritdoc cref="IZoneScheduleGrain"/>
internal sealed class ZoneScheduleGrain([PersistentState("zone-schedules")] IPersistentState<ZoneScheduleState> state) : Grain, IZoneScheduleGrain
{
    public Task<IReadOnlyDictionary<string, WeeklySchedule>> GetSchedules() =>
        Task.FromResult<IReadOnlyDictionary<string, WeeklySchedule>>(new Dictionary<string, WeeklySchedule>(state.State.Schedules, StringComparer.Ordinal));

    public async Task SetSchedule(string zone, WeeklySchedule schedule)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(zone);
        ArgumentNullException.ThrowIfNull(schedule);
        state.State.Schedules[zone] = schedule;
        await state.WriteStateAsync();
    }

    public async Task RemoveSchedule(string zone)
    {
        if (state.State.Schedules.Remove(zone)) await state.WriteStateAsync();
    }
}
