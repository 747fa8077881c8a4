using System.Text.Json;

namespace Campus.Simulators.Fleet;

/// <summary>
/// Reads device secrets issued by the controller: a JSON array of the controller's
/// <c>DeviceCredentials</c> records, <c>[{"deviceId":"s01-r101-door","mqttPassword":"...","hmacKeyBase64":"..."}]</c>
/// (an optional <c>"userName"</c> overrides the user name, which is the device id by contract).
/// </summary>
public static class CredentialsFile
{
    public static IReadOnlyDictionary<string, DeviceSecret> Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new FormatException($"{path}: expected a JSON array of device credentials.");
        var result = new Dictionary<string, DeviceSecret>(StringComparer.Ordinal);
        int i = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            string Field(string name) => e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String && p.GetString() is { Length: > 0 } s
                ? s : throw new FormatException($"{path}: entry {i}: field '{name}' is missing or empty.");
            string id = Field("deviceId");
            byte[] key;
            try
            {
                key = Convert.FromBase64String(Field("hmacKeyBase64"));
            }
            catch (FormatException)
            {
                throw new FormatException($"{path}: entry {i} ({id}): hmacKeyBase64 is not base64.");
            }

            string user = e.TryGetProperty("userName", out var u) && u.GetString() is { Length: > 0 } un ? un : id;
            if (!result.TryAdd(id, new DeviceSecret(user, Field("mqttPassword"), key))) throw new FormatException($"{path}: device '{id}' appears twice.");
            i++;
        }

        return result;
    }
}
