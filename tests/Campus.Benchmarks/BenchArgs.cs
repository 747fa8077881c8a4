using System.Globalization;

namespace Campus.Benchmarks;

/// <summary>The options of a benchmark mode: <c>--name value</c> pairs after the mode's name.</summary>
internal static class BenchArgs
{
    /// <summary>The value after <paramref name="name"/>, or <paramref name="fallback"/> when the option is not given.</summary>
    public static string Arg(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    /// <summary>A whole-number option; a value that is not one is refused with the option's name.</summary>
    public static int Arg(string[] args, string name, int fallback)
    {
        var text = Arg(args, name, fallback.ToString(CultureInfo.InvariantCulture));
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ArgumentException($"{name} takes a whole number, not '{text}'.");
    }
}
