using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Campus.Contracts;

/// <summary>The kind of a device; the <c>{kind}</c> segment of a topic.</summary>
[JsonConverter(typeof(WireEnumConverter<DeviceKind>))]
public enum DeviceKind
{
    /// <summary>Not a wire value: a reader reports it as out of range.</summary>
    Unknown = 0,
    /// <summary><c>energy</c>: energy meter / energy-environment node.</summary>
    Energy,
    /// <summary><c>env</c>: environment and occupancy node.</summary>
    Env,
    /// <summary><c>door</c>: door card reader.</summary>
    Door,
    /// <summary><c>sign</c>: electronic class sign.</summary>
    Sign,
    /// <summary><c>maker</c>: maker kit.</summary>
    Maker,
}

/// <summary>The <c>type</c> of an event.</summary>
[JsonConverter(typeof(WireEnumConverter<EventType>))]
public enum EventType
{
    /// <summary>Not a wire value.</summary>
    Unknown = 0,
    /// <summary><c>access-request</c></summary>
    AccessRequest,
    /// <summary><c>access</c></summary>
    Access,
    /// <summary><c>door</c></summary>
    Door,
    /// <summary><c>rex</c></summary>
    Rex,
    /// <summary><c>forced</c></summary>
    Forced,
    /// <summary><c>held-open</c></summary>
    HeldOpen,
    /// <summary><c>tamper</c></summary>
    Tamper,
    /// <summary><c>checkin</c></summary>
    Checkin,
    /// <summary><c>milestone</c></summary>
    Milestone,
}

/// <summary><c>granted</c> or <c>denied</c>.</summary>
[JsonConverter(typeof(WireEnumConverter<AccessResult>))]
public enum AccessResult
{
    /// <summary>Not a wire value.</summary>
    Unknown = 0,
    /// <summary><c>granted</c></summary>
    Granted,
    /// <summary><c>denied</c></summary>
    Denied,
}

/// <summary>Why access was granted or denied.</summary>
[JsonConverter(typeof(WireEnumConverter<AccessReason>))]
public enum AccessReason
{
    /// <summary>Not a wire value.</summary>
    Unknown = 0,
    /// <summary><c>ok</c></summary>
    Ok,
    /// <summary><c>unknown-card</c></summary>
    UnknownCard,
    /// <summary><c>card-blocked</c></summary>
    CardBlocked,
    /// <summary><c>outside-schedule</c></summary>
    OutsideSchedule,
    /// <summary><c>no-zone</c></summary>
    NoZone,
    /// <summary><c>lockdown</c></summary>
    Lockdown,
    /// <summary><c>timeout</c></summary>
    Timeout,
}

/// <summary>Who decided an access: <c>controller</c> or the reader's <c>cache</c>.</summary>
[JsonConverter(typeof(WireEnumConverter<DecisionSource>))]
public enum DecisionSource
{
    /// <summary>Not a wire value.</summary>
    Unknown = 0,
    /// <summary><c>controller</c></summary>
    Controller,
    /// <summary><c>cache</c></summary>
    Cache,
}

/// <summary><c>open</c> or <c>closed</c> (door contact, tamper switch).</summary>
[JsonConverter(typeof(WireEnumConverter<ContactState>))]
public enum ContactState
{
    /// <summary>Not a wire value.</summary>
    Unknown = 0,
    /// <summary><c>open</c></summary>
    Open,
    /// <summary><c>closed</c></summary>
    Closed,
}

/// <summary>Stage of a held-open alarm.</summary>
[JsonConverter(typeof(WireEnumConverter<HeldOpenStage>))]
public enum HeldOpenStage
{
    /// <summary>Not a wire value.</summary>
    Unknown = 0,
    /// <summary><c>pre-alarm</c></summary>
    PreAlarm,
    /// <summary><c>alarm</c></summary>
    Alarm,
}

/// <summary>Milestone of a maker project.</summary>
[JsonConverter(typeof(WireEnumConverter<MilestoneKind>))]
public enum MilestoneKind
{
    /// <summary>Not a wire value.</summary>
    Unknown = 0,
    /// <summary><c>first-data</c></summary>
    FirstData,
    /// <summary><c>sensor-added</c></summary>
    SensorAdded,
    /// <summary><c>rule-triggered</c></summary>
    RuleTriggered,
}

/// <summary><c>online</c> or <c>offline</c>.</summary>
[JsonConverter(typeof(WireEnumConverter<DeviceState>))]
public enum DeviceState
{
    /// <summary>Not a wire value.</summary>
    Unknown = 0,
    /// <summary><c>online</c></summary>
    Online,
    /// <summary><c>offline</c></summary>
    Offline,
}

/// <summary>Wire names of the contract enums (lower-case, kebab-case).</summary>
public static class WireNames
{
    /// <summary>The wire name of <paramref name="value"/>; throws for <c>Unknown</c> or undefined values.</summary>
    public static string ToWire<T>(this T value) where T : struct, Enum
    {
        var names = WireEnumTable<T>.Names;
        var i = Unsafe.BitCast<T, int>(value);
        if ((uint)i >= (uint)names.Length || names[i] is null)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"{typeof(T).Name} value {i} has no wire name.");
        }
        return names[i]!;
    }

    /// <summary>Parses a wire name; false (and <c>Unknown</c>) when it is not one.</summary>
    public static bool TryParse<T>(ReadOnlySpan<char> text, out T value) where T : struct, Enum
    {
        var names = WireEnumTable<T>.Names;
        for (var i = 1; i < names.Length; i++)
        {
            if (text.SequenceEqual(names[i]))
            {
                value = Unsafe.BitCast<int, T>(i);
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>Parses a UTF-8 wire name; false (and <c>Unknown</c>) when it is not one.</summary>
    public static bool TryParse<T>(ReadOnlySpan<byte> utf8, out T value) where T : struct, Enum
    {
        var names = WireEnumTable<T>.Utf8;
        for (var i = 1; i < names.Length; i++)
        {
            if (utf8.SequenceEqual(names[i]))
            {
                value = Unsafe.BitCast<int, T>(i);
                return true;
            }
        }
        value = default;
        return false;
    }

    internal static string[] Of(Type type)
    {
        if (type == typeof(DeviceKind)) return [null!, "energy", "env", "door", "sign", "maker"];
        if (type == typeof(EventType)) return [null!, "access-request", "access", "door", "rex", "forced", "held-open", "tamper", "checkin", "milestone"];
        if (type == typeof(AccessResult)) return [null!, "granted", "denied"];
        if (type == typeof(AccessReason)) return [null!, "ok", "unknown-card", "card-blocked", "outside-schedule", "no-zone", "lockdown", "timeout"];
        if (type == typeof(DecisionSource)) return [null!, "controller", "cache"];
        if (type == typeof(ContactState)) return [null!, "open", "closed"];
        if (type == typeof(HeldOpenStage)) return [null!, "pre-alarm", "alarm"];
        if (type == typeof(MilestoneKind)) return [null!, "first-data", "sensor-added", "rule-triggered"];
        if (type == typeof(DeviceState)) return [null!, "online", "offline"];
        throw new InvalidOperationException($"{type.Name} is not a wire enum.");
    }
}

internal static class WireEnumTable<T> where T : struct, Enum
{
    public static readonly string?[] Names = WireNames.Of(typeof(T));
    public static readonly byte[][] Utf8 = Array.ConvertAll(Names, n => n is null ? [] : Encoding.UTF8.GetBytes(n));

    /// <summary>The value whose wire name the reader's current string token holds (escapes allowed); Unknown otherwise.</summary>
    public static T Match(ref Utf8JsonReader reader)
    {
        var names = Utf8;
        for (var i = 1; i < names.Length; i++)
        {
            if (reader.ValueTextEquals(names[i]))
            {
                return Unsafe.BitCast<int, T>(i);
            }
        }
        return default;
    }
}

/// <summary>
/// Reads and writes a contract enum by its wire name without allocating. An unknown name reads as
/// <c>Unknown</c> (value 0) instead of throwing, so the payload reader can report the field by name.
/// </summary>
internal sealed class WireEnumConverter<T> : JsonConverter<T> where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"Expected a string for {typeof(T).Name}.");
        }
        return WireEnumTable<T>.Match(ref reader);
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        var names = WireEnumTable<T>.Utf8;
        var i = Unsafe.BitCast<T, int>(value);
        if (i <= 0 || i >= names.Length)
        {
            throw new JsonException($"{typeof(T).Name} value {i} has no wire name.");
        }
        writer.WriteStringValue(names[i]);
    }
}
