namespace Campus.Firmware.Common
{
    /// <summary>
    /// A small recursive-descent JSON reader for the command documents (RFC 8259 grammar:
    /// objects, arrays, strings with escapes, numbers, true/false/null). It checks a nesting
    /// limit so a hostile document cannot exhaust the small device stack.
    /// </summary>
    internal static class JsonReader
    {
        public const int MaxDepth = 16;

        public static JsonNode Parse(string text)
        {
            if (text == null) throw new JsonFormatException("no document", 0);
            int position = 0;
            SkipWhitespace(text, ref position);
            JsonNode root = ReadValue(text, ref position, 0);
            SkipWhitespace(text, ref position);
            if (position != text.Length) throw new JsonFormatException("unexpected text after the document", position);
            return root;
        }

        /// <summary>Parses <paramref name="text"/> or gives false (and <see cref="JsonNode.Missing"/>) when it is not valid JSON.</summary>
        public static bool TryParse(string text, out JsonNode node)
        {
            try
            {
                node = Parse(text);
                return true;
            }
            catch (JsonFormatException)
            {
                node = JsonNode.Missing;
                return false;
            }
        }

        private static JsonNode ReadValue(string text, ref int position, int depth)
        {
            if (position >= text.Length) throw new JsonFormatException("unexpected end of document", position);
            char c = text[position];
            switch (c)
            {
                case '{': return ReadObject(text, ref position, depth + 1);
                case '[': return ReadArray(text, ref position, depth + 1);
                case '"': return JsonNode.FromString(ReadString(text, ref position));
                case 't':
                    ExpectWord(text, ref position, "true");
                    return JsonNode.FromBool(true);
                case 'f':
                    ExpectWord(text, ref position, "false");
                    return JsonNode.FromBool(false);
                case 'n':
                    ExpectWord(text, ref position, "null");
                    return new JsonNode(JsonKind.Null);
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return JsonNode.FromNumber(ReadNumber(text, ref position));
                    throw new JsonFormatException("unexpected character '" + c + "'", position);
            }
        }

        private static JsonNode ReadObject(string text, ref int position, int depth)
        {
            if (depth > MaxDepth) throw new JsonFormatException("nesting deeper than " + MaxDepth.ToString(), position);
            JsonNode node = new JsonNode(JsonKind.Object);
            position++; // {
            SkipWhitespace(text, ref position);
            if (position < text.Length && text[position] == '}')
            {
                position++;
                return node;
            }
            while (true)
            {
                SkipWhitespace(text, ref position);
                if (position >= text.Length || text[position] != '"') throw new JsonFormatException("expected a member name", position);
                string name = ReadString(text, ref position);
                SkipWhitespace(text, ref position);
                if (position >= text.Length || text[position] != ':') throw new JsonFormatException("expected ':'", position);
                position++;
                SkipWhitespace(text, ref position);
                node.Add(name, ReadValue(text, ref position, depth));
                SkipWhitespace(text, ref position);
                if (position >= text.Length) throw new JsonFormatException("unexpected end of document", position);
                char c = text[position++];
                if (c == '}') return node;
                if (c != ',') throw new JsonFormatException("expected ',' or '}'", position - 1);
            }
        }

        private static JsonNode ReadArray(string text, ref int position, int depth)
        {
            if (depth > MaxDepth) throw new JsonFormatException("nesting deeper than " + MaxDepth.ToString(), position);
            JsonNode node = new JsonNode(JsonKind.Array);
            position++; // [
            SkipWhitespace(text, ref position);
            if (position < text.Length && text[position] == ']')
            {
                position++;
                return node;
            }
            while (true)
            {
                SkipWhitespace(text, ref position);
                node.Add("", ReadValue(text, ref position, depth));
                SkipWhitespace(text, ref position);
                if (position >= text.Length) throw new JsonFormatException("unexpected end of document", position);
                char c = text[position++];
                if (c == ']') return node;
                if (c != ',') throw new JsonFormatException("expected ',' or ']'", position - 1);
            }
        }

        private static string ReadString(string text, ref int position)
        {
            int start = position;
            position++; // opening quote
            // Fast path: no escapes, take the substring as it is.
            int scan = position;
            while (scan < text.Length)
            {
                char c = text[scan];
                if (c == '"')
                {
                    string plain = text.Substring(position, scan - position);
                    position = scan + 1;
                    return plain;
                }
                if (c == '\\') break;
                if (c < ' ') throw new JsonFormatException("control character in a string", scan);
                scan++;
            }
            System.Text.StringBuilder value = new System.Text.StringBuilder(scan - position + 16);
            value.Append(text.Substring(position, scan - position));
            position = scan;
            while (position < text.Length)
            {
                char c = text[position++];
                if (c == '"') return value.ToString();
                if (c < ' ') throw new JsonFormatException("control character in a string", position - 1);
                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }
                if (position >= text.Length) break;
                char e = text[position++];
                switch (e)
                {
                    case '"': value.Append('"'); break;
                    case '\\': value.Append('\\'); break;
                    case '/': value.Append('/'); break;
                    case 'b': value.Append('\b'); break;
                    case 'f': value.Append('\f'); break;
                    case 'n': value.Append('\n'); break;
                    case 'r': value.Append('\r'); break;
                    case 't': value.Append('\t'); break;
                    case 'u':
                        if (position + 4 > text.Length) throw new JsonFormatException("short \\u escape", position);
                        int code = 0;
                        for (int i = 0; i < 4; i++)
                        {
                            int digit = HexValue(text[position + i]);
                            if (digit < 0) throw new JsonFormatException("bad \\u escape", position + i);
                            code = code * 16 + digit;
                        }
                        position += 4;
                        value.Append((char)code);
                        break;
                    default:
                        throw new JsonFormatException("unknown escape '\\" + e + "'", position - 1);
                }
            }
            throw new JsonFormatException("unterminated string", start);
        }

        private static int HexValue(char c)
        {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        }

        /// <summary>Reads a number without double.Parse, whose result would depend on the culture on a PC.</summary>
        private static double ReadNumber(string text, ref int position)
        {
            int start = position;
            bool negative = false;
            if (text[position] == '-')
            {
                negative = true;
                position++;
            }
            if (position >= text.Length || text[position] < '0' || text[position] > '9')
                throw new JsonFormatException("expected a digit", position);
            if (text[position] == '0' && position + 1 < text.Length && text[position + 1] >= '0' && text[position + 1] <= '9')
                throw new JsonFormatException("leading zero in a number", position);
            double mantissa = 0;
            int exponent = 0;
            int significant = 0;
            while (position < text.Length && text[position] >= '0' && text[position] <= '9')
            {
                if (significant < 18)
                {
                    mantissa = mantissa * 10 + (text[position] - '0');
                    if (mantissa != 0) significant++;
                }
                else
                {
                    exponent++;
                }
                position++;
            }
            if (position < text.Length && text[position] == '.')
            {
                position++;
                if (position >= text.Length || text[position] < '0' || text[position] > '9')
                    throw new JsonFormatException("expected a digit after '.'", position);
                while (position < text.Length && text[position] >= '0' && text[position] <= '9')
                {
                    if (significant < 18)
                    {
                        mantissa = mantissa * 10 + (text[position] - '0');
                        exponent--;
                        if (mantissa != 0) significant++;
                    }
                    position++;
                }
            }
            if (position < text.Length && (text[position] == 'e' || text[position] == 'E'))
            {
                position++;
                bool negativeExponent = false;
                if (position < text.Length && (text[position] == '+' || text[position] == '-'))
                {
                    negativeExponent = text[position] == '-';
                    position++;
                }
                if (position >= text.Length || text[position] < '0' || text[position] > '9')
                    throw new JsonFormatException("expected a digit in the exponent", position);
                int written = 0;
                while (position < text.Length && text[position] >= '0' && text[position] <= '9')
                {
                    if (written < 10000) written = written * 10 + (text[position] - '0');
                    position++;
                }
                exponent += negativeExponent ? -written : written;
            }
            if (position - start > 64) throw new JsonFormatException("number too long", start);
            double value = mantissa;
            // Scale with exact powers of ten where possible (dividing keeps 0.1 exact as 1/10).
            if (exponent > 0)
            {
                if (exponent > 400) exponent = 400;
                for (int i = 0; i < exponent; i++) value *= 10;
            }
            else if (exponent < 0)
            {
                if (exponent < -400) exponent = -400;
                int steps = -exponent;
                while (steps >= 22)
                {
                    value /= 1e22;
                    steps -= 22;
                }
                value /= Pow10(steps);
            }
            return negative ? -value : value;
        }

        private static double Pow10(int exponent)
        {
            double result = 1;
            for (int i = 0; i < exponent; i++) result *= 10;
            return result;
        }

        private static void ExpectWord(string text, ref int position, string word)
        {
            if (position + word.Length > text.Length || text.Substring(position, word.Length) != word)
                throw new JsonFormatException("expected '" + word + "'", position);
            position += word.Length;
        }

        private static void SkipWhitespace(string text, ref int position)
        {
            while (position < text.Length)
            {
                char c = text[position];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                position++;
            }
        }
    }
}
