using System;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// The free-range searches of <see cref="VmaTree"/> (lib/maple_tree.c, <c>mas_empty_area</c> and
/// <c>mas_empty_area_rev</c>). Writer side: callers hold mmap_lock, so the gaps do not change under them.
/// </summary>
/// <remarks>
/// Each inner node knows the largest free range under each child, so a search descends only into children whose
/// gap is large enough. A child lying wholly inside the search window with a large enough gap always holds a fit;
/// only the children straddling the window's ends can disappoint, and there are two per level, so a search visits
/// O(height) nodes. Alignment is the caller's business: it asks for length + alignment - 1, as
/// <c>vm_unmapped_area</c> does.
/// </remarks>
internal sealed unsafe partial class VmaTree
{
    /// <summary>
    /// The lowest start of a free range of <paramref name="length"/> bytes inside [low, high)
    /// (<c>mas_empty_area</c>); false when there is none.
    /// </summary>
    public bool FindEmptyArea(ulong low, ulong high, ulong length, out ulong start)
    {
        start = 0;
        if (!CheckWindow(low, high, length))
        {
            return false;
        }

        if (_root == 0)
        {
            start = low;
            return true;
        }

        return LowestFit(_root, 0, ulong.MaxValue, new Window(low, high - 1, length), out start);
    }

    /// <summary>
    /// The highest start of a free range of <paramref name="length"/> bytes inside [low, high)
    /// (<c>mas_empty_area_rev</c>); false when there is none.
    /// </summary>
    public bool FindEmptyAreaRev(ulong low, ulong high, ulong length, out ulong start)
    {
        start = 0;
        if (!CheckWindow(low, high, length))
        {
            return false;
        }

        if (_root == 0)
        {
            start = high - length;
            return true;
        }

        return HighestFit(_root, 0, ulong.MaxValue, new Window(low, high - 1, length), out start);
    }

    /// <summary>Throws for a zero length; false when the window cannot hold the length at all.</summary>
    private static bool CheckWindow(ulong low, ulong high, ulong length)
    {
        if (length == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), "A free-range search needs a non-zero length.");
        }

        return low < high && high - low >= length;
    }

    /// <summary>The first fit in the subtree <paramref name="tagged"/> covering [min, max], in index order.</summary>
    private static bool LowestFit(nint tagged, ulong min, ulong max, in Window window, out ulong start)
    {
        VmaTreeNode* node = VmaTreeNode.FromTagged(tagged);
        int i = VmaTreeNode.Offset(node, window.Low);
        ulong first = VmaTreeNode.SlotMin(node, i, min);
        for (; i <= node->End && first <= window.Last; i++)
        {
            ulong last = VmaTreeNode.SlotMax(node, i, max);
            if (node->IsLeaf)
            {
                if (window.Fits(node->LeafSlot[i], first, last))
                {
                    start = Math.Max(first, window.Low);
                    return true;
                }
            }
            else if (node->Gap[i] >= window.Length && LowestFit((nint)node->Child[i], first, last, window, out start))
            {
                return true;
            }

            first = last + 1;
        }

        start = 0;
        return false;
    }

    /// <summary>The last fit in the subtree <paramref name="tagged"/> covering [min, max], in index order.</summary>
    private static bool HighestFit(nint tagged, ulong min, ulong max, in Window window, out ulong start)
    {
        VmaTreeNode* node = VmaTreeNode.FromTagged(tagged);
        int i = VmaTreeNode.Offset(node, window.Last);
        ulong last = VmaTreeNode.SlotMax(node, i, max);
        for (; i >= 0 && last >= window.Low; i--)
        {
            ulong first = VmaTreeNode.SlotMin(node, i, min);
            if (node->IsLeaf)
            {
                if (window.Fits(node->LeafSlot[i], first, last))
                {
                    start = Math.Min(last, window.Last) - (window.Length - 1);
                    return true;
                }
            }
            else if (node->Gap[i] >= window.Length && HighestFit((nint)node->Child[i], first, last, window, out start))
            {
                return true;
            }

            last = first - 1;
        }

        start = 0;
        return false;
    }

    /// <summary>A free-range search: the window [Low, Last] (inclusive) and the length wanted.</summary>
    /// <param name="Low">The first index the range may use.</param>
    /// <param name="Last">The last index the range may use.</param>
    /// <param name="Length">The length wanted, at least 1.</param>
    private readonly record struct Window(ulong Low, ulong Last, ulong Length)
    {
        /// <summary>Whether a leaf slot [first, last] with <paramref name="entry"/> is free and holds the length inside the window.</summary>
        public bool Fits(ulong entry, ulong first, ulong last)
        {
            ulong from = Math.Max(first, Low);
            ulong to = Math.Min(last, Last);
            return entry == 0 && from <= to && to - from >= Length - 1;
        }
    }
}
