using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VmaEngine.Vma.Tree;

/// <summary>The writer side of <see cref="VmaTree"/>: stores, which copy the nodes they change (lib/maple_tree.c, mas_store_prealloc).</summary>
internal sealed unsafe partial class VmaTree
{
    /// <summary>
    /// The writer's walks and the big node (5 KiB), made by the first <see cref="Preallocate"/> and dropped by
    /// <see cref="ReleasePreallocated"/>, so that a tree that stores nothing (an idle or empty address space) does
    /// not hold them. Writer only.
    /// </summary>
    private StoreBuffers? _buffers;

    /// <summary>
    /// Whether <see cref="Left"/> is still a walk of the current tree: true after a walk, and after the stores that
    /// keep every inner node (slot and node stores, which update the leaf level); false once a general store
    /// rebuilds levels, the buffers are dropped or the tree is disposed. While true, the next store's walk starts
    /// from it.
    /// </summary>
    private bool _leftValid;

    /// <summary>The nodes the last rebuilt level was split into, as slots for the level above.</summary>
    private LevelOutput _output;

    /// <summary>How many nodes <see cref="_output"/> holds.</summary>
    private int _outputCount;

    /// <summary>Non-null entries added minus removed by the current store.</summary>
    private int _countDelta;

    /// <summary>The leaf holding the start of the last store's range, when the store knows it cheaply; else no hint.</summary>
    private LeafHint _storeHint;

    /// <summary>The leaf holding the start of the last store's range (see <see cref="LeafHint"/>), or no hint.</summary>
    public LeafHint StoreHint => _storeHint;

    /// <summary>
    /// Stores <paramref name="vma"/> (null erases) over [start, end), clipping overlapped ranges
    /// (<c>mas_store_prealloc</c>). Cannot fail: it uses only the nodes a prior <see cref="Preallocate"/> reserved
    /// (unused ones stay in the pool); calling it without them is a programmer error.
    /// </summary>
    public void Store(ulong start, ulong end, VmArea* vma)
    {
        CheckRange(start, end);
        AssertWriter();
        if (_poolCount < NodesNeeded)
        {
            throw new InvalidOperationException(
                $"Store of [0x{start:x}, 0x{end:x}) without a successful Preallocate: {_poolCount} of {NodesNeeded} nodes reserved.");
        }

        ulong last = end - 1;
        _storeHint = default;
        if (_root == 0)
        {
            if (vma != null)
            {
                RebuildLevels(start, last, vma);
            }

            return;
        }

        Descend(start, ref Left);
        _leftValid = true;
        if (vma == null)
        {
            ExtendNullRange(ref start, ref last);
        }

        if (TryStoreSlot(start, last, vma) || TryStoreNode(start, last, vma))
        {
            return;
        }

        DescendRight(last);
        RebuildLevels(start, last, vma);
    }

    /// <summary>
    /// Widens an erase over the free ranges next to it (<c>mas_extend_spanning_null</c>), so that the new free
    /// range absorbs them and no two free ranges end up side by side. The left walk is at <paramref name="start"/>
    /// and is moved to the widened start.
    /// </summary>
    private void ExtendNullRange(ref ulong start, ref ulong last)
    {
        if (start > 0 && RangeNearLeft(start - 1, out ulong first, out _) == null)
        {
            start = first;
            ref PathLevel leaf = ref Left[0];
            if (start >= leaf.Min)
            {
                leaf.Offset = VmaTreeNode.LeafOffset(leaf.Node, start);
            }
            else
            {
                Descend(start, ref Left);
            }
        }

        if (last < ulong.MaxValue && RangeNearLeft(last + 1, out _, out ulong rangeLast) == null)
        {
            last = rangeLast;
        }
    }

    /// <summary>
    /// The entry covering <paramref name="index"/> and its range, read from the left walk's leaf when that covers
    /// it (no walk from the root), else looked up.
    /// </summary>
    private VmArea* RangeNearLeft(ulong index, out ulong first, out ulong last)
    {
        ref PathLevel leaf = ref Left[0];
        if (index < leaf.Min || index > leaf.Max)
        {
            return FindRange(index, out first, out last);
        }

        int i = VmaTreeNode.LeafOffset(leaf.Node, index);
        first = VmaTreeNode.SlotMin(leaf.Node, i, leaf.Min);
        last = VmaTreeNode.SlotMax(leaf.Node, i, leaf.Max);
        return (VmArea*)leaf.Node->LeafSlot[i];
    }

    /// <summary>
    /// The walk to the store's last index: a copy of the left walk, walked down again from the lowest node that
    /// covers <paramref name="last"/> too (often just another slot of the same leaf).
    /// </summary>
    private void DescendRight(ulong last)
    {
        CopyPath(ref Left, ref Right);
        Descend(last, ref Right);
    }

    /// <summary>Copies the levels of the tree's height from one walk to another (not the whole buffer).</summary>
    private void CopyPath(ref TreePath from, ref TreePath to)
    {
        for (int level = 0; level < _height; level++)
        {
            to[level] = from[level];
        }
    }

    /// <summary>
    /// Walks to the leaf covering <paramref name="index"/>, recording every level in <paramref name="path"/>. The walk
    /// starts from the root, or, when <see cref="_leftValid"/> and <paramref name="path"/> holds the left walk (or a
    /// copy of it), from the lowest recorded node whose range covers the index: the nodes above it stay on the way.
    /// </summary>
    private void Descend(ulong index, ref TreePath path)
    {
        int level = _height - 1;
        if (_leftValid)
        {
            level = 0;
            while (index < path[level].Min || index > path[level].Max)
            {
                level++;
            }
        }
        else
        {
            path[level] = new PathLevel(VmaTreeNode.FromTagged(_root), 0, ulong.MaxValue, 0);
        }

        for (; ; level--)
        {
            ref PathLevel here = ref path[level];
            VmaTreeNode* node = here.Node;
            here.Offset = VmaTreeNode.Offset(node, index);
            if (level == 0)
            {
                return;
            }

            path[level - 1] = new PathLevel(VmaTreeNode.FromTagged((nint)node->Child[here.Offset]),
                VmaTreeNode.SlotMin(node, here.Offset, here.Min), VmaTreeNode.SlotMax(node, here.Offset, here.Max), 0);
        }
    }

    /// <summary>
    /// The stores that keep the leaf's layout (<c>mas_wr_slot_store</c> as the maple tree's RCU mode allows it), done
    /// in place with release stores: [start, last] is exactly one slot's range, whose entry is swapped; or it covers
    /// two neighbouring slots of the left walk's leaf, one whole and the other in part, so that only the pivot
    /// between them moves:
    /// <code>
    ///   exact:       |  a  |  b  |  c  |   ->   |  a  |  x  |  c  |    slot b's entry swapped
    ///   head:        |  a  | b |  c  |     ->   |  a  |  x  | c |      x over all of b and the head of c:
    ///                      [  x  ]                                     slot b's entry, then the pivot raised
    ///   tail:        |  a  | b |  c  |     ->   | a |  x   |  c  |     x over the tail of a and all of b:
    ///                  [  x  ]                                         slot b's entry, then the pivot lowered
    /// </code>
    /// The entry is written before the pivot, so a reader (which reads a pivot before the entry it leads to) sees
    /// every index map to its old entry or its new one; only the bounds it reports around the new entry may still be
    /// the old, narrower ones (see <see cref="VmaTree"/>). After <see cref="ExtendNullRange"/> an erase here never
    /// leaves two free slots side by side.
    /// </summary>
    private bool TryStoreSlot(ulong start, ulong last, VmArea* vma)
    {
        ref PathLevel leaf = ref Left[0];
        VmaTreeNode* node = leaf.Node;
        int i = leaf.Offset;
        ulong slotMin = VmaTreeNode.SlotMin(node, i, leaf.Min);
        ulong slotMax = VmaTreeNode.SlotMax(node, i, leaf.Max);
        if (last <= slotMax)
        {
            if (slotMin != start || slotMax != last)
            {
                return false;
            }

            bool wasFree = node->LeafSlot[i] == 0;
            SwapEntry(ref leaf, i, vma);
            if (wasFree != (vma == null))
            {
                PropagateGap(0);
            }

            return true;
        }

        if (i >= node->End || last > VmaTreeNode.SlotMax(node, i + 1, leaf.Max))
        {
            return false;
        }

        bool head = slotMin == start;
        bool tail = last == VmaTreeNode.SlotMax(node, i + 1, leaf.Max);
        if (head == tail)
        {
            // Both slots whole (the leaf loses one) or both in part (it gains one): not in place.
            return false;
        }

        // Every free range keeps its size only when no free slot is involved.
        bool gapChanges = vma == null || node->LeafSlot[i] == 0 || node->LeafSlot[i + 1] == 0;
        int whole = head ? i : i + 1;
        SwapEntry(ref leaf, whole, vma);
        Volatile.Write(ref node->Pivot[i], head ? last : start - 1);
        leaf.Offset = whole;
        Debug.Assert(!HasAdjacentFree(node), "a slot store left two free ranges side by side");
        if (gapChanges)
        {
            PropagateGap(0);
        }

        return true;
    }

    /// <summary>Swaps the entry of slot <paramref name="i"/> of the left walk's leaf in place (a release store), counts the change and sets the store hint.</summary>
    private void SwapEntry(ref PathLevel leaf, int i, VmArea* vma)
    {
        ulong old = leaf.Node->LeafSlot[i];
        Volatile.Write(ref leaf.Node->LeafSlot[i], (ulong)vma);
        _count += (vma != null ? 1 : 0) - (old != 0 ? 1 : 0);
        _storeHint = new LeafHint(leaf.Node, leaf.Min, leaf.Max, _version);
    }

    /// <summary>
    /// The store inside one leaf (<c>mas_wr_node_store</c>): when [start, last] lies in the left walk's leaf, which
    /// is not the root, and the leaf keeps between <see cref="VmaTreeNode.LeafMinSlots"/> and
    /// <see cref="VmaTreeNode.LeafSlots"/> slots, a copy of the leaf with the range replaced is written into a new
    /// node and published in the unchanged parent with one release store; the old leaf is retired. This is the
    /// general store's result for that case (no rebalance, one output node), built without the big node.
    /// <code>
    ///   old leaf:  s0 s1 [s2 s3 s4] s5        [ ]: slots [start, last] overlaps
    ///   new leaf:  s0 s1 s2' new s4' s5       s2', s4': the parts of s2 and s4 outside the range, if any
    /// </code>
    /// </summary>
    private bool TryStoreNode(ulong start, ulong last, VmArea* vma)
    {
        ref PathLevel leaf = ref Left[0];
        VmaTreeNode* old = leaf.Node;
        if (_height < 2 || last > leaf.Max)
        {
            return false;
        }

        int first = leaf.Offset;
        int end = VmaTreeNode.LeafOffset(old, last);
        bool keepLeft = VmaTreeNode.SlotMin(old, first, leaf.Min) < start;
        ulong endMax = VmaTreeNode.SlotMax(old, end, leaf.Max);
        bool keepRight = endMax > last;
        int tail = old->End - end;
        int size = first + (keepLeft ? 1 : 0) + 1 + (keepRight ? 1 : 0) + tail;
        if (size < VmaTreeNode.LeafMinSlots || size > VmaTreeNode.LeafSlots)
        {
            return false;
        }

        int delta = vma != null ? 1 : 0;
        bool gapChanges = vma == null;
        for (int i = first; i <= end; i++)
        {
            bool free = old->LeafSlot[i] == 0;
            delta -= free ? 0 : 1;
            gapChanges |= free;
        }

        // The whole leaf in one block copy (its layout bytes and the slots before the range included); the slots
        // from the range on are then overwritten.
        VmaTreeNode* node = TakeNode();
        *node = *old;
        int n = first;
        if (keepLeft)
        {
            SetLeafSlot(node, n++, start - 1, old->LeafSlot[first]);
            delta += old->LeafSlot[first] != 0 ? 1 : 0;
        }

        SetLeafSlot(node, n++, last, (ulong)vma);
        if (keepRight)
        {
            SetLeafSlot(node, n++, endMax, old->LeafSlot[end]);
            delta += old->LeafSlot[end] != 0 ? 1 : 0;
        }

        CopyLeafTail(old, end + 1, node, n, tail);
        Debug.Assert(n + tail == size, "node store: wrote another slot count than computed");
        EndLeaf(node, size, old->End + 1);

        _version++;
        leaf.Node = node;
        Debug.Assert(!HasAdjacentFree(node), "a node store left two free ranges side by side");
        ref PathLevel parent = ref Left[1];
        Volatile.Write(ref parent.Node->Child[parent.Offset], (ulong)VmaTreeNode.ToTagged(node));

        // Over VMAs only, every free range keeps its bounds, hence the leaf its gap.
        if (gapChanges)
        {
            PropagateGap(0);
        }

        _count += delta;
        Recycle(old);
        QueueRecycled();
        _storeHint = new LeafHint(node, leaf.Min, leaf.Max, _version);
        return true;
    }

    /// <summary>
    /// Copies the last <paramref name="count"/> slots of a leaf, from slot <paramref name="fromIndex"/> on, into an
    /// unpublished leaf at <paramref name="toIndex"/>, with the pivots of all but the last of them (the last slot's
    /// pivot is <see cref="ulong.MaxValue"/> or absent, which <see cref="EndLeaf"/> writes).
    /// </summary>
    private static void CopyLeafTail(VmaTreeNode* from, int fromIndex, VmaTreeNode* to, int toIndex, int count)
    {
        Debug.Assert(fromIndex + count == from->End + 1 && toIndex + count <= VmaTreeNode.LeafSlots, "not a leaf's tail");
        for (int j = 0; j < count; j++)
        {
            to->LeafSlot[toIndex + j] = from->LeafSlot[fromIndex + j];
        }

        for (int j = 0; j < count - 1; j++)
        {
            to->Pivot[toIndex + j] = from->Pivot[fromIndex + j];
        }
    }

    /// <summary>
    /// Ends an unpublished leaf, a copy of a leaf of <paramref name="copiedSize"/> slots rewritten to
    /// <paramref name="size"/>, after its last used slot: that slot and the ones after it get
    /// <see cref="ulong.MaxValue"/> pivots (the last slot ends at the leaf's max, which its pivot does not record), and
    /// the copied slots past the new end are emptied (those past the copied end already are).
    /// </summary>
    private static void EndLeaf(VmaTreeNode* leaf, int size, int copiedSize)
    {
        leaf->End = (byte)(size - 1);
        int ended = Math.Min(Math.Max(size, copiedSize), VmaTreeNode.LeafSlots - 1);
        for (int i = size - 1; i < ended; i++)
        {
            leaf->Pivot[i] = ulong.MaxValue;
        }

        for (int i = size; i < copiedSize; i++)
        {
            leaf->LeafSlot[i] = 0;
        }
    }

    /// <summary>Writes slot <paramref name="i"/> of an unpublished leaf; the last slot has no pivot.</summary>
    private static void SetLeafSlot(VmaTreeNode* leaf, int i, ulong pivot, ulong entry)
    {
        if (i < VmaTreeNode.LeafSlots - 1)
        {
            leaf->Pivot[i] = pivot;
        }

        leaf->LeafSlot[i] = entry;
    }

    /// <summary>Whether two neighbouring used slots of a leaf are both free.</summary>
    private static bool HasAdjacentFree(VmaTreeNode* leaf)
    {
        for (int i = 1; i <= leaf->End; i++)
        {
            if (leaf->LeafSlot[i] == 0 && leaf->LeafSlot[i - 1] == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The general store (<c>mas_wr_spanning_store</c> with <c>mas_spanning_rebalance</c>, <c>mas_split</c> and
    /// <c>mas_push_data</c>): rebuilds the leaves from the one holding <paramref name="start"/> to the one holding
    /// <paramref name="last"/> into new leaves, then each level above in turn, until one node is replaced by one
    /// node of the same range (published in its unchanged parent) or the root is.
    /// <code>
    ///   level h+1:   [ a  b  L  x  x  R  c ]     L..R: the walks' nodes at level h, x: nodes between (removed)
    ///   level h:     L = [l l l|s s]  R = [s s|r r]   s: slots the store overwrites
    ///   big node:    l l l  new  r r   (+ a sibling's slots if too few; split into 1..3 nodes if too many)
    ///   level h+1:   [ a  b  N1 N2  c ]  is then the next level's big node
    /// </code>
    /// </summary>
    private void RebuildLevels(ulong start, ulong last, VmArea* vma)
    {
        int top = Math.Max(_height - 1, 0);
        bool wasEmpty = _root == 0;
        _version++;
        _leftValid = false;
        CopyPath(ref Left, ref OriginalLeft);
        CopyPath(ref Right, ref OriginalRight);
        _countDelta = 0;
        FillLeafLevel(start, last, vma);
        for (int level = 0; ; level++)
        {
            bool pulled = level < top && Rebalance(level);
            SplitBigNode(level == 0);
            if (level == 0)
            {
                RememberStoreLeaf(start);
            }
            if (level == top)
            {
                PublishRoot(level);
                break;
            }

            if (!pulled && _outputCount == 1 && Left[level].Node == Right[level].Node)
            {
                PublishInParent(level);
                top = level;
                break;
            }

            FillInnerLevel(level + 1);
        }

        if (!wasEmpty)
        {
            RetireRun(top, OriginalLeft[top].Node, true, true);
        }

        _count += _countDelta;
        FlushRetired();
        if (_root == 0)
        {
            _storeHint = default;
        }
    }

    /// <summary>Sets <see cref="_storeHint"/> to the new leaf, among the leaf level's output, that holds <paramref name="start"/>.</summary>
    private void RememberStoreLeaf(ulong start)
    {
        ulong min = Big.Min;
        for (int p = 0; p < _outputCount; p++)
        {
            if (start <= _output[p].Last)
            {
                _storeHint = new LeafHint(VmaTreeNode.FromTagged(_output[p].Slot), min, _output[p].Last, _version);
                return;
            }

            min = _output[p].Last + 1;
        }
    }

    /// <summary>
    /// The leaf level's big node: the slots of the first leaf before <paramref name="start"/> (the one containing it
    /// clipped), the new range, and the slots of the last leaf after <paramref name="last"/> (the one containing it
    /// clipped). For the empty tree, the free space around the new range.
    /// </summary>
    private void FillLeafLevel(ulong start, ulong last, VmArea* vma)
    {
        if (_root == 0)
        {
            Big.Reset(0);
            if (start > 0)
            {
                Big.Add(start - 1, 0, 0);
            }

            Big.Add(last, (nint)vma, 0);
            if (last < ulong.MaxValue)
            {
                Big.Add(ulong.MaxValue, 0, 0);
            }

            return;
        }

        ref PathLevel left = ref Left[0];
        ref PathLevel right = ref Right[0];
        Big.Reset(left.Min);
        Big.AddSlots(left.Node, 0, left.Offset - 1, left.Max);
        if (VmaTreeNode.SlotMin(left.Node, left.Offset, left.Min) < start)
        {
            Big.Add(start - 1, (nint)left.Node->LeafSlot[left.Offset], 0);
        }

        Big.Add(last, (nint)vma, 0);
        ulong rightLast = VmaTreeNode.SlotMax(right.Node, right.Offset, right.Max);
        if (rightLast > last)
        {
            Big.Add(rightLast, (nint)right.Node->LeafSlot[right.Offset], 0);
        }

        Big.AddSlots(right.Node, right.Offset + 1, right.Node->End, right.Max);
        Debug.Assert(!Big.HasAdjacentFree(), "a store left two free ranges side by side");
    }

    /// <summary>
    /// The big node of inner level <paramref name="level"/>: the children of the left walk's node before the
    /// rebuilt part, the nodes the level below was split into, and the children of the right walk's node after it.
    /// The children in between are dropped (they are retired with the store's range).
    /// </summary>
    private void FillInnerLevel(int level)
    {
        ref PathLevel left = ref Left[level];
        ref PathLevel right = ref Right[level];
        Big.Reset(left.Min);
        Big.AddSlots(left.Node, 0, left.Offset - 1, left.Max);
        for (int i = 0; i < _outputCount; i++)
        {
            Big.Add(_output[i].Last, _output[i].Slot, _output[i].Gap);
        }

        Big.AddSlots(right.Node, right.Offset + 1, right.Node->End, right.Max);
    }

    /// <summary>
    /// Keeps a non-root level within its node bounds by pulling a neighbouring node's slots into the big node:
    /// when too few for one node (<c>mas_rebalance</c>), the nearest node at that level on either side, even under
    /// another parent; when too many for one node, a sibling under the same parent if both fit in two nodes, so
    /// that sequential inserts fill nodes instead of leaving half-empty ones behind (<c>mas_push_data</c>).
    /// </summary>
    private bool Rebalance(int level)
    {
        bool leaf = level == 0;
        int count = Big.Count;
        if (count < VmaTreeNode.MinSlotCount(leaf))
        {
            for (int above = level + 1; above < _height; above++)
            {
                if (Left[above].Offset > 0)
                {
                    PullLeft(level, above);
                    return true;
                }

                if (Right[above].Offset < Right[above].Node->End)
                {
                    PullRight(level, above);
                    return true;
                }
            }

            // The level holds nothing else: the result ends up as the root.
            return false;
        }

        if (count <= VmaTreeNode.SlotCount(leaf))
        {
            return false;
        }

        int room = (2 * VmaTreeNode.SlotCount(leaf)) - count;
        ref PathLevel leftParent = ref Left[level + 1];
        if (leftParent.Offset > 0 && SlotsOf(leftParent, leftParent.Offset - 1) <= room)
        {
            PullLeft(level, level + 1);
            return true;
        }

        ref PathLevel rightParent = ref Right[level + 1];
        if (rightParent.Offset < rightParent.Node->End && SlotsOf(rightParent, rightParent.Offset + 1) <= room)
        {
            PullRight(level, level + 1);
            return true;
        }

        return false;
    }

    /// <summary>The slot count of child <paramref name="i"/> of a walk's node.</summary>
    private static int SlotsOf(in PathLevel parent, int i) => VmaTreeNode.FromTagged((nint)parent.Node->Child[i])->End + 1;

    /// <summary>
    /// Moves the left walk at <paramref name="level"/> to the previous node of that level, reached through the
    /// ancestor at <paramref name="ancestor"/>, and puts that node's slots in front of the big node. The pulled
    /// node, and the ancestors below <paramref name="ancestor"/> on its new walk, are rebuilt, hence retired.
    /// </summary>
    private void PullLeft(int level, int ancestor)
    {
        Left[ancestor].Offset--;
        for (int h = ancestor - 1; h >= level; h--)
        {
            Left[h] = Child(Left[h + 1]);
            Left[h].Offset = Left[h].Node->End;
            RetireNode(Left[h].Node, h);
        }

        Big.Prepend(Left[level].Node, Left[level].Min);
    }

    /// <summary>The mirror of <see cref="PullLeft"/>: the next node of the level, appended to the big node.</summary>
    private void PullRight(int level, int ancestor)
    {
        Right[ancestor].Offset++;
        for (int h = ancestor - 1; h >= level; h--)
        {
            Right[h] = Child(Right[h + 1]);
            Right[h].Offset = 0;
            RetireNode(Right[h].Node, h);
        }

        VmaTreeNode* node = Right[level].Node;
        Big.AddSlots(node, 0, node->End, Right[level].Max);
    }

    /// <summary>The walk level of the child a walk level points at (offset not yet chosen).</summary>
    private static PathLevel Child(in PathLevel parent)
    {
        VmaTreeNode* node = parent.Node;
        int i = parent.Offset;
        return new PathLevel(VmaTreeNode.FromTagged((nint)node->Child[i]), VmaTreeNode.SlotMin(node, i, parent.Min),
            VmaTreeNode.SlotMax(node, i, parent.Max), 0);
    }

    /// <summary>
    /// Splits the big node into as few nodes as hold it, of even sizes (<c>mab_calc_split</c>), taken from the
    /// pool; they become <see cref="_output"/>.
    /// </summary>
    private void SplitBigNode(bool leaf)
    {
        int count = Big.Count;
        int capacity = VmaTreeNode.SlotCount(leaf);
        int parts = (count + capacity - 1) / capacity;
        Debug.Assert(parts <= LevelOutput.Capacity, $"a level split into {parts} nodes");
        int from = 0;
        for (int p = 0; p < parts; p++)
        {
            int size = (count / parts) + (p < count % parts ? 1 : 0);
            VmaTreeNode* node = TakeNode();
            ulong gap = FillNode(node, leaf, from, size);
            _output[p] = new TreeItem(Big[from + size - 1].Last, VmaTreeNode.ToTagged(node), gap);
            from += size;
        }

        _outputCount = parts;
    }

    /// <summary>Writes big-node slots [from, from + size) into a fresh node; returns the node's largest gap.</summary>
    private ulong FillNode(VmaTreeNode* node, bool leaf, int from, int size)
    {
        int capacity = VmaTreeNode.SlotCount(leaf);
        node->IsLeaf = leaf;
        node->End = (byte)(size - 1);
        ulong* slots = VmaTreeNode.Slots(node);
        ulong first = from == 0 ? Big.Min : Big[from - 1].Last + 1;
        ulong gap = 0;
        for (int i = 0; i < capacity; i++)
        {
            TreeItem item = i < size ? Big[from + i] : new TreeItem(ulong.MaxValue, 0, 0);
            if (i < capacity - 1)
            {
                node->Pivot[i] = i < size - 1 ? item.Last : ulong.MaxValue;
            }

            slots[i] = (ulong)item.Slot;
            if (leaf)
            {
                bool free = i < size && item.Slot == 0;
                gap = free ? Math.Max(gap, RangeSize(first, item.Last)) : gap;
                _countDelta += item.Slot != 0 ? 1 : 0;
            }
            else
            {
                node->Gap[i] = item.Gap;
                gap = Math.Max(gap, item.Gap);
            }

            first = item.Last + 1;
        }

        return gap;
    }

    /// <summary>
    /// Publishes the rebuilt top level as the new root: a new inner root over the output when it is several nodes
    /// (the tree grows), or the single output node, skipping new nodes that have one child (the tree shrinks) and
    /// leaving no node at all when everything is free.
    /// </summary>
    private void PublishRoot(int level)
    {
        int height = level + 1;
        nint root = _output[0].Slot;
        if (_outputCount > 1)
        {
            Big.Reset(0);
            for (int i = 0; i < _outputCount; i++)
            {
                Big.Add(_output[i].Last, _output[i].Slot, _output[i].Gap);
            }

            VmaTreeNode* node = TakeNode();
            FillNode(node, false, 0, _outputCount);
            root = VmaTreeNode.ToTagged(node);
            height++;
        }

        while (!VmaTreeNode.IsLeafPointer(root) && VmaTreeNode.FromTagged(root)->End == 0)
        {
            VmaTreeNode* single = VmaTreeNode.FromTagged(root);
            root = (nint)single->Child[0];
            ReturnNode(single);
            height--;
        }

        VmaTreeNode* top = VmaTreeNode.FromTagged(root);
        if (top->IsLeaf && top->End == 0 && top->LeafSlot[0] == 0)
        {
            ReturnNode(top);
            root = 0;
            height = 0;
        }

        Debug.Assert(height <= MaxHeight, "the tree outgrew its path buffers");
        _height = height;
        Volatile.Write(ref _root, root);
    }

    /// <summary>
    /// Publishes a node that replaces one node of the same range: a release store of the child pointer in the
    /// unchanged parent (readers see the old or the new subtree, both complete), then the gaps above it.
    /// </summary>
    private void PublishInParent(int level)
    {
        ref PathLevel parent = ref Left[level + 1];
        parent.Node->Gap[parent.Offset] = _output[0].Gap;
        Volatile.Write(ref parent.Node->Child[parent.Offset], (ulong)_output[0].Slot);
        PropagateGap(level + 1);
    }

    /// <summary>
    /// Recomputes the largest gap of the left walk's node at <paramref name="level"/>, changed in place, and writes
    /// it into the ancestors until one already holds it (<c>mas_update_gap</c>).
    /// </summary>
    private void PropagateGap(int level)
    {
        for (; level < _height - 1; level++)
        {
            ulong gap = NodeGap(Left[level]);
            ref PathLevel parent = ref Left[level + 1];
            if (parent.Node->Gap[parent.Offset] == gap)
            {
                return;
            }

            parent.Node->Gap[parent.Offset] = gap;
        }
    }

    /// <summary>The largest free range inside a walk's node: a leaf's largest null slot, an inner node's largest gap.</summary>
    private static ulong NodeGap(in PathLevel level)
    {
        VmaTreeNode* node = level.Node;
        int end = node->End;
        ulong gap = 0;
        if (!node->IsLeaf)
        {
            for (int i = 0; i <= end; i++)
            {
                gap = Math.Max(gap, node->Gap[i]);
            }

            return gap;
        }

        ulong first = level.Min;
        for (int i = 0; i <= end; i++)
        {
            ulong last = i < end ? node->Pivot[i] : level.Max;
            if (node->LeafSlot[i] == 0)
            {
                gap = Math.Max(gap, RangeSize(first, last));
            }

            first = last + 1;
        }

        return gap;
    }

    /// <summary>The size of [first, last], saturated at <see cref="ulong.MaxValue"/> for the whole space.</summary>
    private static ulong RangeSize(ulong first, ulong last) => last - first == ulong.MaxValue ? ulong.MaxValue : last - first + 1;

    /// <summary>The walk to the first index of the store; widened when a rebalance pulls in a node on the left.</summary>
    private ref TreePath Left => ref Buffers.Left;

    /// <summary>The walk to the last index of the store; widened when a rebalance pulls in a node on the right.</summary>
    private ref TreePath Right => ref Buffers.Right;

    /// <summary>The walks as they were before any rebalance: they bound the nodes the store replaces.</summary>
    private ref TreePath OriginalLeft => ref Buffers.OriginalLeft;

    /// <summary>See <see cref="OriginalLeft"/>.</summary>
    private ref TreePath OriginalRight => ref Buffers.OriginalRight;

    /// <summary>The slots of the level being rebuilt.</summary>
    private ref BigNode Big => ref Buffers.Big;

    /// <summary>The buffers, which exist from a <see cref="Preallocate"/> to the next <see cref="ReleasePreallocated"/>.</summary>
    private StoreBuffers Buffers
    {
        get
        {
            Debug.Assert(_buffers != null, "a store without a successful Preallocate");
            return _buffers;
        }
    }

    /// <summary>The nodes one rebuilt level was split into.</summary>
    [InlineArray(Capacity)]
    private struct LevelOutput
    {
        /// <summary>The most nodes one level splits into.</summary>
        public const int Capacity = 3;

        private TreeItem _item;
    }

    /// <summary>The writer's walk and rebuild buffers (see <see cref="_buffers"/>).</summary>
    private sealed class StoreBuffers
    {
        /// <summary>See <see cref="VmaTree.Left"/>.</summary>
        public TreePath Left;

        /// <summary>See <see cref="VmaTree.Right"/>.</summary>
        public TreePath Right;

        /// <summary>See <see cref="VmaTree.OriginalLeft"/>.</summary>
        public TreePath OriginalLeft;

        /// <summary>See <see cref="VmaTree.OriginalRight"/>.</summary>
        public TreePath OriginalRight;

        /// <summary>See <see cref="VmaTree.Big"/>.</summary>
        public BigNode Big;
    }
}
