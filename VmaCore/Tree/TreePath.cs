using System.Runtime.CompilerServices;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// One level of a walk from the root of a <see cref="VmaTree"/> to a leaf: the node, the range it covers and the
/// slot the walk took (the state a maple tree <c>ma_state</c> keeps for its current level).
/// </summary>
internal unsafe struct PathLevel
{
    /// <summary>The node at this level.</summary>
    public VmaTreeNode* Node;

    /// <summary>The first index the node covers.</summary>
    public ulong Min;

    /// <summary>The last index the node covers.</summary>
    public ulong Max;

    /// <summary>The slot taken: the child on the path below, or at a leaf the slot of the looked-up index.</summary>
    public int Offset;

    /// <summary>A level of a walk.</summary>
    public PathLevel(VmaTreeNode* node, ulong min, ulong max, int offset)
    {
        Node = node;
        Min = min;
        Max = max;
        Offset = offset;
    }
}

/// <summary>A walk from the root to a leaf, indexed by level (0 = leaf, height - 1 = root).</summary>
[InlineArray(VmaTree.MaxHeight)]
internal struct TreePath
{
    private PathLevel _level;
}
