using System;
using System.Collections.Generic;

namespace VmaEngine.Vma.Tree;

/// <summary>The invariant checks of <see cref="VmaTree"/> (lib/maple_tree.c, <c>mt_validate</c>), for tests.</summary>
internal sealed unsafe partial class VmaTree
{
    /// <summary>The number of nodes in the tree (not counting the preallocation pool). Writer side.</summary>
    internal int NodeCount => _root == 0 ? 0 : CountNodes(_root);

    /// <summary>The ranges [min, max] of the nodes at <paramref name="level"/> (0 = leaves), in order. Writer side, for tests.</summary>
    internal List<(ulong Min, ulong Max)> NodeRanges(int level)
    {
        var ranges = new List<(ulong Min, ulong Max)>();
        if (_root != 0 && level < _height)
        {
            CollectNodeRanges(_root, _height - 1, level, 0, ulong.MaxValue, ranges);
        }

        return ranges;
    }

    /// <summary>
    /// Walks the whole tree and throws <see cref="InvalidOperationException"/> naming the first broken invariant:
    /// node layout and tags, fill bounds, increasing pivots inside the node's range, padding, leaves at one depth,
    /// no two neighbouring free ranges, exact gaps, the range count. Writer side (or with no writer running).
    /// </summary>
    internal void Validate()
    {
        if (_root == 0)
        {
            Check(_height == 0 && _count == 0, $"empty tree with height {_height} and count {_count}");
            return;
        }

        Check(_height is > 0 and <= MaxHeight, $"height {_height}");
        var state = new ValidationState();
        ValidateNode(_root, _height - 1, 0, ulong.MaxValue, true, ref state);
        Check(state.Entries == _count, $"count {_count} but {state.Entries} entries");
    }

    /// <summary>Validates a subtree covering [min, max] at <paramref name="level"/>; returns its largest gap.</summary>
    private static ulong ValidateNode(nint tagged, int level, ulong min, ulong max, bool isRoot, ref ValidationState state)
    {
        VmaTreeNode* node = VmaTreeNode.FromTagged(tagged);
        bool leaf = level == 0;
        string where = $"{(leaf ? "leaf" : "inner node")} [0x{min:x}, 0x{max:x}] at level {level}";
        Check(VmaTreeNode.IsLeafPointer(tagged) == leaf && node->IsLeaf == leaf, $"{where}: wrong tag or layout");
        Check(((nint)node & (VmaTreeNode.Size - 1)) == 0, $"{where}: misaligned");
        int slots = node->End + 1;
        int minSlots = isRoot ? (leaf ? 1 : 2) : VmaTreeNode.MinSlotCount(leaf);
        Check(slots >= minSlots && slots <= VmaTreeNode.SlotCount(leaf), $"{where}: {slots} slots");
        Check(!(isRoot && leaf && slots == 1 && node->LeafSlot[0] == 0), $"{where}: an empty root leaf");
        ulong* children = VmaTreeNode.Slots(node);
        for (int i = 0; i < VmaTreeNode.SlotCount(leaf) - 1; i++)
        {
            bool used = i < node->End;
            ulong floor = VmaTreeNode.SlotMin(node, i, min);
            Check(used ? node->Pivot[i] >= floor && node->Pivot[i] < max : node->Pivot[i] == ulong.MaxValue,
                $"{where}: pivot {i} = 0x{node->Pivot[i]:x}");
        }

        ulong gap = 0;
        for (int i = 0; i < VmaTreeNode.SlotCount(leaf); i++)
        {
            if (i > node->End)
            {
                Check(children[i] == 0, $"{where}: slot {i} past the end is set");
                continue;
            }

            ulong first = VmaTreeNode.SlotMin(node, i, min);
            ulong last = VmaTreeNode.SlotMax(node, i, max);
            if (leaf)
            {
                bool free = children[i] == 0;
                Check(!(free && state.PreviousFree), $"{where}: free ranges side by side at 0x{first:x}");
                gap = free ? Math.Max(gap, RangeSize(first, last)) : gap;
                state.Entries += free ? 0 : 1;
                state.PreviousFree = free;
                continue;
            }

            ulong childGap = ValidateNode((nint)children[i], level - 1, first, last, false, ref state);
            Check(node->Gap[i] == childGap, $"{where}: gap {i} is 0x{node->Gap[i]:x}, the child's largest is 0x{childGap:x}");
            gap = Math.Max(gap, childGap);
        }

        return gap;
    }

    /// <summary>Adds the ranges of the nodes at <paramref name="level"/> under a subtree at <paramref name="at"/>.</summary>
    private static void CollectNodeRanges(nint tagged, int at, int level, ulong min, ulong max, List<(ulong Min, ulong Max)> ranges)
    {
        VmaTreeNode* node = VmaTreeNode.FromTagged(tagged);
        if (at == level)
        {
            ranges.Add((min, max));
            return;
        }

        for (int i = 0; i <= node->End; i++)
        {
            CollectNodeRanges((nint)node->Child[i], at - 1, level, VmaTreeNode.SlotMin(node, i, min), VmaTreeNode.SlotMax(node, i, max), ranges);
        }
    }

    /// <summary>The nodes of a subtree.</summary>
    private static int CountNodes(nint tagged)
    {
        VmaTreeNode* node = VmaTreeNode.FromTagged(tagged);
        int n = 1;
        for (int i = 0; !node->IsLeaf && i <= node->End; i++)
        {
            n += CountNodes((nint)node->Child[i]);
        }

        return n;
    }

    /// <summary>Throws when an invariant does not hold.</summary>
    private static void Check(bool holds, string message)
    {
        if (!holds)
        {
            throw new InvalidOperationException($"VmaTree invariant broken: {message}.");
        }
    }

    /// <summary>What a validation walk carries from leaf to leaf.</summary>
    private struct ValidationState
    {
        /// <summary>The non-null entries seen so far.</summary>
        public int Entries;

        /// <summary>Whether the last slot seen was free.</summary>
        public bool PreviousFree;
    }
}
