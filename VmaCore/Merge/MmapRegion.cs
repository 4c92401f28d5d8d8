using System;
using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>__mmap_region</c> and its <c>__mmap_*</c> steps (<c>mm/vma.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>__mmap_region</c>: maps [<paramref name="addr"/>, <paramref name="addr"/> + <paramref name="len"/>) (page
    /// aligned, checked by the caller) with <paramref name="vmFlags"/> at <paramref name="pgoff"/> of
    /// <paramref name="file"/> (null: anonymous private memory; shared anonymous memory passes its shmem object),
    /// replacing whatever is mapped there (MAP_FIXED). A private writable mapping gets VM_ACCOUNT. The range merges
    /// with compatible neighbours (<see cref="MergeNewRange"/>), else gets a new VMA. The VMA ends up with
    /// VM_SOFTDIRTY (if configured) and without VM_LOCKED when it is VM_SPECIAL.
    /// <code>
    ///   |prev|  |old|**|old2|  |next|        map [addr, end) over old and old2
    ///   -> |prev|  |o|new****|2|  |next|     or, if compatible, prev or next grows over it
    /// </code>
    /// Errors: ENOMEM when gathering the old VMAs fails (VMAs split on the way stay split, as in the kernel), or when
    /// the new VMA cannot be allocated; in that last case the old VMAs are already gone (their page tables were
    /// cleared) and the range is left unmapped, as the kernel does. A merge that fails for lack of memory falls back
    /// to a new VMA, as in the kernel.
    /// </summary>
    internal Errno MmapRegion(VmFile* file, ulong addr, ulong len, VmFlags vmFlags, ulong pgoff, out ulong mapped)
    {
        Debug.Assert(MmapLock.IsWriteLockHeld, "mmap_region without mmap_lock held for write");
        Debug.Assert((addr & ~MmConstants.PageMask) == 0 && (len & ~MmConstants.PageMask) == 0 && len != 0, "mmap_region of an unaligned or empty range");
        if (file == null && (vmFlags & VmFlags.Shared) != 0)
        {
            throw new ArgumentException("A shared anonymous mapping needs its shmem object (shmem_zero_setup) as the file.", nameof(file));
        }

        mapped = 0;
        ulong end = addr + len;
        var vmi = new VmaIterator(this, addr);

        // __mmap_prepare: gather what is mapped there, find the neighbours, account.
        var vms = new VmaMunmapState(ref vmi, vmi.Find(end), addr, end);
        VmArea* prev;
        VmArea* next;
        if (vms.Vma != null)
        {
            Errno error = GatherMunmapVmas(ref vms);
            if (error != Errno.None)
            {
                return error;
            }

            prev = vms.Prev;
            next = vms.Next;
        }
        else
        {
            next = vmi.NextRewind(out prev);
        }

        if (IsAccountableMapping(file, vmFlags))
        {
            vms.NrAccounted = 0;
            vmFlags |= VmFlags.Account;
        }

        CleanUpMunmapArea(ref vms);

        VmArea* vma = null;
        if (prev != null || next != null)
        {
            var vmg = new VmaMergeState(ref vmi, addr, end, vmFlags, pgoff) { File = file, Prev = prev, Next = next };
            vma = MergeNewRange(ref vmg);
        }

        if (vma == null)
        {
            Errno error = MmapNewVma(ref vmi, file, addr, end, vmFlags, pgoff, out vma);
            if (error != Errno.None)
            {
                AbortMunmapVmas(ref vms);
                return error;
            }
        }

        MmapComplete(ref vms, vma, len >> MmConstants.PageShift);
        mapped = addr;
        return Errno.None;
    }

    /// <summary>
    /// <c>accountable_mapping</c>: private writable mappings without VM_NORESERVE are charged to the commit limit,
    /// except hugetlbfs files, which account their huge pages themselves.
    /// </summary>
    private static bool IsAccountableMapping(VmFile* file, VmFlags flags) =>
        VmFile.HugePageSizeOf(file) == 0 && (flags & (VmFlags.NoReserve | VmFlags.Shared | VmFlags.Write)) == VmFlags.Write;

    /// <summary>
    /// <c>__mmap_new_vma</c>: allocates, preallocates and links a new VMA for the range: a file mapping gets a file
    /// reference and the file's operations, anonymous memory no operations. A hugetlbfs file's mmap
    /// (<c>hugetlbfs_file_mmap</c>) adds VM_HUGETLB and VM_DONTEXPAND and reserves the huge pages unless
    /// VM_NORESERVE: with this model's empty pools that reservation fails (ENOMEM). ENOMEM changes nothing.
    /// </summary>
    private Errno MmapNewVma(ref VmaIterator vmi, VmFile* file, ulong addr, ulong end, VmFlags flags, ulong pgoff, out VmArea* vma)
    {
        vma = null;
        if (VmFile.HugePageSizeOf(file) != 0)
        {
            if ((flags & VmFlags.NoReserve) == 0)
            {
                return Errno.ENOMEM;
            }

            flags |= VmFlags.HugeTlb | VmFlags.DontExpand;
        }

        vma = VmAreaCache.Alloc(Mm, Faults);
        if (vma == null)
        {
            return Errno.ENOMEM;
        }

        vmi.Config(addr, end);
        SetRange(vma, addr, end, pgoff);
        vma->VmFlags = flags;
        vma->VmPageProt = PageProt(flags);
        if (vmi.Prealloc() != Errno.None)
        {
            VmAreaCache.Free(vma);
            vma = null;
            return Errno.ENOMEM;
        }

        if (file != null)
        {
            vma->VmFile = FileRef.Get(file);
            vma->VmOps = VmOperations.File;
        }

        VmaLock.StartWrite(vma);
        vmi.StoreNew(vma);
        AddMapCount(1);
        return Errno.None;
    }

    /// <summary>
    /// <c>__mmap_complete</c>: frees the VMAs the mapping replaced, counts the <paramref name="pages"/> mapped
    /// (<c>vm_stat_account</c>, and <c>locked_vm</c> when locked), drops VM_LOCKED from mappings that cannot be
    /// locked instead of counting them (<see cref="SupportsMlockAtMap"/>), and marks the new or expanded VMA
    /// soft-dirty.
    /// </summary>
    private void MmapComplete(ref VmaMunmapState vms, VmArea* vma, ulong pages)
    {
        CompleteMunmapVmas(ref vms);
        _mm->Stat.Account(vma->VmFlags, (long)pages);
        if ((vma->VmFlags & VmFlags.Locked) != 0)
        {
            if (!SupportsMlockAtMap(vma->VmFlags))
            {
                vma->VmFlags &= ~(VmFlags.Locked | VmFlags.LockOnFault);
            }
            else
            {
                _mm->LockedVm += pages;
            }
        }

        if (Options.SoftDirty)
        {
            vma->VmFlags |= VmFlags.SoftDirty;
        }

        vma->VmPageProt = PageProt(vma->VmFlags);
    }

    /// <summary>
    /// Whether a new mapping keeps the VM_LOCKED it got from MAP_LOCKED or <c>mlockall(MCL_FUTURE)</c>: not when it
    /// is VM_SPECIAL or hugetlb (v6.15 <c>__mmap_complete</c>), nor when it is VM_DROPPABLE with
    /// <see cref="AddressSpaceOptions.DroppableNeverLocked"/> (6.18.y's <c>vma_supports_mlock</c>).
    /// </summary>
    private bool SupportsMlockAtMap(VmFlags flags)
    {
        VmFlags unlockable = VmFlags.Special | VmFlags.HugeTlb | (Options.DroppableNeverLocked ? VmFlags.Droppable : VmFlags.None);
        return (flags & unlockable) == 0;
    }
}
