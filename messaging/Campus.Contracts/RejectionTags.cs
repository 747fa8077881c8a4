namespace Campus.Contracts;

/// <summary>Stable kebab-case names of rejection reasons, for metric tags and logs (no allocation).</summary>
public static class RejectionTags
{
    /// <summary>e.g. <c>out-of-range</c> for <see cref="PayloadRejection.OutOfRange"/>.</summary>
    public static string ToTag(this PayloadRejection reason) => reason switch
    {
        PayloadRejection.None => "none",
        PayloadRejection.Empty => "empty",
        PayloadRejection.Oversize => "oversize",
        PayloadRejection.MalformedJson => "malformed-json",
        PayloadRejection.WrongType => "wrong-type",
        PayloadRejection.MissingField => "missing-field",
        PayloadRejection.DuplicateField => "duplicate-field",
        PayloadRejection.UnknownVersion => "unknown-version",
        PayloadRejection.OutOfRange => "out-of-range",
        PayloadRejection.UnknownType => "unknown-type",
        PayloadRejection.WrongKind => "wrong-kind",
        _ => "unknown",
    };

    /// <summary>e.g. <c>topic-unknown-kind</c> for <see cref="TopicError.UnknownKind"/>.</summary>
    public static string ToTag(this TopicError error) => error switch
    {
        TopicError.None => "none",
        TopicError.Empty => "topic-empty",
        TopicError.TooLong => "topic-too-long",
        TopicError.NotCampus => "topic-not-campus",
        TopicError.UnknownVersion => "topic-unknown-version",
        TopicError.TooFewSegments => "topic-too-few-segments",
        TopicError.TooManySegments => "topic-too-many-segments",
        TopicError.InvalidSchool => "topic-invalid-school",
        TopicError.InvalidRoom => "topic-invalid-room",
        TopicError.UnknownKind => "topic-unknown-kind",
        TopicError.InvalidDevice => "topic-invalid-device",
        TopicError.UnknownStream => "topic-unknown-stream",
        TopicError.InvalidCommandName => "topic-invalid-command-name",
        _ => "topic-unknown",
    };
}
