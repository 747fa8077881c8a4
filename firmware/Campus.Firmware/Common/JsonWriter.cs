using System.Text;

namespace Campus.Firmware.Common
{
    /// <summary>
    /// Writes a small JSON document by hand: the platform has no JSON serializer. Numbers are
    /// written digit by digit so the output never depends on a culture; NaN and infinities are
    /// written as null. Members are written in call order, which the signed door events rely on.
    /// </summary>
    internal sealed class JsonWriter
    {
        private readonly StringBuilder _text = new StringBuilder(128);
        private bool _needComma;

        public JsonWriter BeginObject()
        {
            Separator();
            _text.Append('{');
            _needComma = false;
            return this;
        }

        public JsonWriter EndObject()
        {
            _text.Append('}');
            _needComma = true;
            return this;
        }

        public JsonWriter BeginArray()
        {
            Separator();
            _text.Append('[');
            _needComma = false;
            return this;
        }

        public JsonWriter EndArray()
        {
            _text.Append(']');
            _needComma = true;
            return this;
        }

        /// <summary>Writes a member name; the next value call writes its value.</summary>
        public JsonWriter Name(string name)
        {
            Separator();
            WriteQuoted(_text, name);
            _text.Append(':');
            _needComma = false;
            return this;
        }

        public JsonWriter Value(string value)
        {
            Separator();
            if (value == null) _text.Append("null");
            else WriteQuoted(_text, value);
            _needComma = true;
            return this;
        }

        public JsonWriter Value(long value)
        {
            Separator();
            AppendInteger(_text, value);
            _needComma = true;
            return this;
        }

        public JsonWriter Value(bool value)
        {
            Separator();
            _text.Append(value ? "true" : "false");
            _needComma = true;
            return this;
        }

        /// <summary>Writes a number rounded to at most <paramref name="decimals"/> digits after the point.</summary>
        public JsonWriter Value(double value, int decimals)
        {
            Separator();
            AppendNumber(_text, value, decimals);
            _needComma = true;
            return this;
        }

        public JsonWriter Null()
        {
            Separator();
            _text.Append("null");
            _needComma = true;
            return this;
        }

        /// <summary>Writes already-encoded JSON text as the next value.</summary>
        public JsonWriter Raw(string json)
        {
            Separator();
            _text.Append(json);
            _needComma = true;
            return this;
        }

        public JsonWriter Member(string name, string value) { return Name(name).Value(value); }

        public JsonWriter Member(string name, long value) { return Name(name).Value(value); }

        public JsonWriter Member(string name, bool value) { return Name(name).Value(value); }

        public JsonWriter Member(string name, double value, int decimals) { return Name(name).Value(value, decimals); }

        public int Length
        {
            get { return _text.Length; }
        }

        public override string ToString()
        {
            return _text.ToString();
        }

        private void Separator()
        {
            if (_needComma)
            {
                _text.Append(',');
                _needComma = false;
            }
        }

        internal static void WriteQuoted(StringBuilder text, string value)
        {
            text.Append('"');
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    case '\b': text.Append("\\b"); break;
                    case '\f': text.Append("\\f"); break;
                    default:
                        if (c < ' ')
                        {
                            text.Append("\\u00");
                            text.Append(HexDigit(c >> 4));
                            text.Append(HexDigit(c & 0xF));
                        }
                        else
                        {
                            text.Append(c);
                        }
                        break;
                }
            }
            text.Append('"');
        }

        private static char HexDigit(int value)
        {
            return (char)(value < 10 ? '0' + value : 'a' + value - 10);
        }

        /// <summary>Appends a whole number in invariant form (no culture, no grouping).</summary>
        internal static void AppendInteger(StringBuilder text, long value)
        {
            if (value == 0)
            {
                text.Append('0');
                return;
            }
            char[] digits = new char[20];
            int count = 0;
            bool negative = value < 0;
            // Work with negative numbers so long.MinValue needs no special case.
            long rest = negative ? value : -value;
            while (rest != 0)
            {
                long next = rest / 10;
                digits[count++] = (char)('0' + (int)(next * 10 - rest));
                rest = next;
            }
            if (negative) text.Append('-');
            while (count > 0) text.Append(digits[--count]);
        }

        /// <summary>Appends a number with at most <paramref name="decimals"/> digits after the point, trailing zeros removed.</summary>
        internal static void AppendNumber(StringBuilder text, double value, int decimals)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
            {
                text.Append("null");
                return;
            }
            if (decimals < 0) decimals = 0;
            if (decimals > 9) decimals = 9;
            long scale = 1;
            for (int i = 0; i < decimals; i++) scale *= 10;
            double scaled = value * scale;
            if (scaled >= 9.0e18 || scaled <= -9.0e18)
            {
                // Too large for the fixed-point path: fall back to whole units.
                AppendInteger(text, (long)value);
                return;
            }
            long rounded = (long)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
            if (rounded < 0)
            {
                text.Append('-');
                rounded = -rounded;
            }
            long whole = rounded / scale;
            long fraction = rounded % scale;
            AppendInteger(text, whole);
            if (fraction == 0) return;
            int places = decimals;
            while (fraction % 10 == 0)
            {
                fraction /= 10;
                places--;
            }
            text.Append('.');
            long divisor = 1;
            for (int i = 1; i < places; i++) divisor *= 10;
            while (divisor > 0)
            {
                text.Append((char)('0' + (int)(fraction / divisor % 10)));
                divisor /= 10;
            }
        }
    }
}
