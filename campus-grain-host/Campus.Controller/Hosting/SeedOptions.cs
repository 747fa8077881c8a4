using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.Grains;

namespace Campus.Controller.Hosting;

/// <summary>
/// A development seed (section "Campus:Seed"), applied at start: schools, rooms and devices with
/// given secrets, so a fresh host can take simulated devices at once. Existing entries are kept.
/// </summary>
public sealed class SeedOptions
{
    public const string SectionName = "Campus:Seed";

    public List<SeedSchool> Schools { get; set; } = [];
    public List<SeedDevice> Devices { get; set; } = [];

    /// <summary>
    /// A JSON file with more of the same, for large fleets:
    /// {"Schools": [{"Id": "s01", "Rooms": ["r101"], "Buildings": [{"Id": "b1", "Name": "Science", "Rooms": ["r201"]}]}], "Devices": [...]}.
    /// "Buildings" is optional; "Rooms" are in the school's default building.
    /// </summary>
    public string? File { get; set; }
}

public sealed class SeedSchool
{
    public string Id { get; set; } = "";
    public string TimeZoneId { get; set; } = "Asia/Shanghai";

    /// <summary>Rooms in the school's default building.</summary>
    public List<string> Rooms { get; set; } = [];

    /// <summary>Buildings with their rooms (optional; a seed without them puts every room in the default building).</summary>
    public List<SeedBuilding> Buildings { get; set; } = [];
}

/// <summary>A building of a seeded school and its rooms.</summary>
public sealed class SeedBuilding
{
    public string Id { get; set; } = "";

    /// <summary>Display name; the id when empty.</summary>
    public string Name { get; set; } = "";

    public List<string> Rooms { get; set; } = [];
}

public sealed class SeedDevice
{
    public string Id { get; set; } = "";
    public string School { get; set; } = "";
    public string Room { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Password { get; set; } = "";
    public string HmacKey { get; set; } = "";
}

internal static class Seeder
{
    public static async Task ApplyAsync(IRegistryGrain registry, SeedOptions seed)
    {
        if (seed.File is { Length: > 0 } file)
        {
            var more = System.Text.Json.JsonSerializer.Deserialize<SeedOptions>(await System.IO.File.ReadAllTextAsync(file).ConfigureAwait(false),
                new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))
                ?? throw new InvalidOperationException($"Seed file '{file}' is empty.");
            seed = new SeedOptions { Schools = [.. seed.Schools, .. more.Schools], Devices = [.. seed.Devices, .. more.Devices] };
        }
        foreach (var school in seed.Schools)
        {
            var known = await registry.ListSchools().ConfigureAwait(false);
            if (!known.Any(s => s.Id == school.Id))
                await registry.UpsertSchool(new SchoolSpec(school.Id, school.Id, school.TimeZoneId, SchoolGrain.DefaultOpeningHours, []), "seed").ConfigureAwait(false);
            var buildings = await registry.ListBuildings(school.Id).ConfigureAwait(false);
            foreach (var building in school.Buildings)
                if (!buildings.Any(b => b.Id == building.Id))
                    await registry.UpsertBuilding(new BuildingSpec(school.Id, building.Id, building.Name is { Length: > 0 } name ? name : building.Id), "seed").ConfigureAwait(false);
            var rooms = await registry.ListRooms(school.Id).ConfigureAwait(false);
            foreach (var room in school.Rooms)
                if (!rooms.Any(r => r.Id == room))
                    await registry.UpsertRoom(new RoomSpec(school.Id, room, room), "seed").ConfigureAwait(false);
            foreach (var building in school.Buildings)
                foreach (var room in building.Rooms)
                    if (!rooms.Any(r => r.Id == room))
                        await registry.UpsertRoom(new RoomSpec(school.Id, room, room, Building: building.Id), "seed").ConfigureAwait(false);
        }
        foreach (var d in seed.Devices)
        {
            if (await registry.GetDevice(d.Id).ConfigureAwait(false) is not null) continue;
            if (!WireNames.TryParse<DeviceKind>(d.Kind.AsSpan(), out var kind))
                throw new InvalidOperationException($"Seed device '{d.Id}' has kind '{d.Kind}'; use energy, env, door, sign or maker.");
            await registry.ImportDevice(new DeviceSpec(d.School, d.Room, kind, d.Id), d.Password, d.HmacKey, "seed").ConfigureAwait(false);
        }
    }
}
