using Campus.Firmware.Common;

namespace Campus.Firmware.Apps.Sign
{
    /// <summary>One lesson of the day's timetable.</summary>
    internal sealed class Lesson
    {
        public Lesson(string id, int period, int fromMinute, int toMinute, string subject, string teacher, string className)
        {
            Id = id;
            Period = period;
            FromMinute = fromMinute;
            ToMinute = toMinute;
            Subject = subject;
            Teacher = teacher;
            ClassName = className;
        }

        public string Id { get; private set; }
        public int Period { get; private set; }

        /// <summary>Local minutes since midnight.</summary>
        public int FromMinute { get; private set; }

        public int ToMinute { get; private set; }
        public string Subject { get; private set; }
        public string Teacher { get; private set; }
        public string ClassName { get; private set; }
    }

    /// <summary>The retained <c>cmd/timetable</c>: a room's lessons for one local date.</summary>
    internal sealed class Timetable
    {
        public static readonly Timetable Empty = new Timetable("", long.MinValue, "", new Lesson[0]);

        private Timetable(string date, long days, string room, Lesson[] lessons)
        {
            Date = date;
            Days = days;
            Room = room;
            Lessons = lessons;
        }

        /// <summary>"yyyy-MM-dd", local.</summary>
        public string Date { get; private set; }

        /// <summary>The date as local days since 1970-01-01.</summary>
        public long Days { get; private set; }

        /// <summary>The room's display name.</summary>
        public string Room { get; private set; }

        /// <summary>Lessons in order of start time.</summary>
        public Lesson[] Lessons { get; private set; }

        /// <summary>Reads a timetable command; throws <see cref="System.ArgumentException"/> naming the first bad field.</summary>
        public static Timetable Parse(JsonNode command)
        {
            string date = command.Get("date").AsString("");
            long days = CivilTime.ParseDate(date);
            if (days == long.MinValue) throw new System.ArgumentException("date must be yyyy-MM-dd");
            string room = command.Get("room").AsString("");
            JsonNode list = command.Get("lessons");
            if (!list.IsArray) throw new System.ArgumentException("lessons must be an array");
            Lesson[] lessons = new Lesson[list.Count];
            for (int i = 0; i < lessons.Length; i++)
            {
                JsonNode l = list.At(i);
                string at = "lessons[" + i.ToString() + "]";
                string id = l.Get("id").AsString("");
                int from = CivilTime.ParseMinutes(l.Get("from").AsString(""));
                int to = CivilTime.ParseMinutes(l.Get("to").AsString(""));
                if (id.Length == 0) throw new System.ArgumentException(at + ".id is required");
                if (from < 0 || to < 0 || to <= from) throw new System.ArgumentException(at + " needs from < to as HH:mm");
                lessons[i] = new Lesson(id, l.Get("period").AsInt(i + 1), from, to,
                    l.Get("subject").AsString(""), l.Get("teacher").AsString(""), l.Get("class").AsString(""));
            }
            SortByStart(lessons);
            return new Timetable(date, days, room, lessons);
        }

        /// <summary>The lesson running at <paramref name="minute"/> of <paramref name="localDays"/>, or null.</summary>
        public Lesson? Current(long localDays, int minute)
        {
            if (localDays != Days) return null;
            for (int i = 0; i < Lessons.Length; i++)
            {
                if (minute >= Lessons[i].FromMinute && minute < Lessons[i].ToMinute) return Lessons[i];
            }
            return null;
        }

        /// <summary>The first lesson starting after <paramref name="minute"/> of <paramref name="localDays"/>, or null.</summary>
        public Lesson? Next(long localDays, int minute)
        {
            if (localDays != Days) return null;
            for (int i = 0; i < Lessons.Length; i++)
            {
                if (Lessons[i].FromMinute > minute) return Lessons[i];
            }
            return null;
        }

        private static void SortByStart(Lesson[] lessons)
        {
            // Insertion sort: a day has a handful of lessons.
            for (int i = 1; i < lessons.Length; i++)
            {
                Lesson item = lessons[i];
                int j = i - 1;
                while (j >= 0 && lessons[j].FromMinute > item.FromMinute)
                {
                    lessons[j + 1] = lessons[j];
                    j--;
                }
                lessons[j + 1] = item;
            }
        }
    }

    /// <summary>The retained <c>cmd/notices</c>: texts shown until their <c>until</c> time.</summary>
    internal sealed class Notices
    {
        public static readonly Notices Empty = new Notices(new string[0], new long[0]);

        private Notices(string[] texts, long[] until)
        {
            Texts = texts;
            Until = until;
        }

        public string[] Texts { get; private set; }

        /// <summary>Unix ms after which each notice is hidden; long.MaxValue when it does not expire.</summary>
        public long[] Until { get; private set; }

        public static Notices Parse(JsonNode command)
        {
            JsonNode items = command.Get("items");
            if (!items.IsArray) throw new System.ArgumentException("items must be an array");
            string[] texts = new string[items.Count];
            long[] until = new long[items.Count];
            for (int i = 0; i < texts.Length; i++)
            {
                JsonNode item = items.At(i);
                texts[i] = item.Get("text").AsString("");
                if (texts[i].Length == 0) throw new System.ArgumentException("items[" + i.ToString() + "].text is required");
                JsonNode u = item.Get("until");
                until[i] = u.IsMissing || u.IsNull ? long.MaxValue : u.AsLong(-1);
                if (until[i] < 0) throw new System.ArgumentException("items[" + i.ToString() + "].until must be Unix milliseconds");
            }
            return new Notices(texts, until);
        }
    }
}
