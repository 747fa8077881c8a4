using System.Diagnostics.CodeAnalysis;

namespace Campus.Contracts;

/// <summary>Why a payload was rejected. The lower-case name is meant as the metric tag <c>reason</c>.</summary>
public enum PayloadRejection
{
    /// <summary>Accepted.</summary>
    None,
    /// <summary>Zero bytes (e.g. a retained message being cleared).</summary>
    Empty,
    /// <summary>Over <see cref="PayloadReader.MaxPayloadBytes"/> (commands: <see cref="PayloadReader.MaxCommandBytes"/>); checked before anything else.</summary>
    Oversize,
    /// <summary>Not well-formed JSON, not UTF-8, nested too deep, or trailing content.</summary>
    MalformedJson,
    /// <summary>The document or a member has the wrong JSON type (e.g. a string where a number belongs).</summary>
    WrongType,
    /// <summary>A required member is missing or null.</summary>
    MissingField,
    /// <summary>A member appears twice.</summary>
    DuplicateField,
    /// <summary><c>v</c> is not a version this reader knows.</summary>
    UnknownVersion,
    /// <summary>A value is outside its range or format (negative power, humidity over 100, infinity, card UID, time of day...).</summary>
    OutOfRange,
    /// <summary>An unknown event <c>type</c> or command name.</summary>
    UnknownType,
    /// <summary>The payload, event type or command does not belong to the device kind or stream of the topic.</summary>
    WrongKind,
}

/// <summary>The outcome of reading a payload: the value, or a reason, the member at fault and a message naming it.</summary>
public readonly struct PayloadResult<T> where T : class
{
    private PayloadResult(T? value, PayloadRejection rejection, string? field, string? message)
    {
        Value = value;
        Rejection = rejection;
        Field = field;
        _message = message;
    }

    private readonly string? _message;

    /// <summary>The payload; null when rejected.</summary>
    public T? Value { get; }

    /// <summary>Why it was rejected; <see cref="PayloadRejection.None"/> when accepted.</summary>
    public PayloadRejection Rejection { get; }

    /// <summary>The JSON member at fault (e.g. <c>humidityPct</c>, <c>entries[2].card</c>); null when the fault is the document.</summary>
    public string? Field { get; }

    /// <summary>A human-readable message naming the member; empty when accepted.</summary>
    public string Message => _message ?? "";

    /// <summary>True when the payload was accepted.</summary>
    [MemberNotNullWhen(true, nameof(Value))]
    public bool IsValid => Rejection == PayloadRejection.None;

    /// <summary>The payload when accepted.</summary>
    public bool TryGetValue([NotNullWhen(true)] out T? value)
    {
        value = Value;
        return IsValid;
    }

    internal static PayloadResult<T> Accept(T value) => new(value, PayloadRejection.None, null, null);

    internal static PayloadResult<T> Reject(in Failure failure) => new(null, failure.Reason, failure.Field, failure.Message);

    /// <inheritdoc />
    public override string ToString() => IsValid ? $"accepted {Value}" : $"rejected ({Rejection}): {Message}";
}

internal readonly record struct Failure(PayloadRejection Reason, string? Field, string Message);
