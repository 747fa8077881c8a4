using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;

namespace Campus.Contracts;

/// <summary>
/// Reads and validates UTF-8 payloads against their stream and device kind. Never throws on bad input:
/// the result carries a <see cref="PayloadRejection"/> and a message naming the member at fault.
/// </summary>
/// <remarks>
/// Order of checks: size (before anything else), empty, UTF-8, one <see cref="Utf8JsonReader"/> pass over the
/// top-level members (well-formedness, JSON types, duplicates, integer ranges, finite numbers, <c>v</c>,
/// required members), then the source-generated deserializer (telemetry, the most frequent payload, is read
/// straight into its record by a second reader pass instead), then per-field value rules. Unknown members
/// are ignored. The only exception caught is the reader's <see cref="JsonException"/> for malformed text and
/// the deserializer's for a wrong type inside a nested member.
/// </remarks>
public static class PayloadReader
{
    /// <summary>Largest device → controller payload, bytes.</summary>
    public const int MaxPayloadBytes = 8 * 1024;

    /// <summary>Largest command (controller → device) payload, bytes: an allow-list of about 800 cards.</summary>
    public const int MaxCommandBytes = 64 * 1024;

    /// <summary>Reads the payload of <paramref name="topic"/>: the record type follows the stream, the kind and the command name.</summary>
    public static PayloadResult<IContractPayload> Read(in DeviceTopic topic, ReadOnlySpan<byte> payload)
    {
        switch (topic.Stream)
        {
            case TopicStream.Telemetry when topic.Kind is DeviceKind.Energy or DeviceKind.Env:
                return Widen(ReadTelemetry(payload));
            case TopicStream.Telemetry when topic.Kind == DeviceKind.Maker:
                return Widen(ReadMakerReading(payload));
            case TopicStream.Telemetry:
                if (payload.Length > MaxPayloadBytes)
                {
                    return PayloadResult<IContractPayload>.Reject(Oversize(payload.Length, MaxPayloadBytes));
                }
                return PayloadResult<IContractPayload>.Reject(new(PayloadRejection.WrongKind, null, $"A {KindName(topic.Kind)} device publishes no telemetry."));
            case TopicStream.Status:
                return Widen(ReadStatus(payload));
            case TopicStream.Event:
                return Widen(ReadEvent(payload, topic.Kind));
            case TopicStream.Command:
                return Widen(ReadCommand(payload, topic.CommandName ?? "", topic.Kind));
            case TopicStream.CommandAck:
                return Widen(ReadCommandAck(payload));
            default:
                return PayloadResult<IContractPayload>.Reject(new(PayloadRejection.WrongKind, null, "The topic is not a Campus device topic."));
        }
    }

    /// <summary>Reads energy/env telemetry.</summary>
    public static PayloadResult<Telemetry> ReadTelemetry(ReadOnlySpan<byte> payload)
    {
        // The most frequent payload by far: read straight into the record once the scan has checked every
        // member, instead of a second pass through the serializer (which boxes each number it reads).
        var failure = Scan(payload, MaxPayloadBytes, Schemas.Telemetry, out var scan) ?? RequireAll(Schemas.Telemetry, scan.Present, Schemas.Telemetry.Required);
        if (failure is { } f) return PayloadResult<Telemetry>.Reject(f);
        var value = MaterializeTelemetry(payload);
        return Finish(Rules.Check(value), value);
    }

    /// <summary>Reads a telemetry document that <see cref="Scan"/> accepted (so every member has its type and appears once).</summary>
    private static Telemetry MaterializeTelemetry(ReadOnlySpan<byte> payload)
    {
        var schema = Schemas.Telemetry;
        var v = 0;
        uint boot = 0, seq = 0;
        long ts = 0;
        double? energy = null, power = null, voltage = null, current = null, factor = null, temperature = null, humidity = null;
        bool? occupied = null;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var index = schema.IndexOf(ref reader);
            reader.Read();
            if (index < 0 || reader.TokenType == JsonTokenType.Null)
            {
                reader.Skip();
                continue;
            }
            switch (index)
            {
                case 0: v = reader.GetInt32(); break;
                case 1: boot = reader.GetUInt32(); break;
                case 2: seq = reader.GetUInt32(); break;
                case 3: ts = reader.GetInt64(); break;
                case 4: energy = reader.GetDouble(); break;
                case 5: power = reader.GetDouble(); break;
                case 6: voltage = reader.GetDouble(); break;
                case 7: current = reader.GetDouble(); break;
                case 8: factor = reader.GetDouble(); break;
                case 9: temperature = reader.GetDouble(); break;
                case 10: humidity = reader.GetDouble(); break;
                case 11: occupied = reader.GetBoolean(); break;
            }
        }
        return new Telemetry
        {
            V = v, Boot = boot, Seq = seq, Ts = ts,
            EnergyKwh = energy, PowerW = power, VoltageV = voltage, CurrentA = current,
            PowerFactor = factor, TemperatureC = temperature, HumidityPct = humidity, Occupied = occupied,
        };
    }

    /// <summary>Reads maker-kit readings.</summary>
    public static PayloadResult<MakerReading> ReadMakerReading(ReadOnlySpan<byte> payload) =>
        Finish(ReadCore(payload, MaxPayloadBytes, Schemas.Maker, Schemas.Maker.Required, ContractsJsonContext.Default.MakerReading, out var value) ?? Rules.Check(value!), value);

    /// <summary>Reads a status, including the last-will form <c>{"v":1,"state":"offline"}</c>.</summary>
    public static PayloadResult<DeviceStatus> ReadStatus(ReadOnlySpan<byte> payload) =>
        Finish(ReadCore(payload, MaxPayloadBytes, Schemas.Status, Schemas.Status.Required, ContractsJsonContext.Default.DeviceStatus, out var value) ?? Rules.Check(value!), value);

    /// <summary>Reads a command acknowledgement.</summary>
    public static PayloadResult<CommandAck> ReadCommandAck(ReadOnlySpan<byte> payload) =>
        Finish(ReadCore(payload, MaxPayloadBytes, Schemas.Ack, Schemas.Ack.Required, ContractsJsonContext.Default.CommandAck, out var value) ?? Rules.Check(value!), value);

    /// <summary>
    /// Reads an event of a device of <paramref name="kind"/>; the concrete record follows <c>type</c>. A type the
    /// kind does not send is <see cref="PayloadRejection.WrongKind"/>. The signature is not checked here: verify
    /// door events with <see cref="EventSigner.Verify"/> on the raw bytes first.
    /// </summary>
    public static PayloadResult<DeviceEvent> ReadEvent(ReadOnlySpan<byte> payload, DeviceKind kind)
    {
        var schema = Schemas.Event;
        var failure = Scan(payload, MaxPayloadBytes, schema, out var scan);
        if (failure is null)
        {
            if ((scan.Present & schema.Bit("type")) == 0)
            {
                failure = Missing("type");
            }
            else if (scan.Type == EventType.Unknown)
            {
                failure = new(PayloadRejection.UnknownType, "type", "Member 'type' is not a known event type.");
            }
            else if (!EventKinds.IsSentBy(scan.Type, kind))
            {
                failure = new(PayloadRejection.WrongKind, "type", $"Member 'type' is '{scan.Type.ToWire()}', an event that a {KindName(kind)} device does not send.");
            }
            else
            {
                failure = RequireAll(schema, scan.Present, Schemas.EventRequired(scan.Type));
            }
        }
        if (failure is not null)
        {
            return PayloadResult<DeviceEvent>.Reject(failure.Value);
        }
        DeviceEvent? value = scan.Type switch
        {
            EventType.AccessRequest => Deserialize(payload, ContractsJsonContext.Default.AccessRequestEvent, ref failure),
            EventType.Access => Deserialize(payload, ContractsJsonContext.Default.AccessEvent, ref failure),
            EventType.Door => Deserialize(payload, ContractsJsonContext.Default.DoorEvent, ref failure),
            EventType.Rex => Deserialize(payload, ContractsJsonContext.Default.RexEvent, ref failure),
            EventType.Forced => Deserialize(payload, ContractsJsonContext.Default.ForcedEvent, ref failure),
            EventType.HeldOpen => Deserialize(payload, ContractsJsonContext.Default.HeldOpenEvent, ref failure),
            EventType.Tamper => Deserialize(payload, ContractsJsonContext.Default.TamperEvent, ref failure),
            EventType.Checkin => Deserialize(payload, ContractsJsonContext.Default.CheckinEvent, ref failure),
            _ => Deserialize(payload, ContractsJsonContext.Default.MilestoneEvent, ref failure),
        };
        return Finish(failure ?? Rules.Check(value!), value);
    }

    /// <summary>
    /// Reads the command <paramref name="name"/> (the topic's <c>cmd/{name}</c>). An unknown name is
    /// <see cref="PayloadRejection.UnknownType"/>; a command the device kind does not take is
    /// <see cref="PayloadRejection.WrongKind"/> (pass <see cref="DeviceKind.Unknown"/> to skip that check).
    /// </summary>
    public static PayloadResult<DeviceCommand> ReadCommand(ReadOnlySpan<byte> payload, string name, DeviceKind kind = DeviceKind.Unknown)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (payload.Length > MaxCommandBytes)
        {
            return PayloadResult<DeviceCommand>.Reject(Oversize(payload.Length, MaxCommandBytes));
        }
        var schema = Schemas.Command(name);
        if (schema is null)
        {
            return PayloadResult<DeviceCommand>.Reject(new(PayloadRejection.UnknownType, null, $"'{name}' is not a known command."));
        }
        if (kind != DeviceKind.Unknown && !CommandNames.AppliesTo(name, kind))
        {
            return PayloadResult<DeviceCommand>.Reject(new(PayloadRejection.WrongKind, null, $"A {KindName(kind)} device does not take the '{name}' command."));
        }
        DeviceCommand? value = null;
        var failure = name switch
        {
            CommandNames.Access => ReadCommand(payload, schema, ContractsJsonContext.Default.AccessCommand, ref value),
            CommandNames.Unlock => ReadCommand(payload, schema, ContractsJsonContext.Default.UnlockCommand, ref value),
            CommandNames.Lockdown => ReadCommand(payload, schema, ContractsJsonContext.Default.LockdownCommand, ref value),
            CommandNames.Allowlist => ReadCommand(payload, schema, ContractsJsonContext.Default.AllowlistCommand, ref value),
            CommandNames.Timetable => ReadCommand(payload, schema, ContractsJsonContext.Default.TimetableCommand, ref value),
            CommandNames.Notices => ReadCommand(payload, schema, ContractsJsonContext.Default.NoticesCommand, ref value),
            _ => ReadCommand(payload, schema, ContractsJsonContext.Default.ConfigCommand, ref value),
        };
        return Finish(failure ?? Rules.Check(value!), value);
    }

    private static Failure? ReadCommand<T>(ReadOnlySpan<byte> payload, Schema schema, JsonTypeInfo<T> info, ref DeviceCommand? value) where T : DeviceCommand
    {
        var failure = ReadCore(payload, MaxCommandBytes, schema, schema.Required, info, out var typed);
        value = typed;
        return failure;
    }

    private static string KindName(DeviceKind kind) =>
        kind is > DeviceKind.Unknown and <= DeviceKind.Maker ? kind.ToWire() : "unknown-kind";

    private static PayloadResult<IContractPayload> Widen<T>(PayloadResult<T> result) where T : class, IContractPayload =>
        result.IsValid
            ? PayloadResult<IContractPayload>.Accept(result.Value)
            : PayloadResult<IContractPayload>.Reject(new(result.Rejection, result.Field, result.Message));

    private static PayloadResult<T> Finish<T>(Failure? failure, T? value) where T : class =>
        failure is { } f ? PayloadResult<T>.Reject(f) : PayloadResult<T>.Accept(value!);

    private static Failure? ReadCore<T>(ReadOnlySpan<byte> payload, int limit, Schema schema, ulong required, JsonTypeInfo<T> info, out T? value) where T : class
    {
        value = null;
        var failure = Scan(payload, limit, schema, out var scan) ?? RequireAll(schema, scan.Present, required);
        if (failure is not null)
        {
            return failure;
        }
        value = Deserialize(payload, info, ref failure);
        return failure;
    }

    private static T? Deserialize<T>(ReadOnlySpan<byte> payload, JsonTypeInfo<T> info, ref Failure? failure) where T : class
    {
        try
        {
            var value = JsonSerializer.Deserialize(payload, info);
            if (value is null)
            {
                failure = new(PayloadRejection.WrongType, null, "The document is null, not a JSON object.");
            }
            return value;
        }
        catch (JsonException e)
        {
            // Reached only for a wrong JSON type inside a nested member: the scan has checked the rest.
            var field = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : e.Path;
            failure = new(PayloadRejection.WrongType, field, $"Member '{field}' has the wrong JSON type.");
            return null;
        }
    }

    private static Failure? RequireAll(Schema schema, ulong present, ulong required)
    {
        var missing = required & ~present;
        if (missing == 0)
        {
            return null;
        }
        return Missing(schema.Names[System.Numerics.BitOperations.TrailingZeroCount(missing)]);
    }

    internal static Failure Missing(string field) => new(PayloadRejection.MissingField, field, $"Required member '{field}' is missing or null.");

    private static Failure Oversize(int length, int limit) =>
        new(PayloadRejection.Oversize, null, $"The payload has {length} bytes; at most {limit} are allowed.");

    private struct ScanResult
    {
        public ulong Present;
        public EventType Type;
    }

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 16,
    };

    /// <summary>One pass over the top-level members. Allocates nothing unless the payload is rejected.</summary>
    private static Failure? Scan(ReadOnlySpan<byte> payload, int limit, Schema schema, out ScanResult scan)
    {
        scan = default;
        if (payload.Length > limit)
        {
            return Oversize(payload.Length, limit);
        }
        if (payload.IsEmpty)
        {
            return new(PayloadRejection.Empty, null, "The payload is empty.");
        }
        if (!Utf8.IsValid(payload))
        {
            return new(PayloadRejection.MalformedJson, null, "The payload is not valid UTF-8.");
        }
        Failure? fieldFailure = null;
        var version = 0;
        ulong seen = 0;
        var versionKind = JsonTokenType.None;
        var reader = new Utf8JsonReader(payload, ReaderOptions);
        try
        {
            reader.Read();
            var root = reader.TokenType;
            if (root != JsonTokenType.StartObject)
            {
                // Finish reading so malformed text is still reported as such.
                reader.Skip();
                while (reader.Read())
                {
                }
                return new(PayloadRejection.WrongType, null, $"The document is a JSON {Describe(root)}, not an object.");
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var index = schema.IndexOf(ref reader);
                reader.Read();
                if (index < 0)
                {
                    reader.Skip();
                    continue;
                }
                var bit = 1UL << index;
                if ((seen & bit) != 0)
                {
                    fieldFailure ??= new(PayloadRejection.DuplicateField, schema.Names[index], $"Member '{schema.Names[index]}' appears more than once.");
                }
                seen |= bit;
                if (reader.TokenType == JsonTokenType.Null)
                {
                    // null is the same as absent: fine for optional members, MissingField for required ones.
                }
                else if (CheckToken(ref reader, schema.Kinds[index], schema.Names[index]) is { } f)
                {
                    fieldFailure ??= f;
                    if (index == 0)
                    {
                        versionKind = JsonTokenType.String;
                    }
                }
                else
                {
                    scan.Present |= bit;
                    if (index == 0)
                    {
                        versionKind = JsonTokenType.Number;
                        version = reader.GetInt32();
                    }
                    else if (index == schema.TypeIndex)
                    {
                        scan.Type = WireEnumTable<EventType>.Match(ref reader);
                    }
                }
                reader.Skip();
            }
            // Trailing content after the object makes the reader throw here.
            while (reader.Read())
            {
            }
        }
        catch (JsonException e)
        {
            return new(PayloadRejection.MalformedJson, null, $"The payload is not well-formed JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }
        if (versionKind == JsonTokenType.None)
        {
            return Missing("v");
        }
        if (versionKind == JsonTokenType.Number && !SchemaVersion.IsKnown(version))
        {
            return new(PayloadRejection.UnknownVersion, "v", $"Member 'v' is {version}, an unknown schema version; this reader knows version {SchemaVersion.Current}.");
        }
        return fieldFailure;
    }

    private static Failure? CheckToken(ref Utf8JsonReader reader, FieldKind kind, string name)
    {
        var token = reader.TokenType;
        switch (kind)
        {
            case FieldKind.String:
                return token == JsonTokenType.String ? null : WrongType(name, "a string", token);
            case FieldKind.Bool:
                return token is JsonTokenType.True or JsonTokenType.False ? null : WrongType(name, "true or false", token);
            case FieldKind.Object:
                return token == JsonTokenType.StartObject ? null : WrongType(name, "an object", token);
            case FieldKind.Array:
                return token == JsonTokenType.StartArray ? null : WrongType(name, "an array", token);
            case FieldKind.Number:
                if (token != JsonTokenType.Number)
                {
                    return WrongType(name, "a number", token);
                }
                return reader.TryGetDouble(out var d) && double.IsFinite(d)
                    ? null
                    : new(PayloadRejection.OutOfRange, name, $"Member '{name}' is not a finite number.");
            default:
                if (token != JsonTokenType.Number)
                {
                    return WrongType(name, "an integer", token);
                }
                var fits = kind switch
                {
                    FieldKind.Int32 => reader.TryGetInt32(out _),
                    FieldKind.UInt32 => reader.TryGetUInt32(out _),
                    _ => reader.TryGetInt64(out _),
                };
                if (fits)
                {
                    return null;
                }
                if (reader.TryGetDouble(out var x) && double.IsFinite(x) && x == Math.Floor(x) && reader.ValueSpan.IndexOfAny("."u8) < 0)
                {
                    var range = kind switch
                    {
                        FieldKind.Int32 => $"{int.MinValue} to {int.MaxValue}",
                        FieldKind.UInt32 => $"0 to {uint.MaxValue}",
                        _ => $"{long.MinValue} to {long.MaxValue}",
                    };
                    return new(PayloadRejection.OutOfRange, name, $"Member '{name}' is outside {range}.");
                }
                return new(PayloadRejection.WrongType, name, $"Member '{name}' must be a whole number written without fraction or exponent.");
        }
    }

    private static Failure WrongType(string name, string expected, JsonTokenType actual) =>
        new(PayloadRejection.WrongType, name, $"Member '{name}' must be {expected}, not {Describe(actual)}.");

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        _ => "null",
    };
}

internal enum FieldKind : byte
{
    Int32,
    UInt32,
    Int64,
    Number,
    String,
    Bool,
    Object,
    Array,
}

/// <summary>The top-level members of one payload type: name, JSON kind, and which are required.</summary>
internal sealed class Schema
{
    public Schema(string required, params (string Name, FieldKind Kind)[] fields)
    {
        var all = new (string Name, FieldKind Kind)[fields.Length + 1];
        all[0] = ("v", FieldKind.Int32);
        fields.CopyTo(all, 1);
        if (all.Length > 64)
        {
            throw new ArgumentException("At most 64 members per schema.", nameof(fields));
        }
        Names = Array.ConvertAll(all, f => f.Name);
        Kinds = Array.ConvertAll(all, f => f.Kind);
        Utf8 = Array.ConvertAll(all, f => System.Text.Encoding.UTF8.GetBytes(f.Name));
        TypeIndex = Array.IndexOf(Names, "type");
        Required = Mask("v " + required);
    }

    public string[] Names { get; }
    public FieldKind[] Kinds { get; }
    public byte[][] Utf8 { get; }
    public int TypeIndex { get; }
    public ulong Required { get; }

    public ulong Bit(string name)
    {
        var i = Array.IndexOf(Names, name);
        return i < 0 ? throw new ArgumentException($"'{name}' is not a member.", nameof(name)) : 1UL << i;
    }

    public ulong Mask(string names)
    {
        ulong mask = 0;
        foreach (var name in names.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            mask |= Bit(name);
        }
        return mask;
    }

    public int IndexOf(ref Utf8JsonReader reader)
    {
        var utf8 = Utf8;
        for (var i = 0; i < utf8.Length; i++)
        {
            if (reader.ValueTextEquals(utf8[i]))
            {
                return i;
            }
        }
        return -1;
    }
}

internal static class Schemas
{
    private const string Common = "boot seq ts";

    public static readonly Schema Telemetry = new(Common,
        ("boot", FieldKind.UInt32), ("seq", FieldKind.UInt32), ("ts", FieldKind.Int64),
        ("energyKwh", FieldKind.Number), ("powerW", FieldKind.Number), ("voltageV", FieldKind.Number), ("currentA", FieldKind.Number),
        ("powerFactor", FieldKind.Number), ("temperatureC", FieldKind.Number), ("humidityPct", FieldKind.Number), ("occupied", FieldKind.Bool));

    public static readonly Schema Maker = new(Common + " project readings",
        ("boot", FieldKind.UInt32), ("seq", FieldKind.UInt32), ("ts", FieldKind.Int64),
        ("project", FieldKind.String), ("readings", FieldKind.Object));

    public static readonly Schema Status = new("state",
        ("boot", FieldKind.UInt32), ("seq", FieldKind.UInt32), ("ts", FieldKind.Int64),
        ("state", FieldKind.String), ("fw", FieldKind.String), ("uptimeS", FieldKind.Int64), ("rssi", FieldKind.Int32), ("dropped", FieldKind.UInt32));

    public static readonly Schema Ack = new(Common + " id ok",
        ("boot", FieldKind.UInt32), ("seq", FieldKind.UInt32), ("ts", FieldKind.Int64),
        ("id", FieldKind.String), ("ok", FieldKind.Bool), ("error", FieldKind.String));

    /// <summary>Members of every event type together; what each type requires is in <see cref="EventRequired"/>.</summary>
    public static readonly Schema Event = new(Common + " type",
        ("boot", FieldKind.UInt32), ("seq", FieldKind.UInt32), ("ts", FieldKind.Int64), ("type", FieldKind.String),
        ("req", FieldKind.String), ("card", FieldKind.String), ("result", FieldKind.String), ("reason", FieldKind.String),
        ("source", FieldKind.String), ("state", FieldKind.String), ("stage", FieldKind.String), ("openS", FieldKind.UInt32),
        ("lesson", FieldKind.String), ("project", FieldKind.String), ("milestone", FieldKind.String), ("detail", FieldKind.String),
        ("sig", FieldKind.String));

    private static readonly ulong[] EventRequiredByType =
    [
        0,
        Event.Required | Event.Mask("req card"),
        Event.Required | Event.Mask("req card result reason source"),
        Event.Required | Event.Mask("state"),
        Event.Required,
        Event.Required,
        Event.Required | Event.Mask("stage openS"),
        Event.Required | Event.Mask("state"),
        Event.Required | Event.Mask("card lesson"),
        Event.Required | Event.Mask("project milestone"),
    ];

    public static ulong EventRequired(EventType type) => EventRequiredByType[(int)type];

    private const string Envelope = "id ts";

    private static readonly Schema AccessCommand = new(Envelope + " req card grant reason",
        ("id", FieldKind.String), ("ts", FieldKind.Int64),
        ("req", FieldKind.String), ("card", FieldKind.String), ("grant", FieldKind.Bool), ("reason", FieldKind.String), ("openMs", FieldKind.Int32));

    private static readonly Schema UnlockCommand = new(Envelope + " by",
        ("id", FieldKind.String), ("ts", FieldKind.Int64), ("openMs", FieldKind.Int32), ("by", FieldKind.String));

    private static readonly Schema LockdownCommand = new(Envelope + " active",
        ("id", FieldKind.String), ("ts", FieldKind.Int64), ("active", FieldKind.Bool), ("message", FieldKind.String));

    private static readonly Schema AllowlistCommand = new(Envelope + " version tzOffsetMin entries",
        ("id", FieldKind.String), ("ts", FieldKind.Int64), ("version", FieldKind.Int32), ("tzOffsetMin", FieldKind.Int32), ("entries", FieldKind.Array),
        ("nextOffsetAt", FieldKind.Int64), ("nextOffsetMin", FieldKind.Int32), ("offsetChanges", FieldKind.Array));

    private static readonly Schema TimetableCommand = new(Envelope + " date room lessons",
        ("id", FieldKind.String), ("ts", FieldKind.Int64), ("date", FieldKind.String), ("room", FieldKind.String), ("lessons", FieldKind.Array));

    private static readonly Schema NoticesCommand = new(Envelope + " items",
        ("id", FieldKind.String), ("ts", FieldKind.Int64), ("items", FieldKind.Array));

    private static readonly Schema ConfigCommand = new(Envelope,
        ("id", FieldKind.String), ("ts", FieldKind.Int64), ("heartbeatS", FieldKind.Int32), ("publishS", FieldKind.Int32),
        ("deltaW", FieldKind.Number), ("deltaC", FieldKind.Number), ("throttleS", FieldKind.Int32), ("openMs", FieldKind.Int32),
        ("heldOpenS", FieldKind.Int32), ("heldAlarmS", FieldKind.Int32), ("sensors", FieldKind.Array), ("rules", FieldKind.Array));

    public static Schema? Command(string name) => name switch
    {
        CommandNames.Access => AccessCommand,
        CommandNames.Unlock => UnlockCommand,
        CommandNames.Lockdown => LockdownCommand,
        CommandNames.Allowlist => AllowlistCommand,
        CommandNames.Timetable => TimetableCommand,
        CommandNames.Notices => NoticesCommand,
        CommandNames.Config => ConfigCommand,
        _ => null,
    };
}

/// <summary>Which device kinds send which event types (the "sent by" column of the contract).</summary>
public static class EventKinds
{
    /// <summary>True when a device of <paramref name="kind"/> sends events of <paramref name="type"/>.</summary>
    public static bool IsSentBy(EventType type, DeviceKind kind) => type switch
    {
        EventType.AccessRequest or EventType.Access or EventType.Door or EventType.Rex or EventType.Forced or EventType.HeldOpen => kind == DeviceKind.Door,
        EventType.Tamper => kind is DeviceKind.Door or DeviceKind.Sign or DeviceKind.Energy or DeviceKind.Env,
        EventType.Checkin => kind == DeviceKind.Sign,
        EventType.Milestone => kind == DeviceKind.Maker,
        _ => false,
    };

    /// <summary>True when events of this kind must carry an HMAC signature (door devices).</summary>
    public static bool AreSigned(DeviceKind kind) => kind == DeviceKind.Door;
}
