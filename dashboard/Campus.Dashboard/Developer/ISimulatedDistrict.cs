namespace Campus.Dashboard.Developer;

/// <summary>
/// The district a demo host simulates and provisions into the registry itself (registered by the
/// host in demo mode, with the scenario runner). The demo account seeding then creates no sample
/// school or rooms of its own: the simulated district's schools, buildings and rooms come instead,
/// possibly a moment after the seeding ran.
/// </summary>
public interface ISimulatedDistrict
{
    /// <summary>The school the demo's school accounts belong to: the simulated district's first school.</summary>
    string FirstSchool { get; }
}
