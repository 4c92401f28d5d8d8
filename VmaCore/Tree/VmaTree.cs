using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using VmaEngine.Slab;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// The mm's VMA tree (<c>mm_mt</c>): a map from non-overlapping address ranges [start, end) to VMAs over the whole
/// 64-bit index space, as a B-tree of ranges in the manner of the Linux maple tree (lib/maple_tree.c, v6.15) in
/// allocation-range mode (<c>MT_FLAGS_ALLOC_RANGE</c>): 16-slot leaves that store free ranges as null entries, and
/// 10-slot inner nodes that record the largest gap of each child, so that lookups, stores and free-range searches
/// all take O(log n).
/// </summary>
/// <remarks>
/// <para>
/// Concurrency protocol (the maple tree's RCU mode). One writer at a time (the caller holds mmap_lock for write)
/// runs <see cref="Preallocate"/>, <see cref="Store"/>, <see cref="FindEmptyArea"/> and
/// <see cref="FindEmptyAreaRev"/>. Readers run <see cref="Load"/>,
/// <see cref="FindAtOrAfter(ulong, ulong, out ulong, out ulong)"/> and
/// <see cref="FindBefore(ulong, ulong, out ulong, out ulong)"/> with no lock, inside an RCU read-side section (the
/// overloads with a <see cref="LeafHint"/> only under mmap_lock). The writer never changes the layout (the slot
/// count and bounds) of a node a reader can reach: it builds new nodes for the part of the tree that changes and
/// publishes them with one release store, of the root pointer or of a child pointer in an unchanged parent whose
/// range stays the same. The only in-place writes are the slot stores of the maple tree's RCU mode (an entry
/// swapped over exactly one slot, or an entry swapped and then the pivot beside it moved, both release stores),
/// and the gap values, which readers never read. Readers read each pivot before the entry it leads to (by an
/// address that depends on it, or with acquire), so a reader sees, for each address, the entry before or after a
/// store; the bounds it reports around a new entry may still be the old, narrower ones, as in the kernel. Replaced
/// nodes are reused by later stores, or freed to the slab, only after a grace period (see <see cref="Recycle"/>).
/// </para>
/// <para>
/// Invariants: all leaves are at the same depth; a non-root node holds at least
/// <see cref="VmaTreeNode.MinSlotCount"/> slots and the root at least two children; no two neighbouring ranges,
/// even in different leaves, are both free (a free range is always one slot, so that a gap is never split between
/// nodes: the kernel's <c>mab_no_null_split</c> and <c>mas_extend_spanning_null</c>); an inner node's gap for a
/// child is the size of the largest free slot under it; the empty tree has no node at all.
/// </para>
/// </remarks>
internal sealed unsafe partial class VmaTree : IDisposable
{
    /// <summary>The tallest tree the writer's path buffers hold (far more than 2^64 ranges would need).</summary>
    internal const int MaxHeight = 32;

    /// <summary>The cache all trees take their nodes from (the kernel's <c>maple_node_cache</c>).</summary>
    private static readonly SlabCache<VmaTreeNode> s_nodeCache = new("maple_node", new SlabCacheOptions
    {
        Alignment = VmaTreeNode.Size,
    });

    /// <summary>
    /// The tagged root pointer, 0 for the empty tree. Written only by the writer, with a release store once the
    /// new nodes below it are complete; readers load it with acquire.
    /// </summary>
    private nint _root;

    /// <summary>The number of node levels (0 when empty, 1 for a root leaf). Writer side only.</summary>
    private int _height;

    /// <summary>The number of non-null ranges. Written by the writer; readable by anyone.</summary>
    private int _count;

    /// <summary>
    /// Bumped by every store that replaces nodes, and by <see cref="Dispose"/>, before the old nodes are retired
    /// (see <see cref="LeafHint"/>). Written by the writer; read by mmap_lock holders, under which it is stable.
    /// </summary>
    private ulong _version;

    /// <summary>The preallocated nodes, a singly linked list through their first word (unpublished nodes only).</summary>
    private VmaTreeNode* _pool;

    /// <summary>The number of nodes in <see cref="_pool"/>.</summary>
    private int _poolCount;

    /// <summary>The nodes the current store unpublished; freed together after a grace period.</summary>
    private readonly List<nint> _retired = new();

    /// <summary>Test hook: the next this many preallocations fail with ENOMEM.</summary>
    public int FailNextPreallocations { get; set; }

    /// <summary>The number of stored ranges.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The version <see cref="LeafHint"/>s are checked against (stable under mmap_lock).</summary>
    internal ulong Version => _version;

    /// <summary>The number of node levels: 0 when empty, 1 when the root is a leaf.</summary>
    internal int Height => _height;

    /// <summary>The number of preallocated nodes waiting in the pool.</summary>
    internal int PreallocatedNodes => _poolCount;

    /// <summary>The statistics of the node cache shared by all trees.</summary>
    internal static SlabInfo NodeCacheInfo => s_nodeCache.Info;

    /// <summary>Returns the node cache's empty slabs to the OS (<c>kmem_cache_shrink</c>), for measurements.</summary>
    internal static void ShrinkNodeCache() => s_nodeCache.Shrink();

    /// <summary>
    /// The worst-case number of nodes a store needs: up to three new nodes per level (a level's slots, with those
    /// of a pulled-in sibling, never exceed three nodes' worth) and a new root.
    /// </summary>
    private int NodesNeeded => (3 * _height) + 1;

    /// <summary>The VMA whose range contains <paramref name="address"/>, or null (<c>mtree_load</c>).</summary>
    public VmArea* Load(ulong address)
    {
        nint tagged = Volatile.Read(ref _root);
        if (tagged == 0)
        {
            return null;
        }

        while (!VmaTreeNode.IsLeafPointer(tagged))
        {
            // Inner pointers carry no tag.
            VmaTreeNode* inner = (VmaTreeNode*)tagged;
            tagged = (nint)Volatile.Read(ref inner->Child[VmaTreeNode.InnerOffset(inner, address)]);
        }

        VmaTreeNode* leaf = VmaTreeNode.FromTagged(tagged);
        return (VmArea*)Volatile.Read(ref leaf->LeafSlot[VmaTreeNode.LeafOffset(leaf, address)]);
    }

    /// <summary>The first VMA whose range ends after <paramref name="address"/> and starts before <paramref name="limit"/>, or null (<c>mt_find</c>).</summary>
    public VmArea* FindAtOrAfter(ulong address, ulong limit, out ulong start, out ulong end)
    {
        LeafHint hint = default;
        return FindAtOrAfter(address, limit, ref hint, out start, out end);
    }

    /// <summary>
    /// <see cref="FindAtOrAfter(ulong, ulong, out ulong, out ulong)"/> starting from <paramref name="hint"/>'s leaf
    /// when it is current and covers <paramref name="address"/>; the hint is left on the last leaf visited. For
    /// mmap_lock holders only (see <see cref="LeafHint"/>).
    /// </summary>
    public VmArea* FindAtOrAfter(ulong address, ulong limit, ref LeafHint hint, out ulong start, out ulong end)
    {
        ulong index = address;
        while (LookupLeaf(index, ref hint, out VmaTreeNode* leaf, out int i, out ulong min, out ulong max))
        {
            ulong first = VmaTreeNode.SlotMinAcquire(leaf, i, min);
            for (; i <= leaf->End && first < limit; i++)
            {
                ulong last = VmaTreeNode.SlotMaxAcquire(leaf, i, max);
                VmArea* vma = (VmArea*)Volatile.Read(ref leaf->LeafSlot[i]);
                if (vma != null)
                {
                    Debug.Assert(last != ulong.MaxValue, "a stored range ends at 2^64");
                    start = first;
                    end = last + 1;
                    return vma;
                }

                if (last == ulong.MaxValue)
                {
                    break;
                }

                first = last + 1;
            }

            if (first >= limit || max == ulong.MaxValue)
            {
                break;
            }

            index = max + 1;
        }

        start = end = 0;
        return null;
    }

    /// <summary>The last VMA whose range starts before <paramref name="address"/> and ends after <paramref name="limit"/>, or null (<c>mt_prev</c>).</summary>
    public VmArea* FindBefore(ulong address, ulong limit, out ulong start, out ulong end)
    {
        LeafHint hint = default;
        return FindBefore(address, limit, ref hint, out start, out end);
    }

    /// <summary>
    /// <see cref="FindBefore(ulong, ulong, out ulong, out ulong)"/> starting from <paramref name="hint"/>'s leaf when
    /// it is current and covers the index below <paramref name="address"/>; the hint is left on the last leaf
    /// visited. For mmap_lock holders only (see <see cref="LeafHint"/>).
    /// </summary>
    public VmArea* FindBefore(ulong address, ulong limit, ref LeafHint hint, out ulong start, out ulong end)
    {
        ulong index = address - 1;
        while (address != 0 && LookupLeaf(index, ref hint, out VmaTreeNode* leaf, out int i, out ulong min, out ulong max))
        {
            ulong last = VmaTreeNode.SlotMaxAcquire(leaf, i, max);
            for (; i >= 0 && last >= limit; i--)
            {
                ulong first = VmaTreeNode.SlotMinAcquire(leaf, i, min);
                VmArea* vma = (VmArea*)Volatile.Read(ref leaf->LeafSlot[i]);
                if (vma != null)
                {
                    start = first;
                    end = last + 1;
                    return vma;
                }

                if (first == 0)
                {
                    break;
                }

                last = first - 1;
            }

            if (last < limit || min == 0)
            {
                break;
            }

            index = min - 1;
        }

        start = end = 0;
        return null;
    }

    /// <summary>
    /// The entry covering <paramref name="index"/>, or null for a free range, and the bounds [<paramref name="first"/>,
    /// <paramref name="last"/>] of its range, starting from <paramref name="hint"/>'s leaf when it is current and
    /// covers the index. A free range is always one whole slot, so its bounds are the whole gap. For mmap_lock
    /// holders only (see <see cref="LeafHint"/>).
    /// </summary>
    public VmArea* RangeAt(ulong index, ref LeafHint hint, out ulong first, out ulong last)
    {
        if (!LookupLeaf(index, ref hint, out VmaTreeNode* leaf, out int i, out ulong min, out ulong max))
        {
            first = 0;
            last = ulong.MaxValue;
            return null;
        }

        first = VmaTreeNode.SlotMin(leaf, i, min);
        last = VmaTreeNode.SlotMax(leaf, i, max);
        return (VmArea*)leaf->LeafSlot[i];
    }

    /// <summary>
    /// Reserves what a store of [start, end) needs (<c>mas_preallocate</c>): the worst-case node count, taken from the
    /// slab into this tree's pool (which keeps what earlier stores left unused, up to that count). False (ENOMEM)
    /// changes nothing: the nodes taken by this call go back.
    /// </summary>
    public bool Preallocate(ulong start, ulong end)
    {
        CheckRange(start, end);
        AssertWriter();
        if (FailNextPreallocations > 0)
        {
            FailNextPreallocations--;
            return false;
        }

        int added = 0;
        while (_poolCount < NodesNeeded)
        {
            VmaTreeNode* node = TakeRecycled();
            node = node != null ? node : s_nodeCache.TryAlloc();
            if (node == null)
            {
                for (; added > 0; added--)
                {
                    s_nodeCache.Free(TakeNode());
                }

                return false;
            }

            ReturnNode(node);
            added++;
        }

        MakeRecycleRoom(NodesNeeded);
        _buffers ??= new StoreBuffers();

        // Nodes left over from earlier stores of a taller tree go back to the slab.
        while (_poolCount > NodesNeeded)
        {
            s_nodeCache.Free(TakeNode());
        }

        return true;
    }

    /// <summary>
    /// Returns the unused preallocated nodes (<c>mas_destroy</c>) and the recycled ones to the slab, and drops the
    /// recycling ring and the store buffers, which the next <see cref="Preallocate"/> makes again.
    /// </summary>
    public void ReleasePreallocated()
    {
        while (_poolCount > 0)
        {
            s_nodeCache.Free(TakeNode());
        }

        ReleaseRecycled();
        _buffers = null;
        _leftValid = false;
    }

    /// <summary>Throws unless [start, end) is a non-empty range.</summary>
    private static void CheckRange(ulong start, ulong end)
    {
        if (start >= end)
        {
            throw new ArgumentOutOfRangeException(nameof(end), $"The range [0x{start:x}, 0x{end:x}) is empty.");
        }
    }

    /// <summary>
    /// Walks from the root to the leaf covering <paramref name="index"/> (lockless-safe); false when the tree is
    /// empty. Gives the leaf, the slot covering the index and the leaf's bounds.
    /// </summary>
    private bool LookupLeaf(ulong index, out VmaTreeNode* leaf, out int offset, out ulong min, out ulong max)
    {
        nint tagged = Volatile.Read(ref _root);
        min = 0;
        max = ulong.MaxValue;
        while (tagged != 0 && !VmaTreeNode.IsLeafPointer(tagged))
        {
            VmaTreeNode* inner = (VmaTreeNode*)tagged;
            int i = VmaTreeNode.InnerOffset(inner, index);
            tagged = (nint)Volatile.Read(ref inner->Child[i]);
            ulong childMin = VmaTreeNode.SlotMin(inner, i, min);
            max = VmaTreeNode.SlotMax(inner, i, max);
            min = childMin;
        }

        leaf = VmaTreeNode.FromTagged(tagged);
        offset = tagged == 0 ? 0 : VmaTreeNode.LeafOffset(leaf, index);
        return tagged != 0;
    }

    /// <summary>
    /// <see cref="LookupLeaf(ulong, out VmaTreeNode*, out int, out ulong, out ulong)"/> that takes
    /// <paramref name="hint"/>'s leaf instead of walking when it is current and covers <paramref name="index"/>, and
    /// otherwise walks and leaves the hint on the leaf found.
    /// </summary>
    private bool LookupLeaf(ulong index, ref LeafHint hint, out VmaTreeNode* leaf, out int offset, out ulong min, out ulong max)
    {
        if (hint.Covers(index, _version))
        {
            leaf = hint.Leaf;
            min = hint.Min;
            max = hint.Max;
            offset = VmaTreeNode.LeafOffset(leaf, index);
            return true;
        }

        bool found = LookupLeaf(index, out leaf, out offset, out min, out max);
        hint = found ? new LeafHint(leaf, min, max, _version) : default;
        return found;
    }

    /// <summary>The entry covering <paramref name="index"/> and the bounds of its range; the whole space when empty.</summary>
    private VmArea* FindRange(ulong index, out ulong first, out ulong last)
    {
        LeafHint none = default;
        return RangeAt(index, ref none, out first, out last);
    }

    /// <summary>Takes a node from the preallocation pool.</summary>
    private VmaTreeNode* TakeNode()
    {
        Debug.Assert(_poolCount > 0, "the preallocation pool is empty");
        VmaTreeNode* node = _pool;
        _pool = *(VmaTreeNode**)node;
        _poolCount--;
        return node;
    }

    /// <summary>Puts an unpublished node into the preallocation pool.</summary>
    private void ReturnNode(VmaTreeNode* node)
    {
        *(VmaTreeNode**)node = _pool;
        _pool = node;
        _poolCount++;
    }

    /// <summary>
    /// Marks the nodes of a subtree range as replaced: <paramref name="node"/> at <paramref name="level"/> and, below
    /// it, the children between the original walks to the store's first and last index (all children when the node
    /// is not on that edge). Leaf entries leave <see cref="_count"/> through <see cref="_countDelta"/>.
    /// </summary>
    private void RetireRun(int level, VmaTreeNode* node, bool leftEdge, bool rightEdge)
    {
        RetireNode(node, level);
        if (level == 0)
        {
            return;
        }

        int from = leftEdge ? OriginalLeft[level].Offset : 0;
        int to = rightEdge ? OriginalRight[level].Offset : node->End;
        for (int c = from; c <= to; c++)
        {
            RetireRun(level - 1, VmaTreeNode.FromTagged((nint)node->Child[c]), leftEdge && c == from, rightEdge && c == to);
        }
    }

    /// <summary>Marks one replaced node for freeing after the grace period.</summary>
    private void RetireNode(VmaTreeNode* node, int level)
    {
        _retired.Add((nint)node);
        if (level == 0)
        {
            _countDelta -= CountEntries(node);
        }
    }

    /// <summary>The number of non-null entries of a leaf.</summary>
    private static int CountEntries(VmaTreeNode* leaf)
    {
        int n = 0;
        for (int i = 0; i <= leaf->End; i++)
        {
            n += leaf->LeafSlot[i] != 0 ? 1 : 0;
        }

        return n;
    }

    /// <summary>Hands the retired nodes to the recycling ring, to be reused after a grace period.</summary>
    private void FlushRetired()
    {
        foreach (nint node in _retired)
        {
            Recycle((VmaTreeNode*)node);
        }

        _retired.Clear();
        QueueRecycled();
    }
}
