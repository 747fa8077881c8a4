namespace Campus.Grains;

/// <summary>Settings of the grain runtime; bind from configuration with services.Configure/// <summary>Settings of the grain runtime (section "Grains" when bound from configuration).</summary>lt;GrainRuntimeOptions/// <summary>Settings of the grain runtime (section "Grains" when bound from configuration).</summary>gt;(section).</summary>
public sealed class GrainRuntimeOptions
{
    /// <summary>How long a caller waits for a grain's answer before a <see cref="TimeoutException"/>. Default 30 s.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Activations idle longer than this are deactivated, unless their class says otherwise. Default 15 min.</summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often idle activations are looked for. Default 1 min.</summary>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long OnDeactivateAsync may take before its cancellation token fires. Default 30 s.</summary>
    public TimeSpan DeactivationTimeout { get; set; } = TimeSpan.FromSeconds(30);

    internal void Validate()
    {
        if (ResponseTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ResponseTimeout), ResponseTimeout, "ResponseTimeout must be positive.");
        if (CollectionAge <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CollectionAge), CollectionAge, "CollectionAge must be positive.");
        if (CollectionQuantum <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CollectionQuantum), CollectionQuantum, "CollectionQuantum must be positive.");
        if (DeactivationTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(DeactivationTimeout), DeactivationTimeout, "DeactivationTimeout must be positive.");
    }
}
