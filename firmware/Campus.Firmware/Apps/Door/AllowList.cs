using Campus.Firmware.Common;

namespace Campus.Firmware.Apps.Door
{
    /// <summary>
    /// The door's cached allow-list (retained <c>cmd/allowlist</c>): cards with weekly time
    /// windows in local time (<c>tzOffsetMin</c>). Used when the controller cannot answer.
    /// Immutable once parsed; a new list replaces the whole object. A list may carry the school's
    /// next UTC offset change (<c>nextOffsetAt</c>, <c>nextOffsetMin</c>): from that instant on, by
    /// the door's own clock, the windows are read with the new offset, so a door that is offline
    /// when daylight saving time starts or ends still opens at the right local times.
    /// </summary>
    internal sealed class AllowList
    {
        public static readonly AllowList Empty = new AllowList();

        private string[] _cards = new string[0];
        // Per card: its windows as (days mask, from minute, to minute) triples in one array.
        private int[][] _windows = new int[0][];

        private AllowList()
        {
        }

        public long Version { get; private set; }

        public int TzOffsetMin { get; private set; }

        /// <summary>The instant of the next offset change, Unix milliseconds UTC; 0 when the list has none.</summary>
        public long NextOffsetAt { get; private set; }

        /// <summary>The offset from <see cref="NextOffsetAt"/> on, minutes (meaningful only when <see cref="NextOffsetAt"/> is set).</summary>
        public int NextOffsetMin { get; private set; }

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
            int offset = tz.IsMissing ? 0 : tz.AsInt(int.MinValue);
            if (offset < -840 || offset > 840) throw new System.ArgumentException("tzOffsetMin must be a whole number of minutes from -840 to 840");
            list.TzOffsetMin = offset;
            ParseNextOffset(command, list);
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
        /// The UTC offset (minutes) the windows are read with at <paramref name="unixMs"/>:
        /// <see cref="NextOffsetMin"/> once the next change's instant has passed, else <see cref="TzOffsetMin"/>.
        /// </summary>
        public int OffsetAt(long unixMs)
        {
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
            int offset = minutes.AsInt(int.MinValue);
            if (offset < -840 || offset > 840) throw new System.ArgumentException("nextOffsetMin must be a whole number of minutes from -840 to 840");
            list.NextOffsetAt = instant;
            list.NextOffsetMin = offset;
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
