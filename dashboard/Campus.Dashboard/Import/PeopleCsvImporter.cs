using System.Globalization;
using Campus.Controller.Domain;
using Campus.Controller.Grains;
using CsvHelper;
using CsvHelper.Configuration;

namespace Campus.Dashboard.Import;

/// <summary>One rejected CSV row: its line number in the file, the person id if any, and why.</summary>
public sealed record ImportError(int Line, string? Id, string Reason);

/// <summary>What an import did: rows read, people imported, and every bad row with its reason.</summary>
public sealed record ImportReport(int Rows, int Imported, IReadOnlyList<ImportError> Errors);

/// <summary>
/// Imports the people and cards of one school from CSV with the header
/// <c>id,name,role,cards,zones</c> (<c>cards</c> and <c>zones</c> separated by <c>;</c>; an optional
/// <c>school</c> column must name the school imported into). Each good row is saved; each bad one
/// is reported with its line and reason and changes nothing. The good rows are saved together,
/// in one call (<see cref="IRegistryGrain.UpsertPeople"/>), after the whole file is read; a row
/// that the registry refuses is reported with its line like a row refused here.
/// </summary>
internal sealed class PeopleCsvImporter
{
    /// <summary>Rows per file: as many as the registry takes in one call.</summary>
    public const int MaxRows = IRegistryGrain.MaxPeoplePerCall;
    private static readonly string[] Required = ["id", "name", "role"];

    /// <param name="zoneSchedules">The weekly schedule of each zone (a grant gets its zone's); the school's opening hours for a zone not in it.</param>
    /// <param name="saveMany">Saves the good rows' people (at most <see cref="MaxRows"/>) and reports each one it refused by its index in the list.</param>
    public static async Task<ImportReport> ImportAsync(TextReader text, SchoolSpec school, Func<IReadOnlyList<PersonProfile>, Task<PeopleUpsertResult>> saveMany, CancellationToken cancellationToken = default, IReadOnlyDictionary<string, WeeklySchedule>? zoneSchedules = null)
    {
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            PrepareHeaderForMatch = a => a.Header.Trim().ToLowerInvariant(),
            MissingFieldFound = null,
            BadDataFound = null,
            TrimOptions = TrimOptions.Trim,
        };
        using var csv = new CsvReader(text, config);
        var errors = new List<ImportError>();
        if (!await csv.ReadAsync().ConfigureAwait(false))
            return new ImportReport(0, 0, [new ImportError(1, null, "The file is empty; the first line must be the header id,name,role,cards,zones.")]);
        csv.ReadHeader();
        var header = csv.HeaderRecord ?? [];
        var missing = Required.Where(r => !header.Any(h => string.Equals(h.Trim(), r, StringComparison.OrdinalIgnoreCase))).ToList();
        if (missing.Count > 0)
            return new ImportReport(0, 0, [new ImportError(1, null, $"The header lacks the column(s) {string.Join(", ", missing)}; expected id,name,role,cards,zones.")]);
        var hasSchool = header.Any(h => string.Equals(h.Trim(), "school", StringComparison.OrdinalIgnoreCase));
        var zones = school.Zones.Select(z => z.Id).ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var people = new List<PersonProfile>();
        var lines = new List<int>();
        var rows = 0;
        while (await csv.ReadAsync().ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var line = csv.Parser.RawRow;
            if (++rows > MaxRows)
            {
                errors.Add(new ImportError(line, null, $"More than {MaxRows} rows; split the file."));
                break;
            }
            var id = csv.GetField("id")?.Trim();
            var problem = Check(csv, id, hasSchool, school, zones, zoneSchedules, seen, out var person);
            if (problem is not null)
            {
                errors.Add(new ImportError(line, string.IsNullOrEmpty(id) ? null : id, problem));
                continue;
            }
            people.Add(person!);
            lines.Add(line);
        }
        if (people.Count == 0) return new ImportReport(rows, 0, errors);
        var saved = await saveMany(people).ConfigureAwait(false);
        foreach (var refused in saved.Errors)
            errors.Add(new ImportError(lines[refused.Row], refused.PersonId, refused.Reason));
        errors.Sort((a, b) => a.Line.CompareTo(b.Line)); // in file order, as the rows were read
        return new ImportReport(rows, saved.Applied, errors);
    }

    private static string? Check(CsvReader csv, string? id, bool hasSchool, SchoolSpec school, HashSet<string> zones, IReadOnlyDictionary<string, WeeklySchedule>? zoneSchedules, HashSet<string> seen, out PersonProfile? person)
    {
        person = null;
        if (string.IsNullOrEmpty(id)) return "The id is empty.";
        if (id.Length > 64) return "The id is longer than 64 characters.";
        if (!seen.Add(id)) return $"The id '{id}' appears more than once in the file.";
        var name = csv.GetField("name")?.Trim();
        if (string.IsNullOrEmpty(name)) return "The name is empty.";
        if (hasSchool)
        {
            var s = csv.GetField("school")?.Trim();
            if (!string.IsNullOrEmpty(s) && s != school.Id) return $"The row is for school '{s}', but this import is for '{school.Id}'.";
        }
        var roleText = csv.GetField("role")?.Trim();
        if (!Enum.TryParse<PersonRole>(roleText, ignoreCase: true, out var role) || !Enum.IsDefined(role) || int.TryParse(roleText, out _))
            return $"Unknown role '{roleText}'; use one of {string.Join(", ", Enum.GetNames<PersonRole>().Select(n => n.ToLowerInvariant()))}.";
        var cards = new List<AccessCard>();
        foreach (var raw in Split(csv.TryGetField<string>("cards", out var c) ? c : null))
        {
            var uid = raw.ToUpperInvariant();
            if (uid.Length is not (8 or 14) || !uid.All(char.IsAsciiHexDigit)) return $"Card '{raw}' is not a UID of 8 or 14 hex digits.";
            cards.Add(new AccessCard(uid, CardStatus.Active));
        }
        var grants = new List<ZoneGrant>();
        foreach (var zone in Split(csv.TryGetField<string>("zones", out var z) ? z : null))
        {
            if (!zones.Contains(zone)) return $"Zone '{zone}' is not a zone of school {school.Id}.";
            grants.Add(new ZoneGrant(zone, zoneSchedules?.GetValueOrDefault(zone) ?? school.OpeningHours));
        }
        person = new PersonProfile(id, name, role, school.Id, cards, grants);
        return null;
    }

    private static IEnumerable<string> Split(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
