namespace Campus.Controller.History;

/// <summary>
/// Keyset paging, newest first: pass <see cref="Page{T}.NextCursor"/> of the previous page as
/// <see cref="After"/> to get the next one. Cursors are opaque strings.
/// </summary>
public readonly record struct PageRequest(int Limit = PageRequest.DefaultLimit, string? After = null)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 1000;

    /// <summary>The limit to use: <see cref="DefaultLimit"/> when unset (0).</summary>
    internal int CheckedLimit()
    {
        if (Limit == 0)
        {
            return DefaultLimit;
        }
        if (Limit is < 1 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(Limit), Limit, $"Page limit must be between 1 and {MaxLimit}.");
        }
        return Limit;
    }
}

/// <summary>One page of results; <see cref="NextCursor"/> is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>Offset paging for small ranked lists.</summary>
public readonly record struct RankPage(int Offset = 0, int Limit = 20)
{
    public const int DefaultLimit = 20;

    /// <summary>The checked page; a limit of 0 (unset) means <see cref="DefaultLimit"/>.</summary>
    internal RankPage Checked()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Offset);
        if (Limit == 0)
        {
            return this with { Limit = DefaultLimit };
        }
        if (Limit is < 1 or > PageRequest.MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(Limit), Limit, $"Page limit must be between 1 and {PageRequest.MaxLimit}.");
        }
        return this;
    }
}

/// <summary>The position of the last row of a page: its time (Unix ms) and id.</summary>
internal readonly record struct Cursor(long AtMs, long Id)
{
    public static string Format(long atMs, long id) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{atMs}.{id}");

    public static Cursor? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0
            && long.TryParse(text.AsSpan(0, dot), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var at)
            && long.TryParse(text.AsSpan(dot + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
        {
            return new Cursor(at, id);
        }
        throw new ArgumentException($"'{text}' is not a cursor returned by a previous page.", "After");
    }
}
