namespace VmaEngine.Vma.Tree;

/// <summary>
/// The leaf a <see cref="VmaIterator"/> last walked to, with the range it covers: the part of a maple state
/// (<c>ma_state</c>'s node, min and max) that lets <c>mas_next</c>/<c>mas_prev</c> move within a leaf without
/// walking from the root again. Only valid while <see cref="Version"/> equals the tree's version.
/// </summary>
/// <remarks>
/// Protocol: a hint is taken and used only by a holder of mmap_lock (for write, or for read, when no store runs).
/// Every store that replaces nodes bumps the tree's version before its old nodes are retired, so a stale hint is
/// never dereferenced: its leaf may already be freed after the grace period. Slot stores (an entry swapped
/// in place, and the pivot beside it moved) keep every node and its bounds, so hints stay valid across them and
/// read the new layout.
/// </remarks>
internal readonly unsafe struct LeafHint
{
    /// <summary>The leaf; null for no hint.</summary>
    public readonly VmaTreeNode* Leaf;

    /// <summary>The first index the leaf covers.</summary>
    public readonly ulong Min;

    /// <summary>The last index the leaf covers.</summary>
    public readonly ulong Max;

    /// <summary>The tree version the leaf was found at.</summary>
    public readonly ulong Version;

    /// <summary>A hint for <paramref name="leaf"/> covering [<paramref name="min"/>, <paramref name="max"/>] at <paramref name="version"/>.</summary>
    public LeafHint(VmaTreeNode* leaf, ulong min, ulong max, ulong version)
    {
        Leaf = leaf;
        Min = min;
        Max = max;
        Version = version;
    }

    /// <summary>Whether the hint's leaf is current at <paramref name="version"/> and covers <paramref name="index"/>.</summary>
    public bool Covers(ulong index, ulong version) => Leaf != null && Version == version && index >= Min && index <= Max;
}
