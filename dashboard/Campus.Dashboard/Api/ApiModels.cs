using Campus.Controller.Grains;

namespace Campus.Dashboard.Api;

/// <summary>One page of a list; <see cref="Total"/> counts the whole list.</summary>
public sealed record PageOf<T>(IReadOnlyList<T> Items, int Offset, int Limit, int Total);

/// <summary>A keyset page of a history list; pass <see cref="Next"/> as <c>after</c> for the next page.</summary>
public sealed record HistoryPage<T>(IReadOnlyList<T> Items, string? Next);

public sealed record MeResponse(string UserName, string DisplayName, string Role, string? School);

public sealed record SchoolSummary(string Id, string Name, string TimeZoneId, double PowerW, int DevicesOnline, int DevicesOffline, int OpenAlerts, bool Lockdown);

public sealed record RoomSummary(string Id, string Name, double PowerW, double EnergyTodayKwh, bool Occupied, int DevicesOnline, int DevicesOffline, int OpenAlerts, string Building = BuildingSpec.DefaultId);

/// <summary>A building with its rooms' live sums.</summary>
public sealed record BuildingSummary(string Id, string Name, int Rooms, double PowerW, double EnergyTodayKwh, int OccupiedRooms, int DevicesOnline, int DevicesOffline, int OpenAlerts);

public sealed record AlertActionRequest(string? Note);

public sealed record LockdownRequest(string Message, bool Confirm);

public sealed record CreateDeviceRequest(string Room, string Kind, string Id, string? Name);

public sealed record CreateSchoolRequest(string Id, string Name, string TimeZoneId);

public sealed record LoginRequest(string UserName, string Password);

public sealed record TimetableRequest(string Date, IReadOnlyList<Campus.Contracts.Lesson> Lessons);

public sealed record NoticesRequest(IReadOnlyList<Campus.Contracts.Notice> Items);

public sealed record SignPushResult(IReadOnlyList<string> Signs, string CommandId);

public sealed record AccessRow(long Id, DateTimeOffset At, string Room, string Door, string Event, string? Person, string? Card, string? Result, string? Reason, string? Source);

public sealed record AuditRow(long Id, DateTimeOffset At, string? School, string Actor, string Action, string Target, string? Details);

internal static class Summaries
{
    public static RoomSummary Of(RoomSpec spec, RoomSnapshot? live, IReadOnlyDictionary<string, int>? alerts) => new(
        spec.Id, spec.Name, live?.PowerW ?? 0, live?.EnergyTodayKwh ?? 0, live?.Occupied ?? false,
        live?.DevicesOnline ?? 0, live?.DevicesOffline ?? 0, alerts?.GetValueOrDefault(spec.Id) ?? 0, spec.BuildingOrDefault());
}
