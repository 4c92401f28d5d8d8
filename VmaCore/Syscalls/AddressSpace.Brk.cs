using System;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// brk (Linux v6.15 <c>mm/mmap.c</c> <c>SYSCALL_DEFINE1(brk)</c>, <c>mm/vma.c</c> <c>do_brk_flags</c>): moves the
/// end of the heap that starts at <see cref="AddressSpaceOptions.StartBrk"/>.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>mm->brk - mm->start_brk</c>: how far the break is above its start (so a new address space needs no
    /// initialisation). Written under mmap_lock for write.
    /// </summary>
    private ulong _brkOffset;

    /// <summary>The current break (<c>mm->brk</c>).</summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public ulong CurrentBrk
    {
        get
        {
            ThrowIfDisposed();
            MmapLock.ReadLock();
            try
            {
                return Options.StartBrk + _brkOffset;
            }
            finally
            {
                MmapLock.ReadUnlock();
            }
        }
    }

    /// <summary>
    /// brk: moves the break to <paramref name="newBrk"/>. <paramref name="result"/> is what the syscall returns: the
    /// new break on success, the unchanged one on failure. Errno.None when the break moved (or stayed within the
    /// same page), ENOMEM when it did not: below <c>start_brk</c> (so <c>Brk(0)</c> reads the break), when the grown
    /// heap would not fit below TASK_SIZE (<c>check_brk_limits</c>: any value whose page-aligned end wraps past
    /// 2^64 or lies above TASK_SIZE), when growing would reach within a page and the stack guard gap of the next
    /// VMA, or when memory is short. Growing extends the heap VMA in place (the just-expand merge) or maps a new
    /// one; shrinking unmaps.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Brk(ulong newBrk, out ulong result) =>
        VmaMetrics.Syscall("brk", BrkUncounted(newBrk, out result));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno BrkUncounted(ulong newBrk, out ulong result)
    {
        ThrowIfDisposed();
        ulong populateStart = 0;
        ulong populateEnd = 0;
        Errno error = BrkLocked(newBrk, out result, ref populateStart, ref populateEnd);

        // mlockall(MCL_FUTURE): the grown heap is locked, and faulted in after mmap_lock is dropped.
        if (populateEnd > populateStart)
        {
            MmPopulate(populateStart, populateEnd - populateStart, ignoreErrors: true);
        }

        return error;
    }

    /// <summary>
    /// The body of brk under mmap_lock for write; when the heap grew and <c>def_flags</c> hold VM_LOCKED, the range
    /// to populate is [<paramref name="populateStart"/>, <paramref name="populateEnd"/>).
    /// </summary>
    private Errno BrkLocked(ulong newBrk, out ulong result, ref ulong populateStart, ref ulong populateEnd)
    {
        MmapLock.WriteLock();
        try
        {
            ulong startBrk = Options.StartBrk;
            ulong origBrk = startBrk + _brkOffset;
            result = origBrk;
            if (newBrk < startBrk)
            {
                return Errno.ENOMEM;
            }

            ulong newEnd = PageAlign(newBrk);
            ulong oldEnd = PageAlign(origBrk);
            if (newEnd == oldEnd)
            {
                SetBrk(newBrk, out result);
                return Errno.None;
            }

            Errno error = newBrk <= origBrk ? ShrinkBrk(newEnd, oldEnd) : GrowBrk(startBrk, newEnd, oldEnd);
            if (error != Errno.None)
            {
                return error;
            }

            if (newBrk > origBrk && (Mm->DefFlags & VmFlags.Locked) != 0)
            {
                populateStart = oldEnd;
                populateEnd = newEnd;
            }

            SetBrk(newBrk, out result);
            return Errno.None;
        }
        finally
        {
            MmapLock.WriteUnlock();
        }
    }

    /// <summary>Records the break.</summary>
    private void SetBrk(ulong brk, out ulong result)
    {
        _brkOffset = brk - Options.StartBrk;
        result = brk;
    }

    /// <summary>Shrinking: unmaps [newEnd, oldEnd) if a VMA lies there (a brk VMA must exist).</summary>
    private Errno ShrinkBrk(ulong newEnd, ulong oldEnd)
    {
        VmArea* brkVma = Tree.FindAtOrAfter(newEnd, oldEnd, out _, out _);
        if (brkVma == null || brkVma->VmStart >= oldEnd)
        {
            return Errno.ENOMEM;
        }

        var vmi = new VmaIterator(this, newEnd);
        return DoVmiMunmap(ref vmi, newEnd, oldEnd - newEnd) == Errno.None ? Errno.None : Errno.ENOMEM;
    }

    /// <summary>
    /// Growing: refuses a range that does not fit below TASK_SIZE (<c>check_brk_limits</c>, which asks
    /// <c>get_unmapped_area</c> with MAP_FIXED; a <paramref name="newEnd"/> that PAGE_ALIGN wrapped to 0 gives a length
    /// beyond TASK_SIZE), or when the next VMA (with its stack guard gap) is within a page of the new end, then
    /// <c>do_brk_flags</c> from the old end, expanding the heap VMA when it ends there.
    /// </summary>
    private Errno GrowBrk(ulong startBrk, ulong newEnd, ulong oldEnd)
    {
        if (GetUnmappedArea(false, 0, oldEnd, newEnd - oldEnd, MapFlags.Fixed, out _) != Errno.None)
        {
            return Errno.ENOMEM;
        }

        VmArea* next = Tree.FindAtOrAfter(oldEnd, newEnd + MmConstants.PageSize + Options.StackGuardGap, out _, out _);
        if (next != null && newEnd + MmConstants.PageSize > VmStartGap(next))
        {
            return Errno.ENOMEM;
        }

        VmArea* brkVma = Tree.FindBefore(oldEnd, startBrk, out _, out _);
        var vmi = new VmaIterator(this, oldEnd);
        return DoBrkFlags(ref vmi, brkVma, oldEnd, newEnd - oldEnd, VmFlags.None) == Errno.None ? Errno.None : Errno.ENOMEM;
    }
}
