using System.Diagnostics;
using System.Threading;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// Duplicating a tree for fork (the maple tree's <c>__mt_dup</c>, lib/maple_tree.c, v6.15): the new tree is built
/// node for node from the old one in one pass, O(n) in the number of nodes, with the old entries; the caller then
/// replaces each entry in place with its copy (<see cref="ReplaceEntry"/>) and erases those it does not copy.
/// </summary>
internal sealed unsafe partial class VmaTree
{
    /// <summary>
    /// <c>__mt_dup</c>: makes this empty tree a copy of <paramref name="source"/>'s nodes (pivots, gaps, entries),
    /// published at once. Both trees' writers are held by the caller. Every node copied is an allocation point of
    /// <paramref name="faults"/>; false (ENOMEM) leaves this tree empty, with the nodes taken back to the slab.
    /// </summary>
    public bool DupFrom(VmaTree source, FaultInjection faults)
    {
        AssertWriter();
        source.AssertWriter();
        Debug.Assert(_root == 0 && _count == 0, "__mt_dup into a tree that is not empty");
        if (source._root == 0)
        {
            return true;
        }

        nint root = DupSubtree(source._root, source._height - 1, faults);
        if (root == 0)
        {
            return false;
        }

        _height = source._height;
        _version++;
        Volatile.Write(ref _count, source._count);
        Volatile.Write(ref _root, root);
        return true;
    }

    /// <summary>
    /// Replaces, in place, the entry of the range that starts at <paramref name="start"/> with <paramref name="vma"/>
    /// (the slot store of <c>vma_iter_bulk_store</c>): same range, so no node changes and nothing is allocated.
    /// Starts from <paramref name="hint"/>'s leaf when it covers the index, and leaves the hint there.
    /// </summary>
    public void ReplaceEntry(ulong start, VmArea* vma, ref LeafHint hint)
    {
        AssertWriter();
        bool found = LookupLeaf(start, ref hint, out VmaTreeNode* leaf, out int i, out ulong min, out _);
        Debug.Assert(found && leaf->LeafSlot[i] != 0, "replacing the entry of a free range");
        Debug.Assert(VmaTreeNode.SlotMin(leaf, i, min) == start, "replacing an entry at an address inside its range");
        Volatile.Write(ref leaf->LeafSlot[i], (ulong)vma);
    }

    /// <summary>
    /// A copy of the subtree at <paramref name="tagged"/> (a node at <paramref name="level"/>, 0 for a leaf), as a
    /// tagged pointer, or 0 when an allocation failed, with the subtree's copies made so far freed.
    /// </summary>
    private static nint DupSubtree(nint tagged, int level, FaultInjection faults)
    {
        VmaTreeNode* node = VmaTreeNode.FromTagged(tagged);
        VmaTreeNode* copy = faults.ShouldFail() ? null : s_nodeCache.TryAlloc();
        if (copy == null)
        {
            return 0;
        }

        *copy = *node;
        for (int c = 0; level > 0 && c <= node->End; c++)
        {
            nint child = DupSubtree((nint)node->Child[c], level - 1, faults);
            if (child == 0)
            {
                FreeUnpublished(copy, level, c);
                return 0;
            }

            copy->Child[c] = (ulong)child;
        }

        return VmaTreeNode.ToTagged(copy);
    }

    /// <summary>Frees a never-published inner copy and the first <paramref name="children"/> subtrees under it.</summary>
    private static void FreeUnpublished(VmaTreeNode* node, int level, int children)
    {
        for (int c = 0; level > 0 && c < children; c++)
        {
            VmaTreeNode* child = VmaTreeNode.FromTagged((nint)node->Child[c]);
            FreeUnpublished(child, level - 1, child->End + 1);
        }

        s_nodeCache.Free(node);
    }
}
