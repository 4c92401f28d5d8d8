namespace VmaCore;

/// <summary>A NUMA memory policy (<c>struct mempolicy</c>): VMAs merge only with equal policies.</summary>
public struct MemPolicy
{
    /// <summary>The policy's mode.</summary>
    public int Mode;

    /// <summary>The node mask.</summary>
    public ulong Nodes;

    /// <summary>References held on the policy.</summary>
    public int RefCount;
}
