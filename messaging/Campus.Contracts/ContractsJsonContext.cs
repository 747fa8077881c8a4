using System.Text.Json.Serialization;

namespace Campus.Contracts;

/// <summary>
/// Source-generated System.Text.Json metadata for every payload (camelCase, nulls left out except
/// <see cref="CommandAck.Error"/>). Read payloads through <see cref="PayloadReader"/>, which validates;
/// write them with <see cref="PayloadWriter"/> or this context.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow,
    AllowTrailingCommas = false,
    MaxDepth = 16)]
[JsonSerializable(typeof(Telemetry))]
[JsonSerializable(typeof(MakerReading))]
[JsonSerializable(typeof(DeviceStatus))]
[JsonSerializable(typeof(AccessRequestEvent))]
[JsonSerializable(typeof(AccessEvent))]
[JsonSerializable(typeof(DoorEvent))]
[JsonSerializable(typeof(RexEvent))]
[JsonSerializable(typeof(ForcedEvent))]
[JsonSerializable(typeof(HeldOpenEvent))]
[JsonSerializable(typeof(TamperEvent))]
[JsonSerializable(typeof(CheckinEvent))]
[JsonSerializable(typeof(MilestoneEvent))]
[JsonSerializable(typeof(AccessCommand))]
[JsonSerializable(typeof(UnlockCommand))]
[JsonSerializable(typeof(LockdownCommand))]
[JsonSerializable(typeof(AllowlistCommand))]
[JsonSerializable(typeof(TimetableCommand))]
[JsonSerializable(typeof(NoticesCommand))]
[JsonSerializable(typeof(ConfigCommand))]
[JsonSerializable(typeof(CommandAck))]
[JsonSerializable(typeof(ReplayGuardState))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
