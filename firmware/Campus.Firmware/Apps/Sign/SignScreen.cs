using System.Text;
using Campus.Firmware.Common;
using Campus.Firmware.Drivers;

namespace Campus.Firmware.Apps.Sign
{
    /// <summary>
    /// Where things go on the 296 x 128 panel (5x7 font in 6x8 cells, scaled). Kept as constants
    /// so tests can draw the expected text at the same place.
    /// </summary>
    internal static class SignLayout
    {
        public const int Width = 296;
        public const int Height = 128;
        public const int Margin = 2;

        public const int RoomY = 2;
        public const int RoomScale = 2;
        public const int DateY = 2;

        /// <summary>"NOW P3 Physics" / "NEXT P4 Maths" / "NO LESSONS".</summary>
        public const int LessonY = 22;
        public const int LessonScale = 2;

        /// <summary>"10:00-10:45 Li Wei 8B" under the lesson line.</summary>
        public const int LessonDetailY = 42;

        public const int TableRuleY = 52;
        public const int TableY = 56;
        public const int RowHeight = 9;
        public const int TableRows = 5;

        public const int NoticeRuleY = 103;
        public const int NoticeY = 107;
        public const int NoticeRows = 2;

        public const int LockdownTitleY = 14;
        public const int LockdownScale = 3;
        public const int LockdownTextY = 52;

        /// <summary>Characters that fit in a line at <paramref name="scale"/> with the margins.</summary>
        public static int Columns(int scale)
        {
            return (Width - 2 * Margin) / (Font5x7.CellWidth * scale);
        }
    }

    /// <summary>
    /// What the sign shows, as text placed on the panel. Two screens with the same <see cref="Key"/>
    /// look the same, so the sign refreshes the e-paper only when the key changes.
    /// </summary>
    internal sealed class SignScreen
    {
        private const int MaxItems = 24;
        private readonly int[] _x = new int[MaxItems];
        private readonly int[] _y = new int[MaxItems];
        private readonly int[] _scale = new int[MaxItems];
        private readonly string[] _text = new string[MaxItems];
        private readonly int[] _rules = new int[4];
        private int _count;
        private int _ruleCount;
        private readonly StringBuilder _key = new StringBuilder(256);

        public int Count
        {
            get { return _count; }
        }

        public string Key
        {
            get { return _key.ToString(); }
        }

        public string TextAt(int index)
        {
            return _text[index];
        }

        /// <summary>Places text (cut to the panel width, non-ASCII shown as '?').</summary>
        public void Text(int x, int y, int scale, string text)
        {
            if (_count == MaxItems) return;
            string clean = Printable(text, (SignLayout.Width - x - SignLayout.Margin) / (Font5x7.CellWidth * scale));
            _x[_count] = x;
            _y[_count] = y;
            _scale[_count] = scale;
            _text[_count] = clean;
            _count++;
            _key.Append(x.ToString()).Append(',').Append(y.ToString()).Append(',').Append(scale.ToString()).Append(':').Append(clean).Append('\n');
        }

        /// <summary>Places text right-aligned to the panel's right margin.</summary>
        public void TextRight(int y, int scale, string text)
        {
            int width = FrameBuffer.MeasureText(text, scale);
            Text(SignLayout.Width - SignLayout.Margin - width, y, scale, text);
        }

        /// <summary>A horizontal rule across the panel.</summary>
        public void Rule(int y)
        {
            if (_ruleCount == _rules.Length) return;
            _rules[_ruleCount++] = y;
            _key.Append("rule ").Append(y.ToString()).Append('\n');
        }

        public void Render(FrameBuffer frame)
        {
            frame.Clear();
            for (int i = 0; i < _ruleCount; i++) frame.FillRect(SignLayout.Margin, _rules[i], SignLayout.Width - 2 * SignLayout.Margin, 1, true);
            for (int i = 0; i < _count; i++) frame.DrawText(_x[i], _y[i], _text[i], _scale[i], true);
        }

        /// <summary>The text the 5x7 font can show: ASCII kept, others '?', cut to <paramref name="maxChars"/>.</summary>
        public static string Printable(string text, int maxChars)
        {
            if (maxChars < 0) maxChars = 0;
            int length = text.Length < maxChars ? text.Length : maxChars;
            char[] chars = new char[length];
            for (int i = 0; i < length; i++)
            {
                char c = text[i];
                chars[i] = c >= Font5x7.FirstChar && c <= Font5x7.LastChar ? c : '?';
            }
            return new string(chars);
        }

        // ---- composition ---------------------------------------------------------------------

        /// <summary>The lesson line: "NOW P3 Physics", "NEXT P4 Maths" or "NO LESSONS".</summary>
        public static string LessonLine(Lesson? current, Lesson? next)
        {
            if (current != null) return "NOW P" + current.Period.ToString() + " " + current.Subject;
            if (next != null) return "NEXT P" + next.Period.ToString() + " " + next.Subject;
            return "NO LESSONS";
        }

        /// <summary>"10:00-10:45 Li Wei 8B".</summary>
        public static string LessonDetail(Lesson lesson)
        {
            return CivilTime.FormatMinutes(lesson.FromMinute) + "-" + CivilTime.FormatMinutes(lesson.ToMinute) + " " + lesson.Teacher + " " + lesson.ClassName;
        }

        /// <summary>A timetable row: "P3 10:00 Physics 8B".</summary>
        public static string TableRow(Lesson lesson)
        {
            return "P" + lesson.Period.ToString() + " " + CivilTime.FormatMinutes(lesson.FromMinute) + " " + lesson.Subject + " " + lesson.ClassName;
        }

        /// <summary>
        /// The normal screen: room and date, the current (or next) lesson, the rest of the day's
        /// timetable and the notices that have not expired.
        /// </summary>
        public static SignScreen Compose(Timetable timetable, Notices notices, long unixMs, int tzOffsetMin)
        {
            SignScreen screen = new SignScreen();
            bool clockSet = unixMs > 0;
            long today = clockSet ? CivilTime.LocalDays(unixMs, tzOffsetMin) : timetable.Days;
            int minute = clockSet ? CivilTime.LocalMinuteOfDay(unixMs, tzOffsetMin) : -1;
            string date = clockSet ? CivilTime.FormatDate(today) : timetable.Date;

            screen.TextRight(SignLayout.DateY, 1, date);
            int roomColumns = (SignLayout.Width - 2 * SignLayout.Margin - FrameBuffer.MeasureText(date, 1) - Font5x7.CellWidth) / (Font5x7.CellWidth * SignLayout.RoomScale);
            screen.Text(SignLayout.Margin, SignLayout.RoomY, SignLayout.RoomScale, Printable(timetable.Room, roomColumns));

            Lesson? current = clockSet ? timetable.Current(today, minute) : null;
            Lesson? next = clockSet ? timetable.Next(today, minute) : null;
            screen.Text(SignLayout.Margin, SignLayout.LessonY, SignLayout.LessonScale, LessonLine(current, next));
            Lesson? shown = current != null ? current : next;
            if (shown != null) screen.Text(SignLayout.Margin, SignLayout.LessonDetailY, 1, LessonDetail(shown));

            screen.Rule(SignLayout.TableRuleY);
            int row = 0;
            Lesson[] lessons = timetable.Days == today ? timetable.Lessons : new Lesson[0];
            for (int i = 0; i < lessons.Length && row < SignLayout.TableRows; i++)
            {
                // The day's remaining lessons (all of them while the clock is not set).
                if (clockSet && lessons[i].ToMinute <= minute) continue;
                screen.Text(SignLayout.Margin, SignLayout.TableY + row * SignLayout.RowHeight, 1, TableRow(lessons[i]));
                row++;
            }

            int noticeRow = 0;
            for (int i = 0; i < notices.Texts.Length && noticeRow < SignLayout.NoticeRows; i++)
            {
                if (clockSet && notices.Until[i] <= unixMs) continue;
                if (noticeRow == 0) screen.Rule(SignLayout.NoticeRuleY);
                screen.Text(SignLayout.Margin, SignLayout.NoticeY + noticeRow * SignLayout.RowHeight, 1, "! " + notices.Texts[i]);
                noticeRow++;
            }
            return screen;
        }

        /// <summary>The lockdown screen: a large LOCKDOWN and the message, word-wrapped.</summary>
        public static SignScreen ComposeLockdown(string message)
        {
            SignScreen screen = new SignScreen();
            const string Title = "LOCKDOWN";
            int titleX = (SignLayout.Width - FrameBuffer.MeasureText(Title, SignLayout.LockdownScale)) / 2;
            screen.Text(titleX, SignLayout.LockdownTitleY, SignLayout.LockdownScale, Title);
            screen.Rule(SignLayout.LockdownTitleY + 8 * SignLayout.LockdownScale + 4);
            int columns = SignLayout.Columns(1);
            int y = SignLayout.LockdownTextY;
            int start = 0;
            string text = message.Trim();
            while (start < text.Length && y + Font5x7.CellHeight <= SignLayout.Height)
            {
                int end = start + columns;
                if (end >= text.Length)
                {
                    end = text.Length;
                }
                else
                {
                    int space = text.LastIndexOf(' ', end, end - start);
                    if (space > start) end = space;
                }
                screen.Text(SignLayout.Margin, y, 1, text.Substring(start, end - start).Trim());
                start = end;
                while (start < text.Length && text[start] == ' ') start++;
                y += SignLayout.RowHeight + 1;
            }
            return screen;
        }
    }
}
