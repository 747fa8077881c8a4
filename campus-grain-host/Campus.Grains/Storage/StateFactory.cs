using System.Linq.Expressions;

namespace Campus.Grains.Storage;

/// <summary>Creates fresh state instances through a cached parameterless-constructor delegate.</summary>
internal static class StateFactory<T>
{
    private static readonly Func<T>? Create = Build();

    public static bool CanCreate => Create is not null;

    public static T New() => Create is null
        ? throw new InvalidOperationException($"State type {typeof(T)} needs a public parameterless constructor so a fresh state can be made when none is stored.")
        : Create();

    private static Func<T>? Build()
    {
        if (typeof(T).IsValueType) return static () => default!;
        var ctor = typeof(T).GetConstructor(Type.EmptyTypes);
        return ctor is null ? null : Expression.Lambda<Func<T>>(Expression.New(ctor)).Compile();
    }
}
