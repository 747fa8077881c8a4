using Campus.Grains.Invocation;

namespace Campus.Grains;

/// <summary>Identity helpers for grains and references.</summary>
public static class GrainExtensions
{
    /// <summary>The string key of a grain (called on the grain itself or on a reference).</summary>
    public static string GetPrimaryKeyString(this IAddressable grain) => grain.GetGrainId().Key;

    /// <summary>The identity of a grain or reference.</summary>
    public static GrainId GetGrainId(this IAddressable grain) => grain switch
    {
        Grain g => g.GrainId,
        GrainReference r => r.GrainId,
        null => throw new ArgumentNullException(nameof(grain)),
        _ => throw new ArgumentException($"{grain.GetType()} is neither a grain nor a grain reference.", nameof(grain)),
    };

    /// <summary>A reference to this grain, to hand to other grains or observers.</summary>
    public static TGrainInterface AsReference<TGrainInterface>(this Grain grain) where TGrainInterface : IGrainWithStringKey
    {
        ArgumentNullException.ThrowIfNull(grain);
        return grain.Activation.Runtime.GetReference<TGrainInterface>(grain.GrainId);
    }
}
