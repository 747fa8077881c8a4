using System.Linq.Expressions;
using System.Reflection;
using Campus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Campus.Grains.Runtime;

/// <summary>What the runtime knows about one grain class: its type name, scheduling and how to build it.</summary>
internal sealed class GrainClassInfo
{
    private readonly ParameterSource[] _parameters;
    private readonly Func<object?[], object> _construct;

    internal GrainClassInfo(Type grainClass, TimeSpan defaultCollectionAge)
    {
        GrainClass = grainClass;
        GrainType = grainClass.GetCustomAttribute<GrainTypeAttribute>()?.GrainType ?? DefaultTypeName(grainClass);
        Reentrant = grainClass.GetCustomAttribute<ReentrantAttribute>() is not null;
        var age = grainClass.GetCustomAttribute<CollectionAgeLimitAttribute>()?.Amount;
        CollectionAge = age is { } a && a > TimeSpan.Zero ? a : defaultCollectionAge;

        var ctors = grainClass.GetConstructors();
        if (ctors.Length != 1)
            throw new InvalidOperationException($"Grain class {grainClass} must have exactly one public constructor (it has {ctors.Length}).");
        var ctor = ctors[0];
        var ps = ctor.GetParameters();
        _parameters = ps.Select(p => ParameterSource.For(grainClass, p)).ToArray();
        var args = Expression.Parameter(typeof(object?[]), "args");
        var call = Expression.New(ctor, ps.Select((p, i) =>
            Expression.Convert(Expression.ArrayIndex(args, Expression.Constant(i)), p.ParameterType)));
        _construct = Expression.Lambda<Func<object?[], object>>(Expression.Convert(call, typeof(object)), args).Compile();
    }

    internal Type GrainClass { get; }
    internal string GrainType { get; }
    internal bool Reentrant { get; }
    internal TimeSpan CollectionAge { get; }

    /// <summary>Builds the grain: injects services and the persistent states it asked for.</summary>
    internal (object Grain, IPersistentStateLoader[] States) Create(Activation activation, IServiceProvider services)
    {
        var args = new object?[_parameters.Length];
        var states = new List<IPersistentStateLoader>();
        for (var i = 0; i < args.Length; i++)
        {
            args[i] = _parameters[i].Resolve(activation, services);
            if (args[i] is IPersistentStateLoader loader && _parameters[i].IsState) states.Add(loader);
        }
        var previous = Activation.Constructing;
        Activation.Constructing = activation;
        try
        {
            return (_construct(args), states.ToArray());
        }
        finally
        {
            Activation.Constructing = previous;
        }
    }

    private static string DefaultTypeName(Type t)
    {
        var name = t.Name;
        var tick = name.IndexOf('`', StringComparison.Ordinal);
        if (tick >= 0) name = name[..tick];
        if (name.EndsWith("Grain", StringComparison.Ordinal) && name.Length > 5) name = name[..^5];
        return name.ToLowerInvariant();
    }

    private sealed class ParameterSource
    {
        private Func<Activation, IServiceProvider, object?> _resolve = null!;
        internal bool IsState { get; private set; }

        internal object? Resolve(Activation a, IServiceProvider sp) => _resolve(a, sp);

        internal static ParameterSource For(Type grainClass, ParameterInfo p)
        {
            var source = new ParameterSource();
            var stateAttr = p.GetCustomAttribute<PersistentStateAttribute>();
            var type = p.ParameterType;
            if (stateAttr is not null)
            {
                if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(IPersistentState<>))
                    throw new InvalidOperationException($"{grainClass}: parameter '{p.Name}' has [PersistentState] but is not an IPersistentState<TState>.");
                var stateType = type.GetGenericArguments()[0];
                var factory = (Func<string, GrainId, IGrainStorage, object>)typeof(ParameterSource)
                    .GetMethod(nameof(StateFactoryFor), BindingFlags.NonPublic | BindingFlags.Static)!
                    .MakeGenericMethod(stateType).Invoke(null, null)!;
                var storageName = stateAttr.StorageName ?? GrainStorageNames.Default;
                var stateName = stateAttr.StateName;
                source.IsState = true;
                source._resolve = (a, sp) =>
                {
                    var storage = sp.GetKeyedService<IGrainStorage>(storageName)
                        ?? throw new InvalidOperationException(
                            $"Grain {a.Id} asks for state '{stateName}' in storage '{storageName}', but no grain storage of that name is registered (e.g. AddMemoryGrainStorage(\"{storageName}\")).");
                    return factory(stateName, a.Id, storage);
                };
            }
            else if (type == typeof(IGrainFactory))
            {
                source._resolve = static (a, _) => a.Runtime;
            }
            else
            {
                var key = p.GetCustomAttribute<FromKeyedServicesAttribute>()?.Key;
                var optional = p.HasDefaultValue;
                var defaultValue = p.HasDefaultValue ? p.DefaultValue : null;
                source._resolve = (a, sp) =>
                {
                    var value = key is null ? sp.GetService(type) : sp.GetKeyedService(type, key);
                    if (value is null && !optional)
                        throw new InvalidOperationException($"Grain class {grainClass} needs a {type} for constructor parameter '{p.Name}', but none is registered.");
                    return value ?? defaultValue;
                };
            }
            return source;
        }

        private static Func<string, GrainId, IGrainStorage, object> StateFactoryFor<T>()
        {
            if (!StateFactory<T>.CanCreate)
                throw new InvalidOperationException($"State type {typeof(T)} needs a public parameterless constructor.");
            return static (name, id, storage) => new PersistentState<T>(name, id, storage);
        }
    }
}
