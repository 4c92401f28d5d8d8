namespace VmaEngine.Vma;

/// <summary>
/// The madvise advices that act on pages, not on <c>vm_flags</c> (Linux v6.15 <c>mm/madvise.c</c>:
/// <c>madvise_dontneed_free</c>, <c>madvise_remove</c>, <c>madvise_willneed</c>, <c>madvise_cold</c>,
/// <c>madvise_pageout</c>, <c>madvise_collapse</c>, <c>madvise_populate</c>, <c>madvise_inject_error</c>): each
/// refuses the VMAs the kernel refuses; the pages themselves are not modelled, except that populating faults them
/// in as accesses would (anon_vmas).
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>HPAGE_PMD_SIZE: what MADV_COLLAPSE collapses into.</summary>
    private const ulong HugePmdSize = 2UL << 20;

    /// <summary>One VMA's part [start, end) of a page-only advice (mmap_lock held); the VMA is not changed.</summary>
    private Errno MadvisePagesOnly(VmArea* vma, ulong start, ulong end, Advice advice)
    {
        VmFlags flags = vma->VmFlags;
        switch (advice)
        {
            case Advice.DontNeed:
            case Advice.DontNeedLocked:
            case Advice.Free:
                // madvise_dontneed_free_valid_vma; MADV_FREE works on private anonymous memory only.
                VmFlags forbidden = VmFlags.PfnMap | (advice == Advice.DontNeedLocked ? VmFlags.None : VmFlags.Locked);
                if ((flags & forbidden) != 0 || (advice == Advice.Free && ((flags & VmFlags.HugeTlb) != 0 || vma->VmOps != null)))
                {
                    return Errno.EINVAL;
                }

                return Errno.None;
            case Advice.Remove:
                if ((flags & VmFlags.Locked) != 0 || vma->VmFile == null)
                {
                    return Errno.EINVAL;
                }

                // vma_is_shared_maywrite: only a writable shared mapping may punch holes in its file.
                return (flags & (VmFlags.Shared | VmFlags.MayWrite)) == (VmFlags.Shared | VmFlags.MayWrite) ? Errno.None : Errno.EACCES;
            case Advice.Cold:
            case Advice.PageOut:
                // can_madv_lru_vma.
                return (flags & (VmFlags.Locked | VmFlags.PfnMap | VmFlags.HugeTlb)) != 0 ? Errno.EINVAL : Errno.None;
            case Advice.Collapse:
                return MadviseCollapse(vma, start, end);
            case Advice.GuardInstall:
                return MadviseGuardInstall(vma, start, end);
            case Advice.GuardRemove:
                return MadviseGuardRemove(vma, start, end);
            default:
                // MADV_WILLNEED: read-ahead or swap-in, which never fails.
                return Errno.None;
        }
    }

    /// <summary>
    /// <c>madvise_collapse</c>: EINVAL unless THP may back the VMA regardless of the sysfs mode
    /// (<c>thp_vma_allowable_order</c>: not VM_NOHUGEPAGE, special or hugetlb, and holding a PMD-aligned huge page,
    /// whose file offset is aligned too for a file VMA). The collapse itself depends on pages, which the model
    /// approximates: a private anonymous VMA collapses once it was faulted (it has an anon_vma) and fails with
    /// EINVAL otherwise (the kernel's SCAN_PMD_NULL); shared and file memory collapse. A range that holds no whole
    /// huge page succeeds with nothing to do, and one that ends before the first huge page starts is EINVAL.
    /// </summary>
    private static Errno MadviseCollapse(VmArea* vma, ulong start, ulong end)
    {
        VmFlags flags = vma->VmFlags;
        ulong lastHuge = (vma->VmEnd - HugePmdSize) & ~(HugePmdSize - 1);
        bool fits = vma->VmEnd - vma->VmStart >= HugePmdSize && lastHuge >= vma->VmStart;
        bool offsetAligned = vma->VmOps == null
            || ((vma->VmStart >> MmConstants.PageShift) - vma->VmPgoff) % (HugePmdSize >> MmConstants.PageShift) == 0;
        if ((flags & (VmFlags.NoHugePage | VmFlags.Special | VmFlags.HugeTlb)) != 0 || !fits || !offsetAligned)
        {
            return Errno.EINVAL;
        }

        ulong hugeStart = (start + HugePmdSize - 1) & ~(HugePmdSize - 1);
        ulong hugeEnd = end & ~(HugePmdSize - 1);
        if (hugeStart >= hugeEnd)
        {
            return hugeStart == hugeEnd ? Errno.None : Errno.EINVAL;
        }

        return vma->VmOps != null || vma->AnonVma != null ? Errno.None : Errno.EINVAL;
    }

    /// <summary>
    /// <c>madvise_populate</c>: faults [start, end) in for reading or writing, VMA by VMA, as accesses would
    /// (<c>faultin_page_range</c>, without FOLL_FORCE). ENOMEM at the first unmapped page; EINVAL at a VMA that does
    /// not allow the access (or is VM_IO or VM_PFNMAP); EFAULT at a page whose fault fails (a guard marker, beyond
    /// the end of the file); ENOMEM when an anon_vma cannot be allocated. The pages before the failure stay
    /// populated.
    /// </summary>
    private Errno MadvisePopulate(ulong start, ulong end, bool write)
    {
        MmapLock.ReadLock();
        try
        {
            for (ulong cursor = start; cursor < end;)
            {
                VmArea* vma = VmaLookup(cursor);
                if (vma == null)
                {
                    return Errno.ENOMEM;
                }

                VmFlags needed = write ? VmFlags.Write : VmFlags.Read;
                if ((vma->VmFlags & (VmFlags.Io | VmFlags.PfnMap)) != 0 || (vma->VmFlags & needed) == 0)
                {
                    return Errno.EINVAL;
                }

                ulong stop = vma->VmEnd < end ? vma->VmEnd : end;
                ulong guard = GuardPages.FirstIn(cursor, stop);
                if (guard > cursor && NeedsAnonVma(vma, write) && AnonVmaPrepare(vma) != Errno.None)
                {
                    return Errno.ENOMEM;
                }

                if (guard < stop || (vma->VmFile != null && stop > FileEndAddress(vma, vma->VmFile)))
                {
                    return Errno.EFAULT;
                }

                cursor = stop;
            }

            return Errno.None;
        }
        finally
        {
            MmapLock.ReadUnlock();
        }
    }

    /// <summary>
    /// <c>madvise_inject_error</c> (MADV_HWPOISON, MADV_SOFT_OFFLINE; the range is not page aligned at the end):
    /// EPERM without CAP_SYS_ADMIN; otherwise each page is pinned for reading (<c>get_user_pages_fast</c>, which
    /// faults it in) and EFAULT is returned at the first that cannot be. Poisoning or migrating the frame is not
    /// modelled.
    /// </summary>
    private Errno MadviseInjectError(ulong start, ulong end)
    {
        if (!Options.CapSysAdmin)
        {
            return Errno.EPERM;
        }

        for (ulong page = start & MmConstants.PageMask; page < end;)
        {
            FaultResult result = FaultRun(page, FaultAccess.Read, out ulong runEnd);
            if (result != FaultResult.Ok)
            {
                return result == FaultResult.OutOfMemory ? Errno.ENOMEM : Errno.EFAULT;
            }

            page = runEnd;
        }

        return Errno.None;
    }
}
