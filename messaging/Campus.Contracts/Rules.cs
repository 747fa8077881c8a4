using System.Globalization;

namespace Campus.Contracts;

/// <summary>Per-field value rules, applied after the scan and the deserializer. Allocates only on rejection.</summary>
internal static class Rules
{
    public static Failure? Check(Telemetry t) =>
        Common(t.Seq, t.Ts)
        ?? Range(t.EnergyKwh, "energyKwh", 0, 1e12)
        ?? Range(t.PowerW, "powerW", 0, 1e9)
        ?? Range(t.VoltageV, "voltageV", 0, 1000)
        ?? Range(t.CurrentA, "currentA", 0, 1e5)
        ?? Range(t.PowerFactor, "powerFactor", -1, 1)
        ?? Range(t.TemperatureC, "temperatureC", -60, 150)
        ?? Range(t.HumidityPct, "humidityPct", 0, 100);

    public static Failure? Check(MakerReading m)
    {
        var f = Common(m.Seq, m.Ts) ?? TextId(m.Project, "project");
        if (f is not null)
        {
            return f;
        }
        if (m.Readings.Count > 32)
        {
            return OutOfRange("readings", $"Member 'readings' has {m.Readings.Count} sensors; at most 32 are allowed.");
        }
        foreach (var (name, value) in m.Readings)
        {
            if (!IsReadingName(name))
            {
                return OutOfRange("readings", $"Member 'readings' has the sensor name '{name}'; names are 1-32 characters of A-Z, a-z, 0-9, '_' or '-'.");
            }
            if (!double.IsFinite(value))
            {
                return OutOfRange($"readings.{name}", $"Member 'readings.{name}' is not a finite number.");
            }
        }
        return null;
    }

    public static Failure? Check(DeviceStatus s)
    {
        if (s.State == DeviceState.Unknown)
        {
            return NotOneOf("state", "online, offline");
        }
        if (s.Boot is not null || s.Seq is not null || s.Ts is not null || s.State == DeviceState.Online)
        {
            // Only the offline last will may leave out boot, seq and ts.
            if (s.Boot is null)
            {
                return PayloadReader.Missing("boot");
            }
            if (s.Seq is null)
            {
                return PayloadReader.Missing("seq");
            }
            if (s.Ts is null)
            {
                return PayloadReader.Missing("ts");
            }
            if (Common(s.Seq.Value, s.Ts.Value) is { } f)
            {
                return f;
            }
        }
        return Text(s.Fw, "fw", 32, required: false)
            ?? Range(s.UptimeS, "uptimeS", 0, long.MaxValue)
            ?? Range(s.Rssi, "rssi", -127, 0);
    }

    public static Failure? Check(CommandAck a) =>
        Common(a.Seq, a.Ts) ?? TextId(a.Id, "id") ?? Text(a.Error, "error", 256, required: false);

    public static Failure? Check(DeviceEvent e)
    {
        if (Common(e.Seq, e.Ts) is { } common)
        {
            return common;
        }
        return e switch
        {
            AccessRequestEvent r => TextId(r.Req, "req") ?? Card(r.Card, "card"),
            AccessEvent a => (a.Req.Length == 0 ? null : TextId(a.Req, "req"))
                ?? Card(a.Card, "card")
                ?? Known(a.Result, "result", "granted, denied")
                ?? Known(a.Reason, "reason", "ok, unknown-card, card-blocked, outside-schedule, no-zone, lockdown, timeout")
                ?? Known(a.Source, "source", "controller, cache"),
            DoorEvent d => Known(d.State, "state", "open, closed"),
            TamperEvent t => Known(t.State, "state", "open, closed"),
            HeldOpenEvent h => Known(h.Stage, "stage", "pre-alarm, alarm"),
            CheckinEvent c => Card(c.Card, "card") ?? TextId(c.Lesson, "lesson"),
            MilestoneEvent m => TextId(m.Project, "project")
                ?? Known(m.Milestone, "milestone", "first-data, sensor-added, rule-triggered")
                ?? Text(m.Detail, "detail", 256, required: false),
            _ => null,
        };
    }

    public static Failure? Check(DeviceCommand c)
    {
        if ((TextId(c.Id, "id") ?? Range(c.Ts, "ts", 0, long.MaxValue)) is { } envelope)
        {
            return envelope;
        }
        return c switch
        {
            AccessCommand a => TextId(a.Req, "req") ?? Card(a.Card, "card")
                ?? Known(a.Reason, "reason", "ok, unknown-card, card-blocked, outside-schedule, no-zone, lockdown, timeout")
                ?? Range(a.OpenMs, "openMs", 1, 60000),
            UnlockCommand u => Range(u.OpenMs, "openMs", 1, 60000) ?? Text(u.By, "by", 64, required: true),
            LockdownCommand l => Text(l.Message, "message", 256, required: false),
            AllowlistCommand a => Check(a),
            TimetableCommand t => Check(t),
            NoticesCommand n => Check(n),
            ConfigCommand k => Check(k),
            _ => null,
        };
    }

    private static Failure? Check(AllowlistCommand a)
    {
        if ((Range(a.Version, "version", 0, int.MaxValue) ?? Range(a.TzOffsetMin, "tzOffsetMin", -720, 840) ?? NextOffset(a) ?? OffsetChanges(a)) is { } f)
        {
            return f;
        }
        for (var i = 0; i < a.Entries.Count; i++)
        {
            var entry = a.Entries[i];
            if (entry is null)
            {
                return PayloadReader.Missing($"entries[{i}]");
            }
            if (Card(entry.Card, "card") is { } card)
            {
                return Nest(card, "entries", i);
            }
            if (entry.Windows is null || entry.Windows.Count == 0)
            {
                return Nest(PayloadReader.Missing("windows"), "entries", i);
            }
            for (var j = 0; j < entry.Windows.Count; j++)
            {
                var w = entry.Windows[j];
                var wf = w is null ? PayloadReader.Missing($"windows[{j}]") : Days(w.Days, "days") ?? WeeklySpan(w.From, w.To);
                if (wf is not null)
                {
                    return Nest(w is null ? wf : Nest(wf, "windows", j), "entries", i);
                }
            }
        }
        return null;
    }

    /// <summary>The optional next offset change: both members or neither, at an instant after the command's own time.</summary>
    private static Failure? NextOffset(AllowlistCommand a)
    {
        if (a.NextOffsetAt is null && a.NextOffsetMin is null)
        {
            return null;
        }
        if (a.NextOffsetAt is not { } at)
        {
            return new(PayloadRejection.MissingField, "nextOffsetAt", "Member 'nextOffsetAt' is missing while 'nextOffsetMin' is given; give both members of the next offset change or neither.");
        }
        if (a.NextOffsetMin is not { } minutes)
        {
            return new(PayloadRejection.MissingField, "nextOffsetMin", "Member 'nextOffsetMin' is missing while 'nextOffsetAt' is given; give both members of the next offset change or neither.");
        }
        if (at <= a.Ts)
        {
            return OutOfRange("nextOffsetAt", string.Create(CultureInfo.InvariantCulture, $"Member 'nextOffsetAt' is {at}, not after the command's 'ts' ({a.Ts}); the next offset change is a later instant (Unix milliseconds)."));
        }
        return Range(minutes, "nextOffsetMin", -720, 840);
    }

    /// <summary>
    /// The optional upcoming offset changes: at most <see cref="AllowlistCommand.MaxOffsetChanges"/>, each with
    /// <c>at</c> and <c>min</c>, strictly increasing and after the command's own time; with <c>nextOffsetAt</c>,
    /// the first entry is that change.
    /// </summary>
    private static Failure? OffsetChanges(AllowlistCommand a)
    {
        if (a.OffsetChanges is not { } changes)
        {
            return null;
        }
        if (changes.Count > AllowlistCommand.MaxOffsetChanges)
        {
            return OutOfRange("offsetChanges", $"Member 'offsetChanges' has {changes.Count} changes; at most {AllowlistCommand.MaxOffsetChanges} are allowed.");
        }
        var previous = a.Ts;
        for (var i = 0; i < changes.Count; i++)
        {
            var c = changes[i];
            if (c is null)
            {
                return PayloadReader.Missing($"offsetChanges[{i}]");
            }
            if (c.At is not { } at)
            {
                return Nest(PayloadReader.Missing("at"), "offsetChanges", i);
            }
            if (c.Min is not { } minutes)
            {
                return Nest(PayloadReader.Missing("min"), "offsetChanges", i);
            }
            if (at <= previous)
            {
                var message = i == 0
                    ? string.Create(CultureInfo.InvariantCulture, $"Member 'at' is {at}, not after the command's 'ts' ({a.Ts}); offset changes are later instants (Unix milliseconds).")
                    : string.Create(CultureInfo.InvariantCulture, $"Member 'at' is {at}, not after the previous change's ({previous}); offset changes are in strictly increasing order.");
                return Nest(OutOfRange("at", message), "offsetChanges", i);
            }
            if (Range(minutes, "min", -720, 840) is { } range)
            {
                return Nest(range, "offsetChanges", i);
            }
            previous = at;
        }
        if (a.NextOffsetAt is { } next)
        {
            if (changes.Count == 0 || changes[0].At != next)
            {
                return OutOfRange("nextOffsetAt", string.Create(CultureInfo.InvariantCulture, $"Member 'nextOffsetAt' is {next}, not the first entry of 'offsetChanges'; given together, the next offset change is the first of the offset changes."));
            }
            if (changes[0].Min != a.NextOffsetMin)
            {
                return OutOfRange("nextOffsetMin", string.Create(CultureInfo.InvariantCulture, $"Member 'nextOffsetMin' is {a.NextOffsetMin}, not the 'min' of the first entry of 'offsetChanges' ({changes[0].Min}); given together, the next offset change is the first of the offset changes."));
            }
        }
        return null;
    }

    private static Failure? Check(TimetableCommand t)
    {
        if (t.Date is null || !DateOnly.TryParseExact(t.Date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
        {
            return OutOfRange("date", $"Member 'date' is '{t.Date}', not a date written yyyy-MM-dd.");
        }
        if (Text(t.Room, "room", 64, required: true) is { } room)
        {
            return room;
        }
        for (var i = 0; i < t.Lessons.Count; i++)
        {
            var l = t.Lessons[i];
            var f = l is null
                ? PayloadReader.Missing("lesson")
                : TextId(l.Id, "id") ?? Range(l.Period, "period", 1, 20) ?? Span(l.From, l.To)
                  ?? Text(l.Subject, "subject", 64, required: true) ?? Text(l.Teacher, "teacher", 64, required: false) ?? Text(l.Class, "class", 64, required: false);
            if (f is not null)
            {
                return Nest(f.Value, "lessons", i);
            }
        }
        return null;
    }

    private static Failure? Check(NoticesCommand n)
    {
        if (n.Items.Count > 32)
        {
            return OutOfRange("items", $"Member 'items' has {n.Items.Count} notices; at most 32 are allowed.");
        }
        for (var i = 0; i < n.Items.Count; i++)
        {
            var item = n.Items[i];
            var f = item is null ? PayloadReader.Missing("notice") : Text(item.Text, "text", 500, required: true) ?? Range(item.Until, "until", 0, long.MaxValue);
            if (f is not null)
            {
                return Nest(f.Value, "items", i);
            }
        }
        return null;
    }

    private static Failure? Check(ConfigCommand k)
    {
        var f = Range(k.HeartbeatS, "heartbeatS", 5, 86400)
            ?? Range(k.PublishS, "publishS", 1, 86400)
            ?? Range(k.DeltaW, "deltaW", 0, 1e6)
            ?? Range(k.DeltaC, "deltaC", 0, 100)
            ?? Range(k.ThrottleS, "throttleS", 0, 86400)
            ?? Range(k.OpenMs, "openMs", 1, 60000)
            ?? Range(k.HeldOpenS, "heldOpenS", 1, 3600)
            ?? Range(k.HeldAlarmS, "heldAlarmS", 1, 3600);
        if (f is not null)
        {
            return f;
        }
        if (k.Sensors is { } sensors)
        {
            if (sensors.Count > 16)
            {
                return OutOfRange("sensors", $"Member 'sensors' has {sensors.Count} sensors; at most 16 are allowed.");
            }
            for (var i = 0; i < sensors.Count; i++)
            {
                var s = sensors[i];
                var sf = s is null
                    ? PayloadReader.Missing("sensor")
                    : ReadingName(s.Name, "name") ?? TextId(s.Type, "type") ?? Range(s.Pin, "pin", 0, 48);
                if (sf is not null)
                {
                    return Nest(sf.Value, "sensors", i);
                }
            }
        }
        if (k.Rules is { } rules)
        {
            if (rules.Count > 32)
            {
                return OutOfRange("rules", $"Member 'rules' has {rules.Count} rules; at most 32 are allowed.");
            }
            for (var i = 0; i < rules.Count; i++)
            {
                var r = rules[i];
                var rf = r is null
                    ? PayloadReader.Missing("rule")
                    : ReadingName(r.Sensor, "sensor") ?? Range(r.Above, "above", double.MinValue, double.MaxValue) ?? Range(r.Below, "below", double.MinValue, double.MaxValue)
                      ?? (r.Above is null && r.Below is null ? PayloadReader.Missing("above") : null);
                if (rf is not null)
                {
                    return Nest(rf.Value, "rules", i);
                }
            }
        }
        return null;
    }

    private static Failure? Common(uint seq, long ts) =>
        seq == 0 ? OutOfRange("seq", "Member 'seq' is 0; sequence numbers start at 1.")
        : ts < 0 ? OutOfRange("ts", $"Member 'ts' is {ts}; device time is Unix milliseconds, 0 or more.")
        : null;

    private static Failure? Range(double? value, string field, double min, double max)
    {
        if (value is not { } v)
        {
            return null;
        }
        if (!double.IsFinite(v))
        {
            return OutOfRange(field, $"Member '{field}' is not a finite number.");
        }
        return v < min || v > max
            ? OutOfRange(field, string.Create(CultureInfo.InvariantCulture, $"Member '{field}' is {v}; allowed {min} to {max}."))
            : null;
    }

    private static Failure? Range(long? value, string field, long min, long max) =>
        value is { } v && (v < min || v > max)
            ? OutOfRange(field, string.Create(CultureInfo.InvariantCulture, $"Member '{field}' is {v}; allowed {min} to {max}."))
            : null;

    private static Failure? Known<T>(T value, string field, string allowed) where T : struct, Enum =>
        EqualityComparer<T>.Default.Equals(value, default) ? NotOneOf(field, allowed) : null;

    private static Failure NotOneOf(string field, string allowed) =>
        OutOfRange(field, $"Member '{field}' is not one of: {allowed}.");

    /// <summary>Card UID: upper-case hex, 8 or 14 digits.</summary>
    internal static bool IsCard(ReadOnlySpan<char> card) =>
        card.Length is 8 or 14 && !card.ContainsAnyExcept("0123456789ABCDEF");

    private static Failure? Card(string? card, string field)
    {
        if (string.IsNullOrEmpty(card))
        {
            return PayloadReader.Missing(field);
        }
        return IsCard(card)
            ? null
            : OutOfRange(field, $"Member '{field}' is '{card}', not a card UID (upper-case hex, 8 or 14 digits).");
    }

    /// <summary>Ids (request, command, lesson, project): 1-64 printable ASCII characters, no space, quote or backslash.</summary>
    private static Failure? TextId(string? id, string field)
    {
        if (string.IsNullOrEmpty(id))
        {
            return PayloadReader.Missing(field);
        }
        if (id.Length > 64)
        {
            return OutOfRange(field, $"Member '{field}' has {id.Length} characters; at most 64 are allowed.");
        }
        foreach (var c in id)
        {
            if (c is <= ' ' or > '~' or '"' or '\\')
            {
                return OutOfRange(field, $"Member '{field}' is '{id}'; ids are printable ASCII without space, quote or backslash.");
            }
        }
        return null;
    }

    private static Failure? Text(string? text, string field, int max, bool required)
    {
        if (string.IsNullOrEmpty(text))
        {
            return required ? PayloadReader.Missing(field) : null;
        }
        if (text.Length > max)
        {
            return OutOfRange(field, $"Member '{field}' has {text.Length} characters; at most {max} are allowed.");
        }
        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                return OutOfRange(field, $"Member '{field}' contains the control character U+{(int)c:X4}.");
            }
        }
        return null;
    }

    private static bool IsReadingName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 32)
        {
            return false;
        }
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                return false;
            }
        }
        return true;
    }

    private static Failure? ReadingName(string? name, string field) =>
        string.IsNullOrEmpty(name) ? PayloadReader.Missing(field)
        : IsReadingName(name) ? null
        : OutOfRange(field, $"Member '{field}' is '{name}'; names are 1-32 characters of A-Z, a-z, 0-9, '_' or '-'.");

    private static Failure? Days(string? days, string field)
    {
        if (string.IsNullOrEmpty(days))
        {
            return PayloadReader.Missing(field);
        }
        var seen = 0;
        foreach (var c in days)
        {
            var bit = c is >= '1' and <= '7' ? 1 << (c - '0') : 0;
            if (bit == 0 || (seen & bit) != 0)
            {
                return OutOfRange(field, $"Member '{field}' is '{days}'; week days are the digits 1 (Monday) to 7 (Sunday), each at most once.");
            }
            seen |= bit;
        }
        return null;
    }

    /// <summary>Minutes since midnight of <c>HH:mm</c>, or -1.</summary>
    internal static int MinuteOfDay(ReadOnlySpan<char> time)
    {
        if (time.Length != 5 || time[2] != ':' || !char.IsAsciiDigit(time[0]) || !char.IsAsciiDigit(time[1]) || !char.IsAsciiDigit(time[3]) || !char.IsAsciiDigit(time[4]))
        {
            return -1;
        }
        var h = ((time[0] - '0') * 10) + (time[1] - '0');
        var m = ((time[3] - '0') * 10) + (time[4] - '0');
        return h < 24 && m < 60 ? (h * 60) + m : -1;
    }

    private static Failure? Span(string? from, string? to)
    {
        var a = MinuteOfDay(from);
        if (a < 0)
        {
            return string.IsNullOrEmpty(from) ? PayloadReader.Missing("from") : OutOfRange("from", $"Member 'from' is '{from}', not a time HH:mm.");
        }
        var b = MinuteOfDay(to);
        if (b < 0)
        {
            return string.IsNullOrEmpty(to) ? PayloadReader.Missing("to") : OutOfRange("to", $"Member 'to' is '{to}', not a time HH:mm.");
        }
        return b > a ? null : OutOfRange("to", $"Member 'to' ({to}) is not after 'from' ({from}).");
    }

    /// <summary>
    /// An allow-list window, as the door reader and the controller read it: <c>to</c> after <c>from</c> is a window
    /// within each listed day; <c>to</c> before <c>from</c> runs past midnight, from <c>from</c> on a listed day to
    /// <c>to</c> on the next day (Sunday's night ends on Monday; <c>to</c> 00:00 ends at midnight). <c>to</c> equal to
    /// <c>from</c> would be empty on the reader and is rejected (the controller sends a whole day as two windows).
    /// </summary>
    private static Failure? WeeklySpan(string? from, string? to)
    {
        var a = MinuteOfDay(from);
        if (a < 0)
        {
            return string.IsNullOrEmpty(from) ? PayloadReader.Missing("from") : OutOfRange("from", $"Member 'from' is '{from}', not a time HH:mm (00:00 to 23:59).");
        }
        var b = MinuteOfDay(to);
        if (b < 0)
        {
            return string.IsNullOrEmpty(to) ? PayloadReader.Missing("to") : OutOfRange("to", $"Member 'to' is '{to}', not a time HH:mm (00:00 to 23:59).");
        }
        return b != a
            ? null
            : OutOfRange("to", $"Member 'to' ({to}) equals 'from'; a window may not be empty (one whose 'to' is before its 'from' runs past midnight into the next day).");
    }

    private static Failure OutOfRange(string field, string message) => new(PayloadRejection.OutOfRange, field, message);

    private static Failure Nest(Failure? inner, string list, int index)
    {
        var f = inner!.Value;
        var field = $"{list}[{index}].{f.Field}";
        return f with { Field = field, Message = f.Message.Replace($"'{f.Field}'", $"'{field}'", StringComparison.Ordinal) };
    }
}
