using System.Runtime.CompilerServices;
using System.Diagnostics.CodeAnalysis;

namespace Campus.Contracts;

/// <summary>The stream of a topic: its last segment(s).</summary>
public enum TopicStream
{
    /// <summary><c>telemetry</c>: device → controller.</summary>
    Telemetry,
    /// <summary><c>status</c>: device → controller, retained, also the last will.</summary>
    Status,
    /// <summary><c>event</c>: device → controller.</summary>
    Event,
    /// <summary><c>cmd/{name}</c>: controller → device.</summary>
    Command,
    /// <summary><c>cmd/{name}/ack</c>: device → controller.</summary>
    CommandAck,
}

/// <summary>Why a topic did not parse.</summary>
public enum TopicError
{
    /// <summary>The topic parsed.</summary>
    None,
    /// <summary>The topic is empty.</summary>
    Empty,
    /// <summary>The topic is longer than <see cref="DeviceTopic.MaxLength"/>.</summary>
    TooLong,
    /// <summary>The first segment is not <c>campus</c>.</summary>
    NotCampus,
    /// <summary>The second segment is not <c>v1</c>.</summary>
    UnknownVersion,
    /// <summary>Segments are missing (at least school, room, kind, device and stream are needed).</summary>
    TooFewSegments,
    /// <summary>There are segments after the stream.</summary>
    TooManySegments,
    /// <summary>The school segment is not an identifier.</summary>
    InvalidSchool,
    /// <summary>The room segment is not an identifier.</summary>
    InvalidRoom,
    /// <summary>The kind segment is not a known device kind.</summary>
    UnknownKind,
    /// <summary>The device segment is not an identifier.</summary>
    InvalidDevice,
    /// <summary>The stream is not telemetry, status, event, cmd/{name} or cmd/{name}/ack.</summary>
    UnknownStream,
    /// <summary>The command name is not an identifier.</summary>
    InvalidCommandName,
}

/// <summary>
/// A parsed, validated topic <c>campus/v1/{school}/{room}/{kind}/{device}/{stream}</c>. Build one with
/// <see cref="Telemetry"/>, <see cref="Status"/>, <see cref="Event"/>, <see cref="Command"/> or
/// <see cref="CommandAck"/> (which throw <see cref="ArgumentException"/> on a bad segment), or read one with
/// <see cref="TryParse(ReadOnlySpan{char}, out DeviceTopic, out TopicError)"/> (which never throws).
/// </summary>
public readonly record struct DeviceTopic : ISpanFormattable
{
    /// <summary>Longest topic accepted by the parser, in characters (the scheme itself needs at most 166).</summary>
    public const int MaxLength = 256;

    /// <summary>The topic prefix shared by every Campus topic.</summary>
    public const string Prefix = "campus/v1/";

    private DeviceTopic(string school, string room, DeviceKind kind, string device, TopicStream stream, string? commandName)
    {
        School = school;
        Room = room;
        Kind = kind;
        Device = device;
        Stream = stream;
        CommandName = commandName;
    }

    /// <summary>The school id.</summary>
    public string School { get; }

    /// <summary>The room id.</summary>
    public string Room { get; }

    /// <summary>The device kind.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The device id (unique in the district; equals the MQTT client id and user name).</summary>
    public string Device { get; }

    /// <summary>The stream.</summary>
    public TopicStream Stream { get; }

    /// <summary>The command name for <see cref="TopicStream.Command"/> and <see cref="TopicStream.CommandAck"/>; otherwise null.</summary>
    public string? CommandName { get; }

    /// <summary>True for streams a device publishes (everything but <see cref="TopicStream.Command"/>).</summary>
    public bool IsFromDevice => Stream != TopicStream.Command;

    /// <summary><c>campus/v1/{school}/{room}/{kind}/{device}/telemetry</c></summary>
    public static DeviceTopic Telemetry(string school, string room, DeviceKind kind, string device) => Create(school, room, kind, device, TopicStream.Telemetry, null);

    /// <summary><c>campus/v1/{school}/{room}/{kind}/{device}/status</c></summary>
    public static DeviceTopic Status(string school, string room, DeviceKind kind, string device) => Create(school, room, kind, device, TopicStream.Status, null);

    /// <summary><c>campus/v1/{school}/{room}/{kind}/{device}/event</c></summary>
    public static DeviceTopic Event(string school, string room, DeviceKind kind, string device) => Create(school, room, kind, device, TopicStream.Event, null);

    /// <summary><c>campus/v1/{school}/{room}/{kind}/{device}/cmd/{name}</c></summary>
    public static DeviceTopic Command(string school, string room, DeviceKind kind, string device, string name) => Create(school, room, kind, device, TopicStream.Command, name);

    /// <summary><c>campus/v1/{school}/{room}/{kind}/{device}/cmd/{name}/ack</c></summary>
    public static DeviceTopic CommandAck(string school, string room, DeviceKind kind, string device, string name) => Create(school, room, kind, device, TopicStream.CommandAck, name);

    /// <summary>The same device's topic for another stream (a command name is needed for commands and acks).</summary>
    public DeviceTopic WithStream(TopicStream stream, string? commandName = null)
    {
        if (School is null)
        {
            throw new InvalidOperationException("This DeviceTopic is the default value; build one with DeviceTopic.Telemetry(...) or TryParse.");
        }
        return Create(School, Room, Kind, Device, stream, commandName);
    }

    /// <summary>The filter a device subscribes to for its commands: <c>campus/v1/{school}/{room}/{kind}/{device}/cmd/+</c>.</summary>
    public string CommandFilter => TopicFilters.DeviceCommands(School, Room, Kind, Device);

    private static DeviceTopic Create(string school, string room, DeviceKind kind, string device, TopicStream stream, string? commandName)
    {
        Identifier.Require(school, "school", nameof(school));
        Identifier.Require(room, "room", nameof(room));
        if (kind == DeviceKind.Unknown || !Enum.IsDefined(kind))
        {
            throw new ArgumentException($"The kind segment {(int)kind} is not a device kind; use energy, env, door, sign or maker.", nameof(kind));
        }
        Identifier.Require(device, "device", nameof(device));
        switch (stream)
        {
            case TopicStream.Telemetry or TopicStream.Status or TopicStream.Event:
                if (commandName is not null)
                {
                    throw new ArgumentException($"A {stream} topic has no command name (got '{commandName}').", nameof(commandName));
                }
                break;
            case TopicStream.Command or TopicStream.CommandAck:
                if (commandName is null)
                {
                    throw new ArgumentNullException(nameof(commandName), $"A {stream} topic needs a command name.");
                }
                Identifier.Require(commandName, "command name", nameof(commandName));
                break;
            default:
                throw new ArgumentException($"The stream {(int)stream} is not a topic stream.", nameof(stream));
        }
        return new DeviceTopic(school, room, kind, device, stream, commandName);
    }

    /// <summary>Parses a topic; never throws. On failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out DeviceTopic topic, out TopicError error)
    {
        topic = default;
        error = Validate(text, out var ranges, out var count);
        if (error != TopicError.None)
        {
            return false;
        }
        WireNames.TryParse<DeviceKind>(text[ranges[4]], out var kind);
        var stream = count switch
        {
            7 => StreamOf(text[ranges[6]]).GetValueOrDefault(),
            8 => TopicStream.Command,
            _ => TopicStream.CommandAck,
        };
        topic = new DeviceTopic(
            text[ranges[2]].ToString(),
            text[ranges[3]].ToString(),
            kind,
            text[ranges[5]].ToString(),
            stream,
            count > 7 ? text[ranges[7]].ToString() : null);
        return true;
    }

    /// <summary>Parses a UTF-8 topic (as received from MQTT); never throws. Non-ASCII bytes make the segment holding them invalid.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out DeviceTopic topic, out TopicError error)
    {
        if (utf8.IsEmpty || utf8.Length > MaxLength)
        {
            topic = default;
            error = utf8.IsEmpty ? TopicError.Empty : TopicError.TooLong;
            return false;
        }
        // Widen byte by byte: every valid topic is ASCII, and a non-ASCII byte becomes a character that
        // no segment accepts, so the error names the segment that holds it.
        Span<char> chars = stackalloc char[utf8.Length];
        for (var i = 0; i < utf8.Length; i++)
        {
            chars[i] = (char)utf8[i];
        }
        return TryParse(chars, out topic, out error);
    }

    /// <summary>Parses a topic; throws <see cref="FormatException"/> with the reason when it does not parse.</summary>
    public static DeviceTopic Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text.AsSpan(), out var topic, out var error))
        {
            throw new FormatException($"'{text}' is not a Campus topic: {Describe(error)}");
        }
        return topic;
    }

    /// <summary>A human-readable description of a topic error.</summary>
    public static string Describe(TopicError error) => error switch
    {
        TopicError.None => "no error",
        TopicError.Empty => "the topic is empty",
        TopicError.TooLong => $"the topic is longer than {MaxLength} characters",
        TopicError.NotCampus => "the first segment is not 'campus'",
        TopicError.UnknownVersion => "the second segment is not 'v1'",
        TopicError.TooFewSegments => "segments are missing; expected campus/v1/{school}/{room}/{kind}/{device}/{stream}",
        TopicError.TooManySegments => "there are segments after the stream",
        TopicError.InvalidSchool => "the school segment is not 1-32 characters of a-z, 0-9, '-' starting with a letter or digit",
        TopicError.InvalidRoom => "the room segment is not 1-32 characters of a-z, 0-9, '-' starting with a letter or digit",
        TopicError.UnknownKind => "the kind segment is not energy, env, door, sign or maker",
        TopicError.InvalidDevice => "the device segment is not 1-32 characters of a-z, 0-9, '-' starting with a letter or digit",
        TopicError.UnknownStream => "the stream is not telemetry, status, event, cmd/{name} or cmd/{name}/ack",
        TopicError.InvalidCommandName => "the command name is not 1-32 characters of a-z, 0-9, '-' starting with a letter or digit",
        _ => $"topic error {(int)error}",
    };

    private static TopicError Validate(ReadOnlySpan<char> text, out Ranges ranges, out int count)
    {
        ranges = default;
        count = 0;
        if (text.IsEmpty)
        {
            return TopicError.Empty;
        }
        if (text.Length > MaxLength)
        {
            return TopicError.TooLong;
        }
        Span<Range> r = ranges;
        count = text.Split(r, '/');
        if (!text[r[0]].SequenceEqual("campus"))
        {
            return TopicError.NotCampus;
        }
        if (count < 2 || !text[r[1]].SequenceEqual("v1"))
        {
            return count < 2 ? TopicError.TooFewSegments : TopicError.UnknownVersion;
        }
        if (count < 7)
        {
            return TopicError.TooFewSegments;
        }
        if (count > 9)
        {
            return TopicError.TooManySegments;
        }
        if (Identifier.Check(text[r[2]]) != IdentifierFault.None)
        {
            return TopicError.InvalidSchool;
        }
        if (Identifier.Check(text[r[3]]) != IdentifierFault.None)
        {
            return TopicError.InvalidRoom;
        }
        if (!WireNames.TryParse<DeviceKind>(text[r[4]], out _))
        {
            return TopicError.UnknownKind;
        }
        if (Identifier.Check(text[r[5]]) != IdentifierFault.None)
        {
            return TopicError.InvalidDevice;
        }
        var head = text[r[6]];
        if (!head.SequenceEqual("cmd"))
        {
            if (StreamOf(head) is null)
            {
                return TopicError.UnknownStream;
            }
            return count == 7 ? TopicError.None : TopicError.TooManySegments;
        }
        if (count == 7)
        {
            return TopicError.TooFewSegments;
        }
        if (Identifier.Check(text[r[7]]) != IdentifierFault.None)
        {
            return TopicError.InvalidCommandName;
        }
        if (count == 9 && !text[r[8]].SequenceEqual("ack"))
        {
            return TopicError.UnknownStream;
        }
        return TopicError.None;
    }

    private static TopicStream? StreamOf(ReadOnlySpan<char> segment) => segment switch
    {
        "telemetry" => TopicStream.Telemetry,
        "status" => TopicStream.Status,
        "event" => TopicStream.Event,
        _ => null,
    };

    private static string StreamText(TopicStream stream) => stream switch
    {
        TopicStream.Telemetry => "telemetry",
        TopicStream.Status => "status",
        TopicStream.Event => "event",
        _ => "cmd",
    };

    /// <summary>Number of characters (and UTF-8 bytes: a topic is ASCII) of <see cref="ToString()"/>.</summary>
    public int Length => School is null
        ? 0
        : Prefix.Length + School.Length + 1 + Room.Length + 1 + Kind.ToWire().Length + 1 + Device.Length + 1 + StreamText(Stream).Length
          + (CommandName is null ? 0 : 1 + CommandName.Length) + (Stream == TopicStream.CommandAck ? 4 : 0);

    /// <summary>The topic text, e.g. <c>campus/v1/s01/r101/energy/m1/telemetry</c>; empty for the default value.</summary>
    public override string ToString()
    {
        if (School is null)
        {
            return "";
        }
        return string.Create(Length, this, static (span, t) => t.TryFormat(span, out _));
    }

    /// <summary>Writes the topic text; false when <paramref name="destination"/> is too small.</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten)
    {
        charsWritten = 0;
        var length = Length;
        if (destination.Length < length)
        {
            return false;
        }
        var w = new SpanWriter(destination);
        if (School is not null)
        {
            w.Append(Prefix).Append(School).Append('/').Append(Room).Append('/').Append(Kind.ToWire()).Append('/')
             .Append(Device).Append('/').Append(StreamText(Stream));
            if (CommandName is not null)
            {
                w.Append('/').Append(CommandName);
            }
            if (Stream == TopicStream.CommandAck)
            {
                w.Append("/ack");
            }
        }
        charsWritten = w.Position;
        return true;
    }

    /// <summary>Writes the topic as UTF-8 (ASCII); false when <paramref name="destination"/> is too small.</summary>
    public bool TryFormatUtf8(Span<byte> destination, out int bytesWritten)
    {
        Span<char> chars = stackalloc char[MaxLength];
        if (!TryFormat(chars, out var n) || destination.Length < n)
        {
            bytesWritten = 0;
            return false;
        }
        for (var i = 0; i < n; i++)
        {
            destination[i] = (byte)chars[i];
        }
        bytesWritten = n;
        return true;
    }

    bool ISpanFormattable.TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) => TryFormat(destination, out charsWritten);

    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();

    [InlineArray(10)]
    private struct Ranges
    {
        private Range _element;
    }

    private ref struct SpanWriter(Span<char> span)
    {
        private readonly Span<char> _span = span;

        public int Position { get; private set; }

        [UnscopedRef]
        public ref SpanWriter Append(ReadOnlySpan<char> text)
        {
            text.CopyTo(_span[Position..]);
            Position += text.Length;
            return ref this;
        }

        [UnscopedRef]
        public ref SpanWriter Append(char c)
        {
            _span[Position++] = c;
            return ref this;
        }
    }
}
