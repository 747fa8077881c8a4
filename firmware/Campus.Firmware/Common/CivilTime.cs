namespace Campus.Firmware.Common
{
    /// <summary>
    /// Calendar arithmetic on Unix milliseconds, done by hand so it is the same on the device and
    /// on a PC (no time-zone database, no culture): proleptic Gregorian calendar, fixed offsets.
    /// </summary>
    internal static class CivilTime
    {
        public const long MillisPerMinute = 60000;
        public const long MillisPerDay = 86400000;

        /// <summary>Days since 1970-01-01 of a local date.</summary>
        public static long DaysFromCivil(int year, int month, int day)
        {
            long y = month <= 2 ? year - 1 : year;
            long era = (y >= 0 ? y : y - 399) / 400;
            long yearOfEra = y - era * 400;
            long dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
            long dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
            return era * 146097 + dayOfEra - 719468;
        }

        /// <summary>Splits days since 1970-01-01 into year, month (1-12) and day (1-31).</summary>
        public static void CivilFromDays(long days, out int year, out int month, out int day)
        {
            days += 719468;
            long era = (days >= 0 ? days : days - 146096) / 146097;
            long dayOfEra = days - era * 146097;
            long yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
            long y = yearOfEra + era * 400;
            long dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
            long mp = (5 * dayOfYear + 2) / 153;
            day = (int)(dayOfYear - (153 * mp + 2) / 5 + 1);
            month = (int)(mp < 10 ? mp + 3 : mp - 9);
            year = (int)(month <= 2 ? y + 1 : y);
        }

        /// <summary>Local days since 1970-01-01 for a UTC instant and an offset in minutes.</summary>
        public static long LocalDays(long unixMs, int tzOffsetMin)
        {
            long local = unixMs + tzOffsetMin * MillisPerMinute;
            long days = local / MillisPerDay;
            if (local % MillisPerDay < 0) days--;
            return days;
        }

        /// <summary>Minutes since local midnight (0-1439).</summary>
        public static int LocalMinuteOfDay(long unixMs, int tzOffsetMin)
        {
            long local = unixMs + tzOffsetMin * MillisPerMinute;
            long inDay = local % MillisPerDay;
            if (inDay < 0) inDay += MillisPerDay;
            return (int)(inDay / MillisPerMinute);
        }

        /// <summary>ISO day of the week, 1 = Monday … 7 = Sunday.</summary>
        public static int IsoWeekday(long localDays)
        {
            // 1970-01-01 was a Thursday (4).
            long r = (localDays + 3) % 7;
            if (r < 0) r += 7;
            return (int)r + 1;
        }

        /// <summary>"yyyy-MM-dd" of local days since 1970-01-01.</summary>
        public static string FormatDate(long localDays)
        {
            int year;
            int month;
            int day;
            CivilFromDays(localDays, out year, out month, out day);
            return Pad(year, 4) + "-" + Pad(month, 2) + "-" + Pad(day, 2);
        }

        /// <summary>"HH:mm" of minutes since midnight.</summary>
        public static string FormatMinutes(int minuteOfDay)
        {
            return Pad(minuteOfDay / 60, 2) + ":" + Pad(minuteOfDay % 60, 2);
        }

        /// <summary>Minutes since midnight of "HH:mm" (00:00-24:00), or -1 when malformed.</summary>
        public static int ParseMinutes(string text)
        {
            if (text == null || text.Length != 5 || text[2] != ':') return -1;
            int hours = Digits(text, 0);
            int minutes = Digits(text, 3);
            if (hours < 0 || minutes < 0 || minutes > 59 || hours > 24) return -1;
            int total = hours * 60 + minutes;
            return total > 1440 ? -1 : total;
        }

        /// <summary>Local days since 1970-01-01 of "yyyy-MM-dd", or long.MinValue when malformed.</summary>
        public static long ParseDate(string text)
        {
            if (text == null || text.Length != 10 || text[4] != '-' || text[7] != '-') return long.MinValue;
            int year = Digits(text, 0) * 100 + Digits(text, 2);
            int month = Digits(text, 5);
            int day = Digits(text, 8);
            if (Digits(text, 0) < 0 || Digits(text, 2) < 0 || month < 1 || month > 12 || day < 1 || day > 31) return long.MinValue;
            return DaysFromCivil(year, month, day);
        }

        private static int Digits(string text, int at)
        {
            char a = text[at];
            char b = text[at + 1];
            if (a < '0' || a > '9' || b < '0' || b > '9') return -1;
            return (a - '0') * 10 + (b - '0');
        }

        private static string Pad(int value, int width)
        {
            System.Text.StringBuilder text = new System.Text.StringBuilder(width);
            JsonWriter.AppendInteger(text, value);
            string digits = text.ToString();
            return digits.Length >= width ? digits : new string('0', width - digits.Length) + digits;
        }
    }
}
