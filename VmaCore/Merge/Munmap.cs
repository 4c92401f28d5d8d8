using System;
using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// Unmapping (Linux v6.15 <c>do_vmi_munmap</c>, <c>do_vmi_align_munmap</c> and the <c>vms_*</c> helpers,
/// <c>mm/vma.c</c>): gather the VMAs of the range (splitting the first and last), detach them, clear the range from
/// the tree, then free them.
/// </summary>
/// <remarks>
/// Protocol: gathering write-locks each VMA and marks it detached while it is still in the tree, so lockless readers
/// that find it back off and retry; the tree is cleared only once everything is gathered. A failure before that
/// re-attaches the gathered VMAs (splits already made stay, as in the kernel).
/// </remarks>
public sealed unsafe partial class AddressSpace
{
    /// <summary>The gathered (detached) VMAs of the unmap in progress (the kernel's <c>mt_detach</c>); mmap_lock guards it.</summary>
    private nint[] _detached = new nint[8];

    /// <summary>
    /// <c>do_vmi_munmap</c>: unmaps [<paramref name="start"/>, <paramref name="start"/> + page-aligned
    /// <paramref name="length"/>). EINVAL for an unaligned start, a range beyond TASK_SIZE or an empty range; 0 when
    /// nothing is mapped there; ENOMEM when a split would exceed the map-count limit or an allocation fails.
    /// The iterator is positioned at <paramref name="start"/> (or on the VMA before).
    /// </summary>
    internal Errno DoVmiMunmap(ref VmaIterator vmi, ulong start, ulong length)
    {
        ulong taskSize = Options.TaskSize;
        if ((start & ~MmConstants.PageMask) != 0 || start > taskSize || length > taskSize - start)
        {
            return Errno.EINVAL;
        }

        ulong end = start + ((length + MmConstants.PageSize - 1) & MmConstants.PageMask);
        if (end == start)
        {
            return Errno.EINVAL;
        }

        VmArea* vma = vmi.Find(end);
        return vma == null ? Errno.None : DoVmiAlignMunmap(ref vmi, vma, start, end);
    }

    /// <summary>
    /// <c>do_vmi_align_munmap</c>: unmaps the page-aligned [<paramref name="start"/>, <paramref name="end"/>), whose
    /// first overlapping VMA is <paramref name="vma"/>.
    /// </summary>
    internal Errno DoVmiAlignMunmap(ref VmaIterator vmi, VmArea* vma, ulong start, ulong end)
    {
        Debug.Assert(MmapLock.IsWriteLockHeld, "munmap without mmap_lock held for write");
        var vms = new VmaMunmapState(ref vmi, vma, start, end);
        Errno error = GatherMunmapVmas(ref vms);
        if (error != Errno.None)
        {
            return error;
        }

        error = vmi.ClearGfp(start, end);
        if (error != Errno.None)
        {
            ReattachVmas(ref vms);
            return error;
        }

        CompleteMunmapVmas(ref vms);
        return Errno.None;
    }

    /// <summary>
    /// <c>vms_gather_munmap_vmas</c>: splits the first VMA at the start and the last at the end when they stick out,
    /// then write-locks each VMA of the range, adds it to the detach list and marks it detached. The VMAs stay in the
    /// tree. On failure the gathered VMAs are re-attached (splits stay) and the error returned; ENOMEM also when a
    /// split in the middle of a VMA would leave the mm above the map-count limit; EPERM at the first sealed VMA.
    /// <code>
    ///   |prev|  |vma**|..|***last|  |next|
    ///            ^ start      ^ end
    ///   -> |prev|  |v|ma*|..|***|t|  |next|    the starred VMAs are gathered
    /// </code>
    /// </summary>
    private Errno GatherMunmapVmas(ref VmaMunmapState vms)
    {
        VmArea* first = vms.Vma;
        Errno error;
        if (vms.Start > first->VmStart)
        {
            // Unmapping a hole in the middle of a VMA adds one; let the count exceed the limit only temporarily.
            if (vms.End < first->VmEnd && Mm->MapCount >= Options.MaxMapCount)
            {
                return Errno.ENOMEM;
            }

            // A sealed VMA is not split when it cannot be unmapped anyway.
            if (!CanModifyVma(first))
            {
                return Errno.EPERM;
            }

            error = SplitVmaUnchecked(ref vms.Vmi, first, vms.Start, newBelow: true);
            if (error != Errno.None)
            {
                return error;
            }
        }

        vms.Prev = vms.Vmi.Prev();
        for (VmArea* next = vms.Vmi.Find(vms.End); next != null; next = vms.Vmi.Find(vms.End))
        {
            if (!CanModifyVma(next))
            {
                ReattachVmas(ref vms);
                return Errno.EPERM;
            }

            if (next->VmEnd > vms.End)
            {
                error = SplitVmaUnchecked(ref vms.Vmi, next, vms.End, newBelow: false);
                if (error != Errno.None)
                {
                    ReattachVmas(ref vms);
                    return error;
                }
            }

            VmaLock.StartWrite(next);

            // Storing into the kernel's detach tree may allocate.
            if (Faults.ShouldFail())
            {
                ReattachVmas(ref vms);
                return Errno.ENOMEM;
            }

            AddDetached(ref vms, next);
            VmaLock.MarkDetached(next);
            ulong pages = next->Pages;
            vms.NrPages += pages;
            vms.Stat.Account(next->VmFlags, (long)pages);
            if ((next->VmFlags & VmFlags.Locked) != 0)
            {
                vms.LockedVm += pages;
            }

            if ((next->VmFlags & VmFlags.Account) != 0)
            {
                vms.NrAccounted += pages;
            }

            Debug.Assert(next->VmStart >= vms.Start && next->VmStart < vms.End, "gathered a VMA outside the range");
        }

        vms.Next = vms.Vmi.Next();

        // Leave the iterator on the range that contains the start.
        while (vms.Vmi.Address > vms.Start)
        {
            vms.Vmi.PrevRange();
        }

        vms.ClearPtes = true;
        return Errno.None;
    }

    /// <summary><c>reattach_vmas</c>: marks every gathered VMA attached again and empties the detach list.</summary>
    private void ReattachVmas(ref VmaMunmapState vms)
    {
        for (int i = 0; i < vms.VmaCount; i++)
        {
            VmaLock.MarkAttached((VmArea*)_detached[i]);
        }

        vms.VmaCount = 0;
        vms.NrPages = 0;
        vms.LockedVm = 0;
        vms.Stat = default;
    }

    /// <summary>
    /// <c>vms_clean_up_area</c>: clears the page tables of the gathered range, guard markers included (and calls
    /// close hooks, which the model does not have); from then on the unmap cannot be undone.
    /// </summary>
    private void CleanUpMunmapArea(ref VmaMunmapState vms)
    {
        if (vms.NrPages != 0)
        {
            vms.ClearPtes = false;
            GuardPages.Remove(vms.Start, vms.End);
        }
    }

    /// <summary>
    /// <c>vms_complete_munmap_vmas</c>: once the gathered VMAs are out of the tree, uncounts them (<c>map_count</c>,
    /// <c>locked_vm</c>, <c>total_vm</c> and its classes) and frees them.
    /// </summary>
    private void CompleteMunmapVmas(ref VmaMunmapState vms)
    {
        AddMapCount(-vms.VmaCount);
        Debug.Assert(vms.LockedVm <= _mm->LockedVm, "an unmap unlocked more pages than locked_vm counts");
        _mm->LockedVm -= vms.LockedVm;
        if (vms.NrPages == 0)
        {
            return;
        }

        _mm->Stat.Remove(vms.Stat);

        vms.ClearPtes = false;
        GuardPages.Remove(vms.Start, vms.End);
        for (int i = 0; i < vms.VmaCount; i++)
        {
            FreeVma((VmArea*)_detached[i]);
            _detached[i] = 0;
        }

        vms.VmaCount = 0;
    }

    /// <summary>
    /// <c>vms_abort_munmap_vmas</c>: undoes a gather after a later step failed. While the page tables are intact the
    /// VMAs are re-attached; once they were cleared the unmap is completed instead, leaving a hole where the new
    /// mapping failed, as the kernel does.
    /// </summary>
    private void AbortMunmapVmas(ref VmaMunmapState vms)
    {
        if (vms.NrPages == 0)
        {
            return;
        }

        if (vms.ClearPtes)
        {
            ReattachVmas(ref vms);
            return;
        }

        // The kernel stores with __GFP_NOFAIL here: retry until the tree has room.
        vms.Vmi.Config(vms.Start, vms.End);
        while (!Tree.Preallocate(vms.Start, vms.End))
        {
        }

        vms.Vmi.Clear();
        CompleteMunmapVmas(ref vms);
    }

    private void AddDetached(ref VmaMunmapState vms, VmArea* vma)
    {
        if (vms.VmaCount == _detached.Length)
        {
            Array.Resize(ref _detached, _detached.Length * 2);
        }

        _detached[vms.VmaCount++] = (nint)vma;
    }
}
