using Campus.Firmware.Common;

namespace Campus.Firmware.Apps.Door
{
    /// <summary>
    /// The door's cached allow-list (retained <c>cmd/allowlist</c>): cards with weekly time
    /// windows in local time (<c>tzOffsetMin</c>). Used when the controller cannot answer.
    /// Immutable once parsed; a new list replaces the whole object. A list may carry the school's
    /// next UTC offset change (<c>nextOffsetAt</c>, <c>nextOffsetMin</c>): from that instant on, by
    /// the door's own clock, the windows are read with the new offset, so a door that is offline
    /// when daylight saving time starts or ends still opens at the right local times. A list may also
    /// carry the school's upcoming changes (<c>offsetChanges</c>, about two years of them): then the
    /// windows are read with the offset of the latest change whose instant has passed, so a door
    /// offline across several changes still follows each of them.
    /// </summary>
    internal sealed class AllowList
    {
        public static readonly AllowList Empty = new AllowList();

        /// <summary>Most entries of <c>offsetChanges</c>.</summary>
        public const int MaxOffsetChanges = 8;

        private string[] _cards = new string[0];
        // Per card: its windows as (days mask, from minute, to minute) triples in one array.
        private int[][] _windows = new int[0][];
        // The upcoming offset changes (instants, Unix ms UTC, increasing; offsets, minutes); null when the list has none.
        private long[]? _changeAt;
        private int[]? _changeMin;

        private AllowList()
        {
        }

        public long Version { get; private set; }

        public int TzOffsetMin { get; private set; }

        /// <summary>The instant of the next offset change, Unix milliseconds UTC; 0 when the list has none.</summary>
        public long NextOffsetAt { get; private set; }

        /// <summary>The offset from <see cref="NextOffsetAt"/> on, minutes (meaningful only when <see cref="NextOffsetAt"/> is set).</summary>
        public int NextOffsetMin { get; private set; }

        /// <summary>How many upcoming offset changes the list carries (<c>offsetChanges</c>); 0 when it has none.</summary>
        public int OffsetChangeCount
        {
            get { return _changeAt == null ? 0 : _changeAt.Length; }
        }

        /// <summary>True when the list carried <c>offsetChanges</c> (even an empty array): then they, not <see cref="NextOffsetAt"/>, decide the offset.</summary>
        public bool HasOffsetChanges
        {
            get { return _changeAt != null; }
        }

        /// <summary>The instant of the <paramref name="index"/>th offset change, Unix milliseconds UTC.</summary>
        public long OffsetChangeAt(int index)
        {
            return _changeAt == null ? 0 : _changeAt[index];
        }

        /// <summary>The offset from the <paramref name="index"/>th change on, minutes.</summary>
        public int OffsetChangeMin(int index)
        {
            return _changeMin == null ? 0 : _changeMin[index];
        }

        public int Count
        {
            get { return _cards.Length; }
        }

        /// <summary>True once a list was received (an empty list received from the controller is still a list).</summary>
        public bool IsLoaded { get; private set; }

        /// <summary>Reads an allow-list command; throws <see cref="System.ArgumentException"/> naming the first bad field.</summary>
        public static AllowList Parse(JsonNode command)
        {
            AllowList list = new AllowList();
            list.IsLoaded = true;
            list.Version = command.Get("version").AsLong(0);
            JsonNode tz = command.Get("tzOffsetMin");
            list.TzOffsetMin = tz.IsMissing ? 0 : OffsetMinutes(tz, "tzOffsetMin");
            ParseNextOffset(command, list);
            ParseOffsetChanges(command, list);
            JsonNode entries = command.Get("entries");
            if (!entries.IsArray) throw new System.ArgumentException("entries must be an array");
            list._cards = new string[entries.Count];
            list._windows = new int[entries.Count][];
            for (int i = 0; i < entries.Count; i++)
            {
                JsonNode entry = entries.At(i);
                string card = NormalizeCard(entry.Get("card").AsString(""));
                if (card.Length == 0) throw new System.ArgumentException("entries[" + i.ToString() + "].card must be 8 or 14 hex digits");
                list._cards[i] = card;
                JsonNode windows = entry.Get("windows");
                if (windows.IsMissing || windows.IsNull)
                {
                    list._windows[i] = new int[0];
                    continue;
                }
                if (!windows.IsArray) throw new System.ArgumentException("entries[" + i.ToString() + "].windows must be an array");
                int[] parsed = new int[windows.Count * 3];
                for (int w = 0; w < windows.Count; w++)
                {
                    JsonNode window = windows.At(w);
                    int days = DaysMask(window.Get("days").AsString(""));
                    int from = CivilTime.ParseMinutes(window.Get("from").AsString(""));
                    int to = CivilTime.ParseMinutes(window.Get("to").AsString(""));
                    if (days == 0 || from < 0 || to < 0)
                        throw new System.ArgumentException("entries[" + i.ToString() + "].windows[" + w.ToString() + "] needs days (1-7) and from/to as HH:mm");
                    parsed[w * 3] = days;
                    parsed[w * 3 + 1] = from;
                    parsed[w * 3 + 2] = to;
                }
                list._windows[i] = parsed;
            }
            return list;
        }

        /// <summary>
        /// The cache's decision for <paramref name="card"/> at <paramref name="unixMs"/>:
        /// "ok", "unknown-card" or "outside-schedule". A card with no windows may enter at any
        /// time; with windows, an unset clock (0) is outside every window.
        /// </summary>
        public string Decide(string card, long unixMs)
        {
            for (int i = 0; i < _cards.Length; i++)
            {
                if (_cards[i] != card) continue;
                int[] windows = _windows[i];
                if (windows.Length == 0) return "ok";
                if (unixMs <= 0) return "outside-schedule";
                int offset = OffsetAt(unixMs);
                long days = CivilTime.LocalDays(unixMs, offset);
                int weekday = CivilTime.IsoWeekday(days);
                int yesterday = weekday == 1 ? 7 : weekday - 1;
                int minute = CivilTime.LocalMinuteOfDay(unixMs, offset);
                for (int w = 0; w < windows.Length; w += 3)
                {
                    int mask = windows[w];
                    int from = windows[w + 1];
                    int to = windows[w + 2];
                    if (from <= to)
                    {
                        if ((mask & (1 << weekday)) != 0 && minute >= from && minute < to) return "ok";
                    }
                    else
                    {
                        // Over midnight: starts on a listed day, ends the next morning.
                        if ((mask & (1 << weekday)) != 0 && minute >= from) return "ok";
                        if ((mask & (1 << yesterday)) != 0 && minute < to) return "ok";
                    }
                }
                return "outside-schedule";
            }
            return "unknown-card";
        }

        /// <summary>
        /// The UTC offset (minutes) the windows are read with at <paramref name="unixMs"/>: with
        /// <c>offsetChanges</c>, the offset of the latest change whose instant has passed; without,
        /// <see cref="NextOffsetMin"/> once the next change's instant has passed; else <see cref="TzOffsetMin"/>.
        /// </summary>
        public int OffsetAt(long unixMs)
        {
            if (_changeAt != null && _changeMin != null)
            {
                int offset = TzOffsetMin;
                for (int i = 0; i < _changeAt.Length && unixMs >= _changeAt[i]; i++) offset = _changeMin[i];
                return offset;
            }
            return NextOffsetAt > 0 && unixMs >= NextOffsetAt ? NextOffsetMin : TzOffsetMin;
        }

        /// <summary>Reads the optional next offset change: both members or neither (null is the same as absent).</summary>
        private static void ParseNextOffset(JsonNode command, AllowList list)
        {
            JsonNode at = command.Get("nextOffsetAt");
            JsonNode minutes = command.Get("nextOffsetMin");
            bool hasAt = !at.IsMissing && !at.IsNull;
            bool hasMinutes = !minutes.IsMissing && !minutes.IsNull;
            if (!hasAt && !hasMinutes) return;
            if (!hasAt) throw new System.ArgumentException("nextOffsetAt is missing while nextOffsetMin is given; both or neither");
            if (!hasMinutes) throw new System.ArgumentException("nextOffsetMin is missing while nextOffsetAt is given; both or neither");
            long instant = at.AsLong(0);
            if (instant <= 0) throw new System.ArgumentException("nextOffsetAt must be Unix milliseconds after 1970");
            int offset = OffsetMinutes(minutes, "nextOffsetMin");
            list.NextOffsetAt = instant;
            list.NextOffsetMin = offset;
        }

        /// <summary>A UTC offset in whole minutes, -840 to 840; anything else is refused naming <paramref name="member"/>.</summary>
        private static int OffsetMinutes(JsonNode value, string member)
        {
            int offset = value.AsInt(int.MinValue);
            if (offset < -840 || offset > 840) throw new System.ArgumentException(member + " must be a whole number of minutes from -840 to 840");
            return offset;
        }

        /// <summary>
        /// Reads the optional upcoming offset changes (null is the same as absent): at most
        /// <see cref="MaxOffsetChanges"/> objects with <c>at</c> and <c>min</c>, <c>at</c> strictly increasing
        /// and after the command's <c>ts</c> when it has one; with <c>nextOffsetAt</c>, the first is that change.
        /// </summary>
        private static void ParseOffsetChanges(JsonNode command, AllowList list)
        {
            JsonNode changes = command.Get("offsetChanges");
            if (changes.IsMissing || changes.IsNull) return;
            if (!changes.IsArray) throw new System.ArgumentException("offsetChanges must be an array of {at, min} objects");
            if (changes.Count > MaxOffsetChanges) throw new System.ArgumentException("offsetChanges has " + changes.Count.ToString() + " changes; at most " + MaxOffsetChanges.ToString() + " are allowed");
            long[] instants = new long[changes.Count];
            int[] offsets = new int[changes.Count];
            long previous = command.Get("ts").AsLong(0);
            for (int i = 0; i < changes.Count; i++)
            {
                string name = "offsetChanges[" + i.ToString() + "]";
                JsonNode change = changes.At(i);
                if (!change.IsObject) throw new System.ArgumentException(name + " must be an object with at and min");
                JsonNode at = change.Get("at");
                JsonNode minutes = change.Get("min");
                if (at.IsMissing || at.IsNull) throw new System.ArgumentException(name + ".at is missing");
                if (minutes.IsMissing || minutes.IsNull) throw new System.ArgumentException(name + ".min is missing");
                long instant = at.AsLong(0);
                if (instant <= 0) throw new System.ArgumentException(name + ".at must be Unix milliseconds after 1970");
                if (instant <= previous)
                {
                    if (i == 0) throw new System.ArgumentException(name + ".at must be after the command's ts");
                    throw new System.ArgumentException(name + ".at must be after offsetChanges[" + (i - 1).ToString() + "].at (strictly increasing)");
                }
                int offset = OffsetMinutes(minutes, name + ".min");
                instants[i] = instant;
                offsets[i] = offset;
                previous = instant;
            }
            if (list.NextOffsetAt > 0)
            {
                if (instants.Length == 0 || instants[0] != list.NextOffsetAt)
                    throw new System.ArgumentException("nextOffsetAt must equal offsetChanges[0].at when both are given");
                if (offsets[0] != list.NextOffsetMin)
                    throw new System.ArgumentException("nextOffsetMin must equal offsetChanges[0].min when both are given");
            }
            list._changeAt = instants;
            list._changeMin = offsets;
        }

        /// <summary>Upper-case hex of 8 or 14 digits, or "" when <paramref name="card"/> is not a card UID.</summary>
        public static string NormalizeCard(string card)
        {
            if (card == null || (card.Length != 8 && card.Length != 14)) return "";
            char[] chars = new char[card.Length];
            for (int i = 0; i < card.Length; i++)
            {
                char c = card[i];
                if (c >= 'a' && c <= 'f') c = (char)(c - 'a' + 'A');
                if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return "";
                chars[i] = c;
            }
            return new string(chars);
        }

        /// <summary>The card UID as upper-case hex (4 or 7 bytes give 8 or 14 digits).</summary>
        public static string CardFromUid(byte[] uid, int length)
        {
            const string Hex = "0123456789ABCDEF";
            char[] chars = new char[length * 2];
            for (int i = 0; i < length; i++)
            {
                chars[i * 2] = Hex[uid[i] >> 4];
                chars[i * 2 + 1] = Hex[uid[i] & 0xF];
            }
            return new string(chars);
        }

        private static int DaysMask(string days)
        {
            int mask = 0;
            for (int i = 0; i < days.Length; i++)
            {
                char c = days[i];
                if (c < '1' || c > '7') return 0;
                mask |= 1 << (c - '0');
            }
            return mask;
        }
    }
}
