using System.Threading;
using Slab;

namespace VmaCore.Tree;

/// <summary>
/// The reuse of replaced nodes: a store's old nodes wait for a grace period in a ring of this tree, then the next
/// preallocations take them back instead of allocating, so that a steady stream of stores does not send every node
/// through the slab's deferred free on the RCU thread and back (the role the kernel gives its per-CPU caches).
/// </summary>
/// <remarks>
/// Protocol: the writer (mmap_lock held for write) appends retired nodes at <see cref="_recycleHead"/> and, once per
/// store, queues one RCU callback carrying the new head. The callback runs on the RCU thread after a grace period
/// that began after the store unpublished those nodes, and publishes the head as <see cref="_recycleSafe"/> with a
/// release store: every node below it can no longer be seen by a reader. Callbacks run in the order queued, so
/// <see cref="_recycleSafe"/> only grows. The writer takes nodes from <see cref="_recycleTail"/> up to the safe
/// position (acquire load); only the writer touches the ring's entries and the head and tail. When the ring lacks
/// room for a store's worst case, <see cref="Preallocate"/> doubles it, up to <see cref="RecycleMaxCapacity"/>
/// nodes; a node retired into a full ring is freed to the slab with <c>kfree_rcu</c> instead. <see cref="ReleasePreallocated"/> and <see cref="Dispose"/> give the ring's nodes back
/// to the slab (after their grace period).
/// </remarks>
internal sealed unsafe partial class VmaTree : IRcuCallback
{
    /// <summary>The ring's first capacity (256 KiB of nodes at most).</summary>
    private const int RecycleInitialCapacity = 1024;

    /// <summary>
    /// The most retired nodes the ring holds (4 MiB of nodes): it doubles up to this when stores retire more nodes
    /// during one grace period than it holds, as a loop of stores on a large tree does.
    /// </summary>
    private const int RecycleMaxCapacity = 16384;

    /// <summary>The retired nodes, at their position modulo the ring's length (a power of two).</summary>
    private nint[] _recycleRing = new nint[RecycleInitialCapacity];

    /// <summary>How many nodes were ever put in the ring (writer only).</summary>
    private ulong _recycleHead;

    /// <summary>How many nodes were ever taken out of the ring again (writer only).</summary>
    private ulong _recycleTail;

    /// <summary>The head passed to the last queued callback (writer only).</summary>
    private ulong _recycleQueued;

    /// <summary>The positions below this are past their grace period: written by the RCU thread (release), read by the writer (acquire).</summary>
    private ulong _recycleSafe;

    /// <summary>The number of retired nodes held for reuse, past their grace period or not.</summary>
    internal int RecyclingNodes => (int)(_recycleHead - _recycleTail);

    /// <summary>Publishes that the nodes retired before the callback was queued are past their grace period.</summary>
    void IRcuCallback.Invoke(nint argument) => Volatile.Write(ref _recycleSafe, (ulong)argument);

    /// <summary>Puts a node the current store unpublished into the ring (or frees it after a grace period if the ring is full).</summary>
    private void Recycle(VmaTreeNode* node)
    {
        if (_recycleHead - _recycleTail == (ulong)_recycleRing.Length)
        {
            s_nodeCache.FreeRcu(node);
            return;
        }

        _recycleRing[RingIndex(_recycleHead++)] = (nint)node;
    }

    /// <summary>
    /// Before a store (from <see cref="Preallocate"/>, so that a store never allocates): doubles the ring, keeping
    /// every node at its position, when it has no room for the <paramref name="nodes"/> the store may retire, unless
    /// it is at <see cref="RecycleMaxCapacity"/>.
    /// </summary>
    private void MakeRecycleRoom(int nodes)
    {
        if ((ulong)_recycleRing.Length - (_recycleHead - _recycleTail) >= (ulong)nodes || _recycleRing.Length == RecycleMaxCapacity)
        {
            return;
        }

        var ring = new nint[_recycleRing.Length * 2];
        for (ulong position = _recycleTail; position < _recycleHead; position++)
        {
            ring[(int)(position % (ulong)ring.Length)] = _recycleRing[RingIndex(position)];
        }

        _recycleRing = ring;
    }

    /// <summary>The ring slot of a position.</summary>
    private int RingIndex(ulong position) => (int)(position % (ulong)_recycleRing.Length);

    /// <summary>Ends a store's retirements: one RCU callback marks the nodes recycled since the last one.</summary>
    private void QueueRecycled()
    {
        if (_recycleHead != _recycleQueued)
        {
            _recycleQueued = _recycleHead;
            Rcu.Call(this, (nint)_recycleHead);
        }
    }

    /// <summary>The oldest recycled node past its grace period, or null.</summary>
    private VmaTreeNode* TakeRecycled()
    {
        if (_recycleTail >= Volatile.Read(ref _recycleSafe))
        {
            return null;
        }

        return (VmaTreeNode*)_recycleRing[RingIndex(_recycleTail++)];
    }

    /// <summary>Returns every node of the ring to the slab: at once when past its grace period, else after one.</summary>
    private void ReleaseRecycled()
    {
        ulong safe = Volatile.Read(ref _recycleSafe);
        for (; _recycleTail < _recycleHead; _recycleTail++)
        {
            var node = (VmaTreeNode*)_recycleRing[RingIndex(_recycleTail)];
            if (_recycleTail < safe)
            {
                s_nodeCache.Free(node);
            }
            else
            {
                s_nodeCache.FreeRcu(node);
            }
        }
    }
}
