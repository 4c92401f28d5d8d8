using System.Diagnostics;
using System.Numerics;
using System.Threading;
using VmaEngine.Slab;
using VmaEngine.Vma.Locking;

namespace VmaEngine.Vma.Tree;

/// <summary>
/// The reuse of replaced nodes: a store's old nodes wait for a grace period in a ring of this tree, then the next
/// preallocations take them back instead of allocating, so that a steady stream of stores does not send every node
/// through the slab's deferred free on the RCU thread and back (the role the kernel gives its per-CPU caches).
/// </summary>
/// <remarks>
/// <para>
/// Protocol: the writer (mmap_lock held for write) appends retired nodes at <see cref="_recycleHead"/> and, once per
/// store, queues one RCU callback carrying the new head. The callback runs on the RCU thread after a grace period
/// that began after the store unpublished those nodes, and publishes the head as <see cref="_recycleSafe"/> with a
/// release store: every node below it can no longer be seen by a reader. Callbacks run in the order queued, so
/// <see cref="_recycleSafe"/> only grows. The writer takes nodes from <see cref="_recycleTail"/> up to the safe
/// position (acquire load); only the writer touches the ring's entries and the head and tail. When the ring lacks
/// room for a store's worst case, <see cref="Preallocate"/> doubles it, up to <see cref="RecycleMaxCapacity"/>
/// nodes; a node retired into a full ring is freed to the slab with <c>kfree_rcu</c> instead.
/// <see cref="ReleasePreallocated"/> and <see cref="Dispose"/> give the ring's nodes back to the slab (after their
/// grace period).
/// </para>
/// <para>
/// Idle trim: a burst of stores leaves up to a grace period's worth of nodes in the ring. When the callback that runs
/// is the last one queued (no store for a whole grace period), the RCU thread takes mmap_lock for write without
/// waiting, becoming the writer for a moment, and frees the ring's nodes beyond <see cref="RecycleIdleReserve"/>
/// (see <see cref="TrimIfIdle"/>); if anyone holds mmap_lock it queues itself again for the next grace period, and
/// a store in between makes that callback no longer the last one. <see cref="_trimGate"/> orders the trim against
/// <see cref="Dispose"/>, after which the lock may be gone.
/// </para>
/// </remarks>
internal sealed unsafe partial class VmaTree : IRcuCallback
{
    /// <summary>
    /// The ring's capacity when the first <see cref="Preallocate"/> makes it (128 bytes; a tree that never stores has
    /// no ring), enough for the stores of a small tree during one grace period.
    /// </summary>
    private const int RecycleFirstCapacity = 16;

    /// <summary>The capacity the idle trim shrinks a grown ring back to (8 KiB of slots, 256 KiB of nodes at most).</summary>
    private const int RecycleIdleCapacity = 1024;

    /// <summary>
    /// The most retired nodes the ring holds (4 MiB of nodes): it doubles up to this when stores retire more nodes
    /// during one grace period than it holds, as a loop of stores on a large tree does.
    /// </summary>
    private const int RecycleMaxCapacity = 16384;

    /// <summary>The nodes an idle tree keeps for its next stores (64 KiB); the idle trim frees the rest.</summary>
    private const int RecycleIdleReserve = 256;

    /// <summary>The mm's mmap_lock, which the idle trim takes to act as the writer; null for a tree without one (no trim).</summary>
    private readonly MmapLock? _writerLock;

    /// <summary>Held by the idle trim while it uses <see cref="_writerLock"/>, and by <see cref="Dispose"/> to set <see cref="_disposed"/>.</summary>
    private readonly Lock _trimGate = new();

    /// <summary>Set by <see cref="Dispose"/> under <see cref="_trimGate"/>: no trim runs afterwards.</summary>
    private bool _disposed;

    /// <summary>
    /// The retired nodes, at their position modulo the ring's length (a power of two); empty until the first
    /// <see cref="Preallocate"/> and again after <see cref="ReleasePreallocated"/>.
    /// </summary>
    private nint[] _recycleRing = [];

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

    /// <summary>A tree; with <paramref name="writerLock"/>, the mm's mmap_lock, the ring is trimmed when the tree goes idle.</summary>
    public VmaTree(MmapLock? writerLock = null) => _writerLock = writerLock;

    /// <summary>
    /// Publishes that the nodes retired before the callback was queued are past their grace period, then trims the
    /// ring if no store queued a callback since this one.
    /// </summary>
    void IRcuCallback.Invoke(nint argument)
    {
        Volatile.Write(ref _recycleSafe, (ulong)argument);
        if ((ulong)argument == Volatile.Read(ref _recycleQueued))
        {
            TrimIfIdle((ulong)argument);
        }
    }

    /// <summary>
    /// On the RCU thread: frees the ring's nodes beyond <see cref="RecycleIdleReserve"/> and shrinks the ring back
    /// to <see cref="RecycleIdleCapacity"/>, if still no store has queued a callback after <paramref name="queued"/>; when
    /// mmap_lock is held, tries again after another grace period. Holding mmap_lock for write makes this thread the
    /// writer, so it may touch the writer-only ring; it starts no write section, as it changes no VMA.
    /// </summary>
    private void TrimIfIdle(ulong queued)
    {
        // Read without the lock, as a hint: with nothing to trim, no need to take mmap_lock. A store racing with this
        // read queues a callback of its own, which looks again.
        if (_writerLock is null || (RecyclingNodes <= RecycleIdleReserve && _recycleRing.Length <= RecycleIdleCapacity))
        {
            return;
        }

        lock (_trimGate)
        {
            if (_disposed)
            {
                return;
            }

            if (!_writerLock.TryEnterForHousekeeping())
            {
                // Someone holds mmap_lock: try again after another grace period, unless a store comes first.
                Rcu.Call(this, (nint)queued);
                return;
            }

            try
            {
                if (_recycleQueued == queued)
                {
                    FreeRecycledBeyond(RecycleIdleReserve);
                }
            }
            finally
            {
                _writerLock.ExitHousekeeping();
            }
        }
    }

    /// <summary>
    /// Asserts the writer's side of the protocol: a tree that belongs to an mm is changed only under its mmap_lock
    /// held for write, which is also what keeps the idle trim off the ring while a store uses it.
    /// </summary>
    [Conditional("DEBUG")]
    private void AssertWriter() =>
        Debug.Assert(_writerLock is null || _writerLock.IsWriteLockHeld, "the VMA tree of an mm is changed without its mmap_lock held for write");

    /// <summary>
    /// Frees the oldest ring nodes past their grace period until at most <paramref name="keep"/> remain, then shrinks
    /// the ring to <see cref="RecycleIdleCapacity"/> if it is larger and they fit.
    /// </summary>
    private void FreeRecycledBeyond(int keep)
    {
        ulong safe = Volatile.Read(ref _recycleSafe);
        while (_recycleHead - _recycleTail > (ulong)keep && _recycleTail < safe)
        {
            s_nodeCache.Free((VmaTreeNode*)_recycleRing[RingIndex(_recycleTail++)]);
        }

        if (_recycleRing.Length > RecycleIdleCapacity && RecyclingNodes <= RecycleIdleCapacity)
        {
            ResizeRing(RecycleIdleCapacity);
        }
    }

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
    /// Before a store (from <see cref="Preallocate"/>, so that a store never allocates): makes the ring at
    /// <see cref="RecycleFirstCapacity"/>, or doubles it, keeping every node at its position, until it has room for
    /// the <paramref name="nodes"/> the store may retire or reaches <see cref="RecycleMaxCapacity"/>.
    /// </summary>
    private void MakeRecycleRoom(int nodes)
    {
        int capacity = _recycleRing.Length;
        while ((ulong)capacity - (_recycleHead - _recycleTail) < (ulong)nodes && capacity < RecycleMaxCapacity)
        {
            capacity = capacity == 0 ? RecycleFirstCapacity : capacity * 2;
        }

        if (capacity != _recycleRing.Length)
        {
            ResizeRing(capacity);
        }
    }

    /// <summary>Moves the ring's nodes, each at its position, into a ring of <paramref name="capacity"/> slots (a power of two that holds them all).</summary>
    private void ResizeRing(int capacity)
    {
        Debug.Assert(RecyclingNodes <= capacity, "a ring must hold every node it keeps");
        var ring = new nint[capacity];
        for (ulong position = _recycleTail; position < _recycleHead; position++)
        {
            ring[RingIndex(ring, position)] = _recycleRing[RingIndex(position)];
        }

        _recycleRing = ring;
    }

    /// <summary>The ring slot of a position.</summary>
    private int RingIndex(ulong position) => RingIndex(_recycleRing, position);

    /// <summary>
    /// The slot of a position in a ring of a power-of-two length: a mask, where the remainder by a length the JIT
    /// does not know would cost a 64-bit division on every node recycled or reused.
    /// </summary>
    private static int RingIndex(nint[] ring, ulong position)
    {
        Debug.Assert(BitOperations.IsPow2(ring.Length), "the ring's length is a power of two");
        return (int)position & (ring.Length - 1);
    }

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

    /// <summary>Returns every node of the ring to the slab (at once when past its grace period, else after one) and drops the ring.</summary>
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

        _recycleRing = [];
    }
}
