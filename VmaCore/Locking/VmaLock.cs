using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using VmaEngine.Slab;

namespace VmaEngine.Vma.Locking;

/// <summary>What <see cref="VmaLock.StartRead"/> found.</summary>
internal enum VmaReadResult
{
    /// <summary>The VMA is read-locked; the caller must call <see cref="VmaLock.EndRead"/>.</summary>
    Locked,

    /// <summary>A writer holds or is taking the VMA, or the reader limit is reached: fall back to mmap_lock.</summary>
    Busy,

    /// <summary>The VMA was detached (its count was 0): the caller may walk the tree again (-EAGAIN).</summary>
    Detached,
}

/// <summary>
/// The per-VMA lock of Linux v6.15 (<c>include/linux/mm.h</c>): one counter, <see cref="VmArea.VmRefcnt"/>, is the
/// attach state, the reader count and the writer's claim at once.
/// </summary>
/// <remarks>
/// <para>Encoding: 0 detached; 1 attached and unlocked; each reader adds 1; a writer waiting for readers adds
/// <see cref="LockOffset"/>. Readers increment only a non-zero count that stays within <see cref="RefLimit"/>, so a
/// detached VMA and a VMA a writer is claiming both refuse them.</para>
/// <para>A VMA is write-locked while <see cref="VmArea.VmLockSeq"/> equals the mm's <see cref="MmStruct.MmLockSeq"/>.
/// The writer (holding mmap_lock for write) takes the lock by waiting for readers to drain and recording the
/// sequence; it never releases it individually: <see cref="MmapLock.WriteUnlock"/> advances the sequence, which
/// releases every VMA write lock of the mm at once.</para>
/// <para>Ordering: <see cref="MarkAttached"/> publishes the count 1 with release semantics, and a reader's
/// increment is an interlocked (acquire) operation, so a reader that got the lock sees every store made to the VMA
/// before it was attached. A reader never waits.</para>
/// </remarks>
internal static unsafe class VmaLock
{
    /// <summary><c>VMA_LOCK_OFFSET</c>: what a writer adds while it waits for readers.</summary>
    public const int LockOffset = 0x4000_0000;

    /// <summary><c>VMA_REF_LIMIT</c>: the highest count a reader may produce.</summary>
    public const int RefLimit = LockOffset - 1;

    /// <summary>The <see cref="VmArea.VmLockSeq"/> of a VMA never write-locked (UINT_MAX).</summary>
    public const uint NeverLocked = uint.MaxValue;

    /// <summary>Whether the VMA is write-locked in the mm's current write section (<c>__is_vma_write_locked</c>).</summary>
    public static bool IsWriteLocked(VmArea* vma) => vma->VmLockSeq == Volatile.Read(ref vma->VmMm->MmLockSeq);

    /// <summary>Whether the VMA is attached to a tree (<c>vma_is_attached</c>).</summary>
    public static bool IsAttached(VmArea* vma) => Volatile.Read(ref vma->VmRefcnt) != 0;

    /// <summary>
    /// <c>vma_start_read</c>: tries to read-lock a VMA found under RCU without waiting. The VMA may have been freed
    /// and reused; the caller re-checks its identity once locked.
    /// </summary>
    public static VmaReadResult StartRead(MmStruct* mm, VmArea* vma)
    {
        // An early, unordered check: a VMA write-locked in this write section cannot be read-locked.
        if (Volatile.Read(ref vma->VmLockSeq) == Volatile.Read(ref mm->MmLockSeq))
        {
            return VmaReadResult.Busy;
        }

        int old = Volatile.Read(ref vma->VmRefcnt);
        while (true)
        {
            if (old == 0)
            {
                return VmaReadResult.Detached;
            }

            if (old >= RefLimit)
            {
                return VmaReadResult.Busy;
            }

            int seen = Interlocked.CompareExchange(ref vma->VmRefcnt, old + 1, old);
            if (seen == old)
            {
                break;
            }

            old = seen;
        }

        // The increment is a full barrier, so this read is ordered after it: if a writer recorded the sequence
        // before our increment became visible, we see it here and back out.
        if (Volatile.Read(ref vma->VmLockSeq) == Volatile.Read(ref mm->MmLockSeq))
        {
            EndRead(vma);
            return VmaReadResult.Busy;
        }

        return VmaReadResult.Locked;
    }

    /// <summary>
    /// <c>vma_end_read</c>: drops a reader's reference and, when a writer is waiting and this was the last reader,
    /// wakes it.
    /// </summary>
    /// <remarks>
    /// Checked: a release finds the count above the attach count (plus the writer's claim), since a reader holds a
    /// reference on an attached VMA and <see cref="MarkDetached"/> drops the attach count only once no reader
    /// remains. A release that would bring it to the attach count or below (a second release, a release of a VMA
    /// never read-locked, or of a detached or freed one) is refused before the count changes, hence the
    /// compare-exchange rather than a blind decrement. When a writer is waiting the release runs inside an RCU
    /// read-side section, so that the mm it wakes through stays allocated (an address space being disposed frees
    /// its mm only after a grace period that follows its last writer wait).
    /// </remarks>
    /// <exception cref="InvalidOperationException">The VMA holds no reader reference.</exception>
    public static void EndRead(VmArea* vma)
    {
        // Read the mm first: once the count drops, a writer may detach, free and reuse the VMA.
        MmStruct* mm = vma->VmMm;
        bool inRcu = false;
        int old = Volatile.Read(ref vma->VmRefcnt);
        while (true)
        {
            if (ReaderCount(old) <= 0)
            {
                if (inRcu)
                {
                    Rcu.ReadUnlock();
                }

                ThrowNotReadLocked(vma, old);
            }

            if ((old & LockOffset) != 0 && !inRcu)
            {
                Rcu.ReadLock();
                inRcu = true;
            }

            int seen = Interlocked.CompareExchange(ref vma->VmRefcnt, old - 1, old);
            if (seen == old)
            {
                break;
            }

            old = seen;
        }

        if (inRcu)
        {
            if (old - 1 == LockOffset + 1)
            {
                WriterWait.Wake(mm);
            }

            Rcu.ReadUnlock();
        }
    }

    /// <summary>
    /// The number of readers a count holds: what remains above the attach count of 1 once a writer's claim is
    /// removed (0 or less for a detached VMA or one no reader holds).
    /// </summary>
    private static int ReaderCount(int refcnt) => (refcnt & ~LockOffset) - 1;

    [DoesNotReturn]
    private static void ThrowNotReadLocked(VmArea* vma, int refcnt) => throw new InvalidOperationException(
        $"vma_end_read of the VMA at 0x{(nuint)vma:x}, which no reader holds (vm_refcnt {refcnt}): an unbalanced or "
        + "repeated VmaEndRead, or a VMA that was never read-locked.");

    /// <summary>
    /// <c>vma_start_write</c>: with mmap_lock held for write, waits until no reader holds the VMA and marks it
    /// write-locked for the rest of the write section. A no-op if it is already.
    /// </summary>
    public static void StartWrite(VmArea* vma)
    {
        MmStruct* mm = vma->VmMm;
        uint seq = Volatile.Read(ref mm->MmLockSeq);
        if (vma->VmLockSeq == seq)
        {
            return;
        }

        Debug.Assert((seq & 1) != 0, "vma_start_write without mmap_lock held for write");
        if (Volatile.Read(ref vma->VmRefcnt) != 0)
        {
            int claimed = Interlocked.Add(ref vma->VmRefcnt, LockOffset);
            if (claimed != LockOffset + 1)
            {
                WriterWait.Until(mm, vma, LockOffset + 1);
            }

            Volatile.Write(ref vma->VmLockSeq, seq);
            int after = Interlocked.Add(ref vma->VmRefcnt, -LockOffset);
            Debug.Assert(after != 0, "vma_start_write: the VMA was detached while write-locking it");
        }
        else
        {
            Volatile.Write(ref vma->VmLockSeq, seq);
        }
    }

    /// <summary><c>vma_mark_attached</c>: publishes a detached, write-locked VMA as attached (count 1, release).</summary>
    public static void MarkAttached(VmArea* vma)
    {
        Debug.Assert(IsWriteLocked(vma), "vma_mark_attached on a VMA that is not write-locked");
        Debug.Assert(vma->VmRefcnt == 0, "vma_mark_attached on an attached VMA (double attach)");
        Volatile.Write(ref vma->VmRefcnt, 1);
    }

    /// <summary>
    /// <c>vma_mark_detached</c>: drops the attach count of a write-locked VMA; if readers raised the count meanwhile
    /// (they will back out when they see the lock), first waits for them, as <see cref="StartWrite"/> does.
    /// </summary>
    /// <remarks>
    /// Unlike the kernel, which drops the attach count before waiting, the attach count stays while readers back
    /// out and goes with the writer's claim in one step: a reader's reference is then always counted above the
    /// attach count, which is what lets <see cref="EndRead"/> refuse a release no reader owns. Readers arriving
    /// meanwhile see the claim and fall back to mmap_lock (busy) instead of retrying the tree walk (detached); both
    /// end in the same place.
    /// </remarks>
    public static void MarkDetached(VmArea* vma)
    {
        Debug.Assert(IsWriteLocked(vma), "vma_mark_detached on a VMA that is not write-locked");
        Debug.Assert(Volatile.Read(ref vma->VmRefcnt) != 0, "vma_mark_detached on a detached VMA (double detach)");
        if (Interlocked.CompareExchange(ref vma->VmRefcnt, 0, 1) == 1)
        {
            return;
        }

        int claimed = Interlocked.Add(ref vma->VmRefcnt, LockOffset);
        if (claimed != LockOffset + 1)
        {
            WriterWait.Until(vma->VmMm, vma, LockOffset + 1);
        }

        int after = Interlocked.CompareExchange(ref vma->VmRefcnt, 0, LockOffset + 1);
        Debug.Assert(after == LockOffset + 1, "vma_mark_detached: the count changed while readers were locked out");
    }
}
