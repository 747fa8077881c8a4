using System;
using System.Text;

namespace Campus.Firmware.Common
{
    /// <summary>The kinds of value a <see cref="JsonNode"/> holds.</summary>
    internal enum JsonKind
    {
        Missing,
        Null,
        Bool,
        Number,
        String,
        Array,
        Object,
    }

    /// <summary>Raised when a document is not valid JSON or breaks a reader limit.</summary>
    internal sealed class JsonFormatException : Exception
    {
        public JsonFormatException(string message, int position)
            : base(message + " at character " + position.ToString())
        {
            Position = position;
        }

        public int Position { get; private set; }
    }

    /// <summary>
    /// A parsed JSON value: objects, arrays, strings, numbers, bools and null. Looking up a member
    /// that is not there gives <see cref="Missing"/> rather than null, so command handlers can
    /// chain look-ups and fall back to defaults without checks at every step.
    /// </summary>
    internal sealed class JsonNode
    {
        /// <summary>The node returned for an absent member or an index out of range.</summary>
        public static readonly JsonNode Missing = new JsonNode(JsonKind.Missing);

        private static readonly JsonNode[] NoItems = new JsonNode[0];
        private static readonly string[] NoNames = new string[0];

        private readonly JsonKind _kind;
        private string _string = "";
        private double _number;
        private bool _bool;
        private JsonNode[] _items = NoItems;
        private string[] _names = NoNames;
        private int _count;

        internal JsonNode(JsonKind kind)
        {
            _kind = kind;
        }

        internal static JsonNode FromString(string value)
        {
            JsonNode node = new JsonNode(JsonKind.String);
            node._string = value;
            return node;
        }

        internal static JsonNode FromNumber(double value)
        {
            JsonNode node = new JsonNode(JsonKind.Number);
            node._number = value;
            return node;
        }

        internal static JsonNode FromBool(bool value)
        {
            JsonNode node = new JsonNode(JsonKind.Bool);
            node._bool = value;
            return node;
        }

        public JsonKind Kind
        {
            get { return _kind; }
        }

        public bool IsMissing
        {
            get { return _kind == JsonKind.Missing; }
        }

        public bool IsNull
        {
            get { return _kind == JsonKind.Null; }
        }

        public bool IsObject
        {
            get { return _kind == JsonKind.Object; }
        }

        public bool IsArray
        {
            get { return _kind == JsonKind.Array; }
        }

        public bool IsString
        {
            get { return _kind == JsonKind.String; }
        }

        public bool IsNumber
        {
            get { return _kind == JsonKind.Number; }
        }

        public bool IsBool
        {
            get { return _kind == JsonKind.Bool; }
        }

        /// <summary>Members of an object or items of an array.</summary>
        public int Count
        {
            get { return _count; }
        }

        /// <summary>The member named <paramref name="name"/>, or <see cref="Missing"/>.</summary>
        public JsonNode Get(string name)
        {
            if (_kind != JsonKind.Object) return Missing;
            // Documents are small: a linear search beats a hash table here and allocates nothing.
            // With duplicate names the last one wins, as in most readers.
            for (int i = _count - 1; i >= 0; i--)
            {
                if (_names[i] == name) return _items[i];
            }
            return Missing;
        }

        /// <summary>The item at <paramref name="index"/> of an array (or member value of an object), or <see cref="Missing"/>.</summary>
        public JsonNode At(int index)
        {
            if (index < 0 || index >= _count) return Missing;
            return _items[index];
        }

        /// <summary>The name of member <paramref name="index"/> of an object, or "".</summary>
        public string NameAt(int index)
        {
            if (_kind != JsonKind.Object || index < 0 || index >= _count) return "";
            return _names[index];
        }

        public bool Has(string name)
        {
            return !Get(name).IsMissing;
        }

        public string AsString(string fallback)
        {
            return _kind == JsonKind.String ? _string : fallback;
        }

        public double AsNumber(double fallback)
        {
            return _kind == JsonKind.Number ? _number : fallback;
        }

        /// <summary>The number as a whole number when it is one and fits, otherwise <paramref name="fallback"/>.</summary>
        public long AsLong(long fallback)
        {
            if (_kind != JsonKind.Number) return fallback;
            if (_number > 9.2e18 || _number < -9.2e18) return fallback;
            long whole = (long)_number;
            return whole == _number ? whole : fallback;
        }

        public int AsInt(int fallback)
        {
            long value = AsLong(fallback);
            if (value > int.MaxValue || value < int.MinValue) return fallback;
            return (int)value;
        }

        public bool AsBool(bool fallback)
        {
            return _kind == JsonKind.Bool ? _bool : fallback;
        }

        internal void Add(string name, JsonNode value)
        {
            if (_count == _items.Length)
            {
                int size = _count == 0 ? 4 : _count * 2;
                JsonNode[] items = new JsonNode[size];
                Array.Copy(_items, items, _count);
                _items = items;
                if (_kind == JsonKind.Object)
                {
                    string[] names = new string[size];
                    Array.Copy(_names, names, _count);
                    _names = names;
                }
            }
            if (_kind == JsonKind.Object) _names[_count] = name;
            _items[_count] = value;
            _count++;
        }

        /// <summary>Writes the node back as compact JSON (used to persist retained commands).</summary>
        public void WriteTo(JsonWriter writer)
        {
            switch (_kind)
            {
                case JsonKind.Null:
                case JsonKind.Missing:
                    writer.Null();
                    break;
                case JsonKind.Bool:
                    writer.Value(_bool);
                    break;
                case JsonKind.Number:
                    if (_number < 9.0e15 && _number > -9.0e15 && (long)_number == _number) writer.Value((long)_number);
                    else writer.Value(_number, 9);
                    break;
                case JsonKind.String:
                    writer.Value(_string);
                    break;
                case JsonKind.Array:
                    writer.BeginArray();
                    for (int i = 0; i < _count; i++) _items[i].WriteTo(writer);
                    writer.EndArray();
                    break;
                default:
                    writer.BeginObject();
                    for (int i = 0; i < _count; i++)
                    {
                        writer.Name(_names[i]);
                        _items[i].WriteTo(writer);
                    }
                    writer.EndObject();
                    break;
            }
        }

        public override string ToString()
        {
            JsonWriter writer = new JsonWriter();
            WriteTo(writer);
            return writer.ToString();
        }

        /// <summary>Parses a whole document; throws <see cref="JsonFormatException"/> when it is not valid JSON.</summary>
        public static JsonNode Parse(string text)
        {
            return JsonReader.Parse(text);
        }

        /// <summary>Parses UTF-8 bytes; throws <see cref="JsonFormatException"/> when they are not valid JSON.</summary>
        public static JsonNode Parse(byte[] utf8)
        {
            return JsonReader.Parse(Encoding.UTF8.GetString(utf8, 0, utf8.Length));
        }
    }
}
