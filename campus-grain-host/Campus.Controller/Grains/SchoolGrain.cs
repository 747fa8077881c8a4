using Campus.Contracts;
using Campus.Controller.Domain;
using Campus.Controller.History;
using Campus.Controller.Services;
using Campus.Grains;
using Campus.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace Campus.Controller.Grains;

/// <summary>A school's persisted state.</summary>
internal sealed class SchoolState
{
    public SchoolSpec? Spec { get; set; }
    public Dictionary<string, DeviceSpec> Devices { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, PersonProfile> People { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, BuildingSpec> Buildings { get; set; } = new(StringComparer.Ordinal);
    public AlertBook Alerts { get; set; } = new();
    public LockdownState Lockdown { get; set; } = new();
    public int AllowListVersion { get; set; }

    /// <summary>The school's UTC offset (minutes) that the doors' allow-lists were last pushed with.</summary>
    public int? AllowListOffsetMin { get; set; }

    /// <summary>Changes of alerts whose alert-history rows the history store refused (an outage), in order.</summary>
    public List<AlertSnapshot> UnwrittenTrail { get; set; } = [];

    /// <summary>Per "source/type", the order of the last device signal applied (see <see cref="AlertSignal.Order"/>).</summary>
    public Dictionary<string, long> SignalOrders { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Audit entries of users' actions on alerts that the history store refused, in order.</summary>
    public List<AuditEntry> UnwrittenAudit { get; set; } = [];
}

/// <summary>
/// A school: configuration, the card index and access decisions, alerts and their lifecycle,
/// lockdown, allow-lists, and the live aggregate of its rooms. It never calls rooms or devices
/// (they call it), so calls between grains cannot form a cycle.
/// </summary>
/// <remarks>
/// A door's allow-list holds weekly windows in local time and the school's UTC offset at push
/// time; the reader evaluates the windows itself, so midnight and the start of a week need no new
/// list, but a change of the offset (daylight saving time) does. A reminder
/// (<see cref="OffsetReminder"/>) wakes the school at the zone's next offset change and the lists
/// are pushed again with the new offset; after a restart that missed the instant, the reminder's
/// hourly period, or the school's next activation, catches up. Each list also carries that next
/// change (<see cref="AllowlistCommand.NextOffsetAt"/>) and the zone's changes of the next two
/// years (<see cref="AllowlistCommand.OffsetChanges"/>), so a door whose uplink is down at those
/// instants switches offset by its own clock at each of them.
/// </remarks>
internal sealed class SchoolGrain(
    [PersistentState("school")] IPersistentState<SchoolState> state,
    IHistoryStore history,
    ICommandPublisher commands,
    TimeProvider time,
    ControllerMetrics metrics,
    ILogger<SchoolGrain> logger) : Grain, ISchoolGrain, IRemindable
{
    /// <summary>The reminder that re-pushes the allow-lists when the school's UTC offset changes.</summary>
    internal const string OffsetReminder = "allowlist-offset";

    private static readonly TimeSpan MaxReminderDue = TimeSpan.FromDays(7);
    public static readonly WeeklySchedule DefaultOpeningHours = new([TimeWindow.Parse("12345", "07:00", "18:00")]);

    private readonly ObserverSet<ISchoolObserver> _observers = new(time);
    private readonly Dictionary<string, RoomSnapshot> _rooms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PersonProfile> _byCard = new(StringComparer.OrdinalIgnoreCase);
    private TimeZoneInfo _zone = TimeZoneInfo.Utc;
    private IGrainTimer? _allowListTimer;
    private bool _allowListsStale;
    private DateTimeOffset? _offsetReminderAt;
    private bool _offsetReminderKnown;

    private SchoolState S => state.State;
    private string SchoolId => this.GetPrimaryKeyString();
    private DateTimeOffset Now => time.GetUtcNow();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (S.Spec is { } spec) _zone = TimeZoneInfo.FindSystemTimeZoneById(spec.TimeZoneId);
        foreach (var p in S.People.Values) IndexCards(p);
        if (S.AllowListOffsetMin is { } pushed && pushed != OffsetMinutes(Now) && HasDoors()) ScheduleAllowLists();
        if (S.UnwrittenTrail.Count > 0 || S.UnwrittenAudit.Count > 0) ArmTrailRetry(); // kept before a restart
        return Task.CompletedTask;
    }

    private int OffsetMinutes(DateTimeOffset at) => (int)_zone.GetUtcOffset(at).TotalMinutes;

    private bool HasDoors()
    {
        foreach (var d in S.Devices.Values) if (d.Kind == DeviceKind.Door) return true;
        return false;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != OffsetReminder) return;
        _offsetReminderKnown = false; // it fired: arm it again for the next change
        _offsetReminderAt = null;
        if (HasDoors() && S.AllowListOffsetMin != OffsetMinutes(Now)) await PushAllowLists();
        else await ArmOffsetReminderAsync();
    }

    /// <summary>Keeps one reminder at the zone's next offset change while the school has doors (none otherwise).</summary>
    private Task ArmOffsetReminderAsync()
    {
        var now = Now;
        return ArmOffsetReminderAsync(now, HasDoors() ? ZoneOffsets.NextChange(_zone, now) : null);
    }

    /// <summary>Keeps one reminder at <paramref name="next"/>, the zone's next offset change after <paramref name="now"/> (none when null).</summary>
    private async Task ArmOffsetReminderAsync(DateTimeOffset now, DateTimeOffset? next)
    {
        if (_offsetReminderKnown && next == _offsetReminderAt) return;
        if (next is { } at)
        {
            // Far changes wake the school every MaxReminderDue to look again (timers take at most ~49 days).
            var due = at - now < MaxReminderDue ? at - now : MaxReminderDue;
            // At the instant (a tick that comes early sees the old offset and arms again); hourly after
            // that, so a host that was down at the instant catches up within the hour of its restart.
            await this.RegisterOrUpdateReminder(OffsetReminder, due, TimeSpan.FromHours(1));
        }
        else if (await this.GetReminder(OffsetReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
        _offsetReminderAt = next;
        _offsetReminderKnown = true;
    }

    public async Task Configure(SchoolSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!string.Equals(spec.Id, SchoolId, StringComparison.Ordinal))
            throw new ArgumentException($"Spec is for school '{spec.Id}' but this grain is '{SchoolId}'.", nameof(spec));
        _zone = TimeZoneInfo.FindSystemTimeZoneById(spec.TimeZoneId);
        S.Spec = spec;
        await WriteSchoolAsync();
        ScheduleAllowLists();
    }

    public Task<SchoolSpec?> GetSpec() => Task.FromResult(S.Spec);

    public async Task AddDevice(DeviceSpec device)
    {
        ArgumentNullException.ThrowIfNull(device);
        // The school keeps only the devices it commands (doors: allow-lists, unlock, lockdown; class
        // signs: lockdown), so registering meters and sensors does not rewrite its state.
        if (device.Kind is not (DeviceKind.Door or DeviceKind.Sign))
        {
            if (S.Devices.Remove(device.Id)) await WriteSchoolAsync();
            return;
        }
        S.Devices[device.Id] = device;
        await WriteSchoolAsync();
        if (device.Kind == DeviceKind.Door) ScheduleAllowLists();
    }

    public Task SetPerson(PersonProfile person)
    {
        ArgumentNullException.ThrowIfNull(person);
        return SetPeople([person]);
    }

    public async Task SetPeople(IReadOnlyList<PersonProfile> people)
    {
        ArgumentNullException.ThrowIfNull(people);
        foreach (var person in people)
            if (person is null) throw new ArgumentException("The list of people holds a null entry; give only people.", nameof(people));
        foreach (var person in people) ApplyPerson(person);
        await WriteSchoolAsync();
        ScheduleAllowLists();
    }

    private void ApplyPerson(PersonProfile person)
    {
        if (S.People.TryGetValue(person.Id, out var old))
            foreach (var c in old.Cards) _byCard.Remove(c.Uid);
        if (string.Equals(person.School, SchoolId, StringComparison.Ordinal))
        {
            S.People[person.Id] = person;
            IndexCards(person);
        }
        else
        {
            S.People.Remove(person.Id); // moved to another school
        }
    }

    public async Task SetBuilding(BuildingSpec building)
    {
        ArgumentNullException.ThrowIfNull(building);
        if (!string.Equals(building.School, SchoolId, StringComparison.Ordinal))
            throw new ArgumentException($"Building '{building.Id}' is of school '{building.School}' but this grain is '{SchoolId}'.", nameof(building));
        S.Buildings[building.Id] = building;
        await WriteSchoolAsync();
    }

    private void IndexCards(PersonProfile p)
    {
        foreach (var c in p.Cards) _byCard[c.Uid] = p;
    }

    public Task<AccessVerdict> DecideAccess(string door, string room, string card)
    {
        ArgumentException.ThrowIfNullOrEmpty(card);
        var now = Now;
        _byCard.TryGetValue(card, out var person);
        var decision = AccessPolicy.Decide(person, card, SchoolId, ZonesOf(room), S.Lockdown.Active, now, _zone);
        var afterHours = !OpeningHours.Contains(now, _zone);
        return Task.FromResult(new AccessVerdict(decision, afterHours, person?.Role));
    }

    private WeeklySchedule OpeningHours => S.Spec?.OpeningHours ?? DefaultOpeningHours;

    private List<string> ZonesOf(string room)
    {
        var zones = new List<string>();
        if (S.Spec is null) return zones;
        foreach (var z in S.Spec.Zones)
            if (z.Rooms.Contains(room, StringComparer.Ordinal)) zones.Add(z.Id);
        return zones;
    }

    public async Task Signal(string source, string? room, AlertSignal signal)
    {
        var now = Now;
        Alert? changed;
        if (signal.Clears)
        {
            changed = S.Alerts.ResolveCondition(source, signal.Type, signal.Message, now);
            if (changed is null) return;
        }
        else
        {
            if (signal.Order is { } order)
            {
                var key = string.Concat(source, "/", signal.Type.ToString());
                if (S.SignalOrders.TryGetValue(key, out var last) && order == last)
                {
                    // Sent again (a device's kept signal whose first sending reached this book): nothing changes,
                    // but the device forgets it only once the state holds it. (Only the same order: a reader that
                    // was replaced starts its boot count again, and its alerts must not be taken for old ones.)
                    if (_stateUnwritten) await WriteSchoolAsync();
                    return;
                }
                S.SignalOrders[key] = order;
            }
            var (alert, isNew) = S.Alerts.Raise(SchoolId, room, source, signal.Type, signal.Severity, signal.Message, now);
            changed = alert;
            if (isNew)
            {
                metrics.AlertRaised(signal.Type.ToString());
                Log.AlertRaised(logger, alert.Id, signal.Type.ToString(), SchoolId, source, signal.Message);
            }
        }
        await AlertChangedAsync(changed, null, signal.Clears ? signal.Message : null);
    }

    /// <summary>
    /// An alert changed in the school's book. The live views hear of it first; then the state is written and the
    /// change's row appended to the alert history. A row the history store refuses is kept in the school's state,
    /// in order with later ones, and a timer appends the kept rows once the store takes them again (see
    /// <see cref="RetryTrailAsync"/>); the call itself succeeds, since the change is durable. When the state
    /// cannot be written, the row is kept in memory, the timer writes the state first, and the caller gets the error.
    /// </summary>
    private async Task AlertChangedAsync(Alert alert, string? by, string? note)
    {
        var view = AlertView.Of(alert);
        _observers.Notify(o => o.AlertChanged(view));
        var row = new AlertSnapshot
        {
            SchoolId = SchoolId,
            AlertId = alert.Id,
            Source = alert.Source,
            Type = alert.Type.ToString(),
            Severity = alert.Severity.ToString(),
            State = alert.Status.ToString().ToLowerInvariant(),
            RoomId = alert.Room,
            Message = alert.Message,
            Count = alert.Count,
            ChangedBy = by,
            Note = note,
            ChangedAt = Now,
        };
        // Behind rows still kept, a row waits its turn: the timer appends them in order.
        var behind = S.UnwrittenTrail.Count > 0;
        if (behind) KeepTrailRow(row);
        try
        {
            await WriteSchoolAsync();
        }
        catch
        {
            if (!behind) KeepTrailRow(row);
            _stateUnwritten = true;
            throw;
        }
        if (behind) return;
        try
        {
            await history.AppendAlertAsync(row);
            return;
        }
        catch (Exception e)
        {
            Log.AlertTrailNotWritten(logger, SchoolId, 1, TrailRetry, e);
        }
        KeepTrailRow(row);
        _stateUnwritten = true;
        try
        {
            await WriteSchoolAsync();
        }
        catch (Exception e)
        {
            Log.AlertTrailNotWritten(logger, SchoolId, S.UnwrittenTrail.Count, TrailRetry, e);
        }
    }

    /// <summary>How often kept rows of the alert history (and a state that could not be written with them) are tried again.</summary>
    internal static readonly TimeSpan TrailRetry = TimeSpan.FromSeconds(30);

    /// <summary>At most this many rows are kept; beyond, the oldest is dropped (and logged as an error).</summary>
    internal const int MaxUnwrittenTrail = 1000;

    /// <summary>At most this many kept rows are appended per tick, so that the school's other calls do not wait long.</summary>
    private const int TrailRowsPerTick = 200;

    private IGrainTimer? _trailTimer;
    private bool _stateUnwritten;

    /// <summary>
    /// Writes the school's state. A stored version other than the one read (a write whose commit went through while
    /// its answer was lost) would fail every later write: the grain starts again from what is stored.
    /// </summary>
    private async Task WriteSchoolAsync()
    {
        try
        {
            await state.WriteStateAsync();
            _stateUnwritten = false;
        }
        catch (InconsistentStateException)
        {
            DeactivateOnIdle();
            throw;
        }
    }

    private void KeepAuditEntry(AuditEntry entry)
    {
        Keep(S.UnwrittenAudit, entry, dropped => Log.AuditEntryDropped(logger, SchoolId, dropped.Action, dropped.Target, dropped.At));
        _stateUnwritten = true; // until the state written next (AlertChangedAsync's) carries it
    }

    private void KeepTrailRow(AlertSnapshot row) =>
        Keep(S.UnwrittenTrail, row, dropped => Log.AlertTrailDropped(logger, SchoolId, dropped.AlertId, dropped.ChangedAt));

    /// <summary>Keeps an item for the timer to append, dropping (and reporting) the oldest beyond <see cref="MaxUnwrittenTrail"/>.</summary>
    private void Keep<T>(List<T> kept, T item, Action<T> dropped)
    {
        if (kept.Count >= MaxUnwrittenTrail)
        {
            dropped(kept[0]);
            kept.RemoveAt(0);
        }
        kept.Add(item);
        ArmTrailRetry();
    }

    /// <summary>A timer that keeps the school active while rows are kept or its state is unwritten.</summary>
    private void ArmTrailRetry()
    {
        if (_trailTimer is not null) return;
        try
        {
            _trailTimer = RegisterGrainTimer(_ => RetryTrailAsync(), new GrainTimerCreationOptions(TrailRetry, TrailRetry) { KeepAlive = true });
        }
        catch (InvalidOperationException)
        {
            // Deactivating: OnDeactivateAsync writes what is kept, and the next activation arms the timer again.
        }
    }

    /// <summary>
    /// Writes the state if it could not be written, then appends kept rows in order and writes the state without
    /// them. A row appended again after a crash between the two is the one duplicate this can make.
    /// </summary>
    private async Task RetryTrailAsync()
    {
        try
        {
            if (_stateUnwritten) await WriteSchoolAsync();
            var appended = 0;
            try
            {
                while (S.UnwrittenAudit.Count > 0 && appended < TrailRowsPerTick)
                {
                    await history.AppendAuditAsync(S.UnwrittenAudit[0]);
                    S.UnwrittenAudit.RemoveAt(0);
                    appended++;
                }
                while (S.UnwrittenTrail.Count > 0 && appended < TrailRowsPerTick)
                {
                    await history.AppendAlertAsync(S.UnwrittenTrail[0]);
                    S.UnwrittenTrail.RemoveAt(0);
                    appended++;
                }
            }
            finally
            {
                if (appended > 0) _stateUnwritten = true;
            }
            if (_stateUnwritten) await WriteSchoolAsync();
            if (S.UnwrittenTrail.Count == 0 && S.UnwrittenAudit.Count == 0)
            {
                _trailTimer?.Dispose();
                _trailTimer = null;
            }
        }
        catch (Exception e)
        {
            Log.AlertTrailNotWritten(logger, SchoolId, S.UnwrittenTrail.Count, TrailRetry, e);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (!_stateUnwritten && S.UnwrittenTrail.Count == 0 && S.UnwrittenAudit.Count == 0) return;
        try
        {
            await WriteSchoolAsync();
        }
        catch (Exception e)
        {
            Log.AlertTrailLost(logger, SchoolId, S.UnwrittenTrail.Count, e);
        }
    }

    public Task<IReadOnlyList<AlertView>> GetAlerts(bool includeClosed = false)
    {
        var list = new List<AlertView>();
        foreach (var a in S.Alerts.Alerts)
            if (includeClosed || a.Status != AlertStatus.Closed) list.Add(AlertView.Of(a));
        return Task.FromResult<IReadOnlyList<AlertView>>(list);
    }

    public Task<AlertView> AcknowledgeAlert(string alertId, string by, string? note) =>
        HandleAsync("alert.acknowledge", alertId, by, note, (id, who, n, t) => S.Alerts.Acknowledge(id, who, n, t));

    public Task<AlertView> ResolveAlert(string alertId, string by, string? note) =>
        HandleAsync("alert.resolve", alertId, by, note, (id, who, n, t) => S.Alerts.Resolve(id, who, n, t));

    public Task<AlertView> CloseAlert(string alertId, string by, string? note) =>
        HandleAsync("alert.close", alertId, by, note, (id, who, n, t) => S.Alerts.Close(id, who, n, t));

    private async Task<AlertView> HandleAsync(string action, string alertId, string by, string? note, Func<string, string, string?, DateTimeOffset, Alert> move)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(alertId);
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        var alert = move(alertId, by, note, Now);
        var audit = new AuditEntry { SchoolId = SchoolId, Actor = by, Action = action, Target = alertId, Details = note, At = Now };
        if (S.UnwrittenAudit.Count > 0)
        {
            KeepAuditEntry(audit); // behind the kept ones, in order
        }
        else
        {
            try
            {
                await history.AppendAuditAsync(audit);
            }
            catch (Exception e)
            {
                // The change is made: its audit entry is kept with the state written next, like the alert's trail row.
                Log.AlertTrailNotWritten(logger, SchoolId, S.UnwrittenTrail.Count + 1, TrailRetry, e);
                KeepAuditEntry(audit);
            }
        }
        await AlertChangedAsync(alert, by, note);
        return AlertView.Of(alert);
    }

    private ValueTask AuditAsync(string actor, string action, string target, string? details) =>
        history.AppendAuditAsync(new AuditEntry { SchoolId = SchoolId, Actor = actor, Action = action, Target = target, Details = details, At = Now });

    public async Task<LockdownView> StartLockdown(string by, string message)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        ArgumentException.ThrowIfNullOrWhiteSpace(message);
        return await SendLockdownAsync(true, message, by);
    }

    public async Task<LockdownView> LiftLockdown(string by)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        return await SendLockdownAsync(false, null, by);
    }

    private async Task<LockdownView> SendLockdownAsync(bool active, string? message, string by)
    {
        var now = Now;
        var commandId = CommandIds.Next();
        var targets = new List<DeviceSpec>();
        foreach (var d in S.Devices.Values)
            if (d.Kind is DeviceKind.Door or DeviceKind.Sign) targets.Add(d);
        S.Lockdown.Begin(commandId, active, message, by, targets.Select(t => t.Id), now);
        await WriteSchoolAsync();
        await AuditAsync(by, active ? "lockdown.start" : "lockdown.lift", SchoolId, message);
        var command = new LockdownCommand { Id = commandId, Ts = now.ToUnixTimeMilliseconds(), Active = active, Message = message };
        foreach (var t in targets)
            await commands.PublishAsync(DeviceTopic.Command(SchoolId, t.Room, t.Kind, t.Id, CommandNames.Lockdown), command);
        Log.Lockdown(logger, active ? "started" : "lifted", SchoolId, by, targets.Count);
        var view = LockdownViewOf();
        _observers.Notify(o => o.LockdownChanged(view));
        return view;
    }

    public Task<LockdownView> GetLockdown() => Task.FromResult(LockdownViewOf());

    public async Task LockdownAcknowledged(string device, string commandId, bool ok, string? error)
    {
        if (!S.Lockdown.Acknowledge(device, commandId, ok, error, Now)) return;
        await WriteSchoolAsync();
        var view = LockdownViewOf();
        _observers.Notify(o => o.LockdownChanged(view));
    }

    private LockdownView LockdownViewOf()
    {
        var l = S.Lockdown;
        return new LockdownView(SchoolId, l.Active, l.Message, l.By, l.Since, l.CommandId, [.. l.Targets], [.. l.Acks.Values], l.NotAcknowledged());
    }

    public async Task UnlockDoor(string door, string by, int? openMs)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        if (!S.Devices.TryGetValue(door, out var d) || d.Kind != DeviceKind.Door)
            throw new ArgumentException($"'{door}' is not a door of school {SchoolId}.", nameof(door));
        await AuditAsync(by, "unlock", door, null);
        await commands.PublishAsync(DeviceTopic.Command(SchoolId, d.Room, d.Kind, d.Id, CommandNames.Unlock),
            new UnlockCommand { Id = CommandIds.Next(), Ts = Now.ToUnixTimeMilliseconds(), OpenMs = openMs, By = by });
    }

    /// <summary>Pushes the lists a second from now, once for a burst of changes (and not if they were pushed meanwhile).</summary>
    private void ScheduleAllowLists()
    {
        _allowListsStale = true;
        if (_allowListTimer is not null) return;
        _allowListTimer = RegisterGrainTimer(async _ =>
        {
            _allowListTimer?.Dispose();
            _allowListTimer = null;
            if (_allowListsStale) await PushAllowLists();
        }, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
    }

    public async Task PushAllowLists()
    {
        var now = Now;
        var offset = OffsetMinutes(now);
        // The zone's changes of the next two years travel with the lists, so a door that is offline at
        // those instants switches offset by its own clock (the push at an instant reaches only connected
        // doors); the first of them also as nextOffsetAt/nextOffsetMin, for doors that know only those.
        var changes = HasDoors() ? ZoneOffsets.Changes(_zone, now, ZoneOffsets.ChangesHorizon, AllowlistCommand.MaxOffsetChanges) : [];
        DateTimeOffset? next = changes.Count > 0 ? changes[0].At : null;
        int? nextOffset = changes.Count > 0 ? changes[0].OffsetMin : null;
        List<OffsetChange>? offsetChanges = changes.Count > 0
            ? changes.Select(c => new OffsetChange { At = c.At.ToUnixTimeMilliseconds(), Min = c.OffsetMin }).ToList()
            : null;
        S.AllowListVersion++;
        S.AllowListOffsetMin = offset;
        _allowListsStale = false;
        foreach (var d in S.Devices.Values)
        {
            if (d.Kind != DeviceKind.Door) continue;
            var entries = AccessPolicy.BuildAllowList(S.People.Values, SchoolId, ZonesOf(d.Room));
            var command = new AllowlistCommand
            {
                Id = CommandIds.Next(),
                Ts = now.ToUnixTimeMilliseconds(),
                Version = S.AllowListVersion,
                TzOffsetMin = offset,
                NextOffsetAt = next?.ToUnixTimeMilliseconds(),
                NextOffsetMin = nextOffset,
                OffsetChanges = offsetChanges,
                Entries = entries.Select(e => new AllowlistEntry
                {
                    Card = e.Card,
                    Windows = e.ReaderWindows().Select(w => new AccessWindow { Days = w.Days, From = w.From.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture), To = w.To.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture) }).ToList(),
                }).ToList(),
            };
            await commands.PublishAsync(DeviceTopic.Command(SchoolId, d.Room, d.Kind, d.Id, CommandNames.Allowlist), command);
        }
        await WriteSchoolAsync();
        await ArmOffsetReminderAsync(now, next);
    }

    public Task<SchoolClock> ReportRoom(RoomSnapshot room)
    {
        ArgumentNullException.ThrowIfNull(room);
        _rooms[room.Room] = room;
        if (_observers.Count > 0)
        {
            var snapshot = BuildSnapshot();
            _observers.Notify(o => o.SchoolChanged(snapshot));
        }
        return GetClock();
    }

    public Task<SchoolClock> GetClock() => Task.FromResult(new SchoolClock(S.Spec?.TimeZoneId ?? "UTC", OpeningHours));

    public Task<SchoolSnapshot> GetSnapshot() => Task.FromResult(BuildSnapshot());

    private SchoolSnapshot BuildSnapshot()
    {
        double power = 0, energy = 0;
        int occupied = 0, doorsOpen = 0, online = 0, offline = 0;
        foreach (var r in _rooms.Values)
        {
            power += r.PowerW;
            energy += r.EnergyTodayKwh;
            if (r.Occupied) occupied++;
            foreach (var d in r.Doors.Values) if (d == DoorState.Open) doorsOpen++;
            online += r.DevicesOnline;
            offline += r.DevicesOffline;
        }
        var byRoom = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var a in S.Alerts.Alerts)
            if (a.IsActive && a.Room is { } room) byRoom[room] = byRoom.GetValueOrDefault(room) + 1;
        var rooms = _rooms.Values.OrderBy(r => r.Room, StringComparer.Ordinal).ToList();
        return new SchoolSnapshot(SchoolId, power, energy, occupied, doorsOpen, online, offline, S.Alerts.ActiveCount(), S.Lockdown.Active, rooms, byRoom, Now, BuildingsOf(rooms));
    }

    /// <summary>The rooms that have reported, summed per building (ordered by building id).</summary>
    private List<BuildingSnapshot> BuildingsOf(List<RoomSnapshot> rooms)
    {
        var list = new List<BuildingSnapshot>();
        foreach (var group in rooms.GroupBy(r => r.Building, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var name = S.Buildings.TryGetValue(group.Key, out var b) ? b.Name : group.Key == BuildingSpec.DefaultId ? BuildingSpec.DefaultName : group.Key;
            int occupied = 0, doorsOpen = 0, online = 0, offline = 0;
            double power = 0, energy = 0;
            var ids = new List<string>();
            foreach (var r in group)
            {
                power += r.PowerW;
                energy += r.EnergyTodayKwh;
                if (r.Occupied) occupied++;
                foreach (var d in r.Doors.Values) if (d == DoorState.Open) doorsOpen++;
                online += r.DevicesOnline;
                offline += r.DevicesOffline;
                ids.Add(r.Room);
            }
            list.Add(new BuildingSnapshot(group.Key, name, power, energy, occupied, doorsOpen, online, offline, ids));
        }
        return list;
    }

    public Task Subscribe(ISchoolObserver observer)
    {
        _observers.Subscribe(observer);
        return Task.CompletedTask;
    }

    public Task Unsubscribe(ISchoolObserver observer)
    {
        _observers.Unsubscribe(observer);
        return Task.CompletedTask;
    }
}
