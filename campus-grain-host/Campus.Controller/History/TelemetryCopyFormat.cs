using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Campus.Controller.History;

/// <summary>
/// Telemetry rows in PostgreSQL's binary COPY format, written straight into one reusable buffer: an
/// 11-byte signature, flags and header-extension length, then per row a field count and each field as a
/// big-endian length (-1 for NULL) and its bytes in the type's binary form, then a -1 trailer. Cheaper per
/// column than a generic importer; the column order is <see cref="SqlRows.TelemetryColumns"/>.
/// </summary>
internal static class TelemetryCopyFormat
{
    private const short Columns = 17;

    private static ReadOnlySpan<byte> Header =>
        [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static void Write(IBufferWriter<byte> output, List<TelemetryRecord> rows)
    {
        output.Write(Header);
        foreach (var r in rows)
        {
            Int16(output, Columns);
            Text(output, r.DeviceId);
            Int64(output, r.Boot);
            Int64(output, r.Seq);
            Text(output, r.SchoolId);
            Text(output, r.RoomId);
            Text(output, r.Kind);
            Int64(output, r.DeviceTime?.ToUnixTimeMilliseconds());
            Int64(output, r.ReceivedAt.ToUnixTimeMilliseconds());
            Float8(output, r.EnergyKwh);
            Float8(output, r.PowerW);
            Float8(output, r.VoltageV);
            Float8(output, r.CurrentA);
            Float8(output, r.PowerFactor);
            Float8(output, r.TemperatureC);
            Float8(output, r.HumidityPct);
            Boolean(output, r.Occupied);
            Text(output, r.ReadingsJson);
        }
        Int16(output, -1);
    }

    private static void Int16(IBufferWriter<byte> output, short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(output.GetSpan(2), value);
        output.Advance(2);
    }

    private static void Null(IBufferWriter<byte> output)
    {
        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), -1);
        output.Advance(4);
    }

    private static void Text(IBufferWriter<byte> output, string? value)
    {
        if (value is null)
        {
            Null(output);
            return;
        }
        var span = output.GetSpan(4 + Encoding.UTF8.GetMaxByteCount(value.Length));
        var length = Encoding.UTF8.GetBytes(value, span[4..]);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        output.Advance(4 + length);
    }

    private static void Int64(IBufferWriter<byte> output, long? value)
    {
        if (value is { } v) Fixed(output, 8, v);
        else Null(output);
    }

    /// <summary>float8 is sent as the big-endian bytes of its IEEE 754 bits, like an int8.</summary>
    private static void Float8(IBufferWriter<byte> output, double? value) =>
        Int64(output, value is { } v ? BitConverter.DoubleToInt64Bits(v) : null);

    private static void Boolean(IBufferWriter<byte> output, bool? value)
    {
        if (value is { } v) Fixed(output, 1, v ? 1 : 0);
        else Null(output);
    }

    /// <summary>A field of 8 bytes (the big-endian <paramref name="bits"/>) or of 1 byte (its lowest byte).</summary>
    private static void Fixed(IBufferWriter<byte> output, int length, long bits)
    {
        var span = output.GetSpan(12);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        if (length == 8) BinaryPrimitives.WriteInt64BigEndian(span[4..], bits);
        else span[4] = (byte)bits;
        output.Advance(4 + length);
    }
}
