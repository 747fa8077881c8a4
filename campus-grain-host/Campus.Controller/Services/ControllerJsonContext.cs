using System.Text.Json.Serialization;

namespace Campus.Controller.Services;

[JsonSerializable(typeof(IReadOnlyDictionary<string, double>))]
internal sealed partial class ControllerJsonContext : JsonSerializerContext;
