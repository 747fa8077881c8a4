using System.Globalization;

namespace Campus.Controller.History;

/// <summary>
/// CSV of an energy series (RFC 4180: comma separated, CRLF line ends, fields quoted when needed,
/// invariant culture). Written by hand: the columns are fixed numbers, times and identifiers, and the
/// controller project keeps its dependencies to what it already references.
/// </summary>
internal static class EnergyCsv
{
    public const string Header = "target,granularity,start,energy_kwh,after_hours_kwh,avg_power_w,peak_power_w,samples";

    public static async Task WriteAsync(EnergySeries series, TextWriter writer, CancellationToken cancellationToken)
    {
        await writer.WriteAsync(Header.AsMemory(), cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync("\r\n".AsMemory(), cancellationToken).ConfigureAwait(false);
        var target = Field(series.Target.ToString());
        var granularity = series.Granularity.ToString().ToLowerInvariant();
        foreach (var p in series.Points)
        {
            var line = string.Create(CultureInfo.InvariantCulture,
                $"{target},{granularity},{p.Start:yyyy-MM-ddTHH:mm:sszzz},{p.EnergyKwh:R},{p.AfterHoursKwh:R},{p.AvgPowerW:R},{p.PeakPowerW:R},{p.Samples}\r\n");
            await writer.WriteAsync(line.AsMemory(), cancellationToken).ConfigureAwait(false);
        }
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Quotes a field when it holds a comma, a quote or a line break; doubles inner quotes.</summary>
    public static string Field(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
