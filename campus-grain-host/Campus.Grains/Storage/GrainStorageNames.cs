namespace Campus.Grains;

/// <summary>Names of storage providers.</summary>
public static class GrainStorageNames
{
    /// <summary>The provider used by [PersistentState("name")] without a storage name.</summary>
    public const string Default = "Default";
}
