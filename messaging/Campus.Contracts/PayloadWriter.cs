using System.Buffers;
using System.Text.Json;

namespace Campus.Contracts;

/// <summary>Writes payload records as UTF-8 JSON through the source-generated <see cref="ContractsJsonContext"/>.</summary>
public static class PayloadWriter
{
    /// <summary>The UTF-8 JSON of <paramref name="payload"/> (its concrete type decides the members).</summary>
    public static byte[] Write(IContractPayload payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return JsonSerializer.SerializeToUtf8Bytes(payload, payload.GetType(), ContractsJsonContext.Default);
    }

    /// <summary>Writes the UTF-8 JSON of <paramref name="payload"/> to <paramref name="destination"/> without an intermediate array.</summary>
    public static void Write(IContractPayload payload, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(destination);
        using var writer = new Utf8JsonWriter(destination);
        JsonSerializer.Serialize(writer, payload, payload.GetType(), ContractsJsonContext.Default);
    }
}
