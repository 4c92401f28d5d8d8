using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// One slot of a level being rebuilt: the last index it covers, its entry (a <c>VmArea*</c> at the leaf level, a
/// tagged child pointer above) and, above the leaves, the child's largest gap.
/// </summary>
/// <param name="Last">The inclusive upper bound of the slot.</param>
/// <param name="Slot">The entry or tagged child.</param>
/// <param name="Gap">The largest free range inside the child (0 at the leaf level).</param>
internal record struct TreeItem(ulong Last, nint Slot, ulong Gap);

/// <summary>
/// The slots of one level of a <see cref="VmaTree"/> while a store rebuilds it, before they are split into nodes
/// (the maple tree's <c>struct maple_big_node</c>): the left part of the leftmost node changed, the new slots, the
/// right part of the rightmost one, and the slots of a sibling pulled in to rebalance.
/// </summary>
internal unsafe struct BigNode
{
    /// <summary>
    /// Room for the largest level: at the leaves 15 + 1 slots left of the store, the stored range and 16 right of it;
    /// above, 9 + 3 + 9; a sibling is pulled in only while that keeps the total under two full nodes.
    /// </summary>
    public const int Capacity = 48;

    /// <summary>The slots in index order.</summary>
    private Items _items;

    /// <summary>The number of slots held.</summary>
    public int Count;

    /// <summary>The first index the slots cover.</summary>
    public ulong Min;

    /// <summary>The slot at position <paramref name="i"/>.</summary>
    [UnscopedRef]
    public ref TreeItem this[int i] => ref _items[i];

    /// <summary>Empties the buffer for a level starting at <paramref name="min"/>.</summary>
    public void Reset(ulong min)
    {
        Count = 0;
        Min = min;
    }

    /// <summary>Appends one slot.</summary>
    public void Add(ulong last, nint slot, ulong gap)
    {
        Debug.Assert(Count < Capacity, "big node overflow");
        _items[Count++] = new TreeItem(last, slot, gap);
    }

    /// <summary>
    /// Appends slots <paramref name="from"/> to <paramref name="to"/> (inclusive; none when <paramref name="to"/> is
    /// smaller) of <paramref name="node"/>, which covers up to <paramref name="max"/>.
    /// </summary>
    public void AddSlots(VmaTreeNode* node, int from, int to, ulong max)
    {
        Debug.Assert(Count + Math.Max(to - from + 1, 0) <= Capacity, "big node overflow");
        CopySlots(Count, node, from, to, max);
        Count += Math.Max(to - from + 1, 0);
    }

    /// <summary>Inserts all slots of <paramref name="node"/>, which covers [<paramref name="min"/>, the buffer's min), in front.</summary>
    public void Prepend(VmaTreeNode* node, ulong min)
    {
        int n = node->End + 1;
        Debug.Assert(Count + n <= Capacity, "big node overflow");
        for (int i = Count - 1; i >= 0; i--)
        {
            _items[i + n] = _items[i];
        }

        CopySlots(0, node, 0, node->End, Min - 1);
        Count += n;
        Min = min;
    }

    /// <summary>Whether two neighbouring slots are both free (never so at the leaf level, where 0 means free).</summary>
    public readonly bool HasAdjacentFree()
    {
        for (int i = 1; i < Count; i++)
        {
            if (_items[i].Slot == 0 && _items[i - 1].Slot == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Writes slots <paramref name="from"/> to <paramref name="to"/> of a node covering up to <paramref name="max"/> at position <paramref name="at"/>.</summary>
    private void CopySlots(int at, VmaTreeNode* node, int from, int to, ulong max)
    {
        ulong* slots = VmaTreeNode.Slots(node);
        for (int i = from; i <= to; i++)
        {
            _items[at++] = new TreeItem(VmaTreeNode.SlotMax(node, i, max), (nint)slots[i], node->IsLeaf ? 0 : node->Gap[i]);
        }
    }

    /// <summary>The slot storage.</summary>
    [InlineArray(Capacity)]
    private struct Items
    {
        private TreeItem _item;
    }
}
