using System;
using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// The page-fault path of Linux v6.15 on x86-64, reduced to what changes VMAs (<c>arch/x86/mm/fault.c</c>
/// <c>do_user_addr_fault</c> and <c>access_error</c>, <c>mm/memory.c</c> <c>lock_vma_under_rcu</c>,
/// <c>lock_mm_and_find_vma</c>, <c>do_anonymous_page</c>/<c>do_cow_fault</c>, <c>mm/mmap.c</c>
/// <c>expand_downwards</c>), and <c>mm/gup.c</c>'s population of ranges.
/// </summary>
/// <remarks>
/// Locking: a fault first read-locks the VMA under RCU without mmap_lock. A fault that needs an anon_vma, or finds
/// nothing, retries under mmap_lock for read (the kernel's <c>vmf_anon_prepare</c> would try-lock mmap_lock and
/// retry the same way when that fails); growing a stack needs mmap_lock for write, which the retry takes instead
/// (a reader-writer lock that cannot upgrade or downgrade: the kernel's failed-upgrade path).
/// </remarks>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// Handles a fault at <paramref name="address"/> as a host's page-fault path would: SegvMapErr when nothing is
    /// mapped and no growsdown VMA above can grow to cover it (the stack guard gap, RLIMIT_STACK and
    /// mmap_min_addr apply); SegvAccErr when the VMA does not allow the access (a stack expanded for it stays
    /// expanded); SigBus beyond the end of a mapped file; OutOfMemory when an anon_vma could not be allocated. The
    /// first write to a private VMA (and, without <see cref="AddressSpaceOptions.ZeroPage"/>, the first read of
    /// private anonymous memory) gives it an anon_vma.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="access"/> is not a defined <see cref="FaultAccess"/>.</exception>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public FaultResult Fault(ulong address, FaultAccess access)
    {
        ThrowIfDisposed();
        if ((uint)access > (uint)FaultAccess.Execute)
        {
            throw new ArgumentOutOfRangeException(
                nameof(access), access, $"{nameof(FaultAccess)} must be Read, Write or Execute.");
        }

        return FaultRun(address, access, out _);
    }

    /// <summary>
    /// Writes one byte to every page of [address, address + length), in ascending order, as a write fault on each.
    /// EFAULT at the first page that cannot be written (unmapped, not writable, or beyond the end of its file):
    /// the pages before it stay written. ENOMEM when an anon_vma cannot be allocated. A zero length does nothing.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Touch(ulong address, ulong length)
    {
        ThrowIfDisposed();
        if (length == 0)
        {
            return Errno.None;
        }

        ulong last = address + length - 1;
        if (last < address)
        {
            return Errno.EFAULT;
        }

        ulong page = address & MmConstants.PageMask;
        last &= MmConstants.PageMask;
        while (true)
        {
            // One VMA's run of pages that behave as the first is handled at once, under that VMA's lock.
            FaultResult result = FaultRun(page, FaultAccess.Write, out ulong runEnd);
            if (result != FaultResult.Ok)
            {
                return result == FaultResult.OutOfMemory ? Errno.ENOMEM : Errno.EFAULT;
            }

            if (runEnd > last)
            {
                return Errno.None;
            }

            page = runEnd;
        }
    }

    /// <summary>
    /// The fault at <paramref name="address"/>; on success <paramref name="runEnd"/> is where the run of following
    /// pages that the same access would also satisfy ends (the VMA's end or the file's end).
    /// </summary>
    private FaultResult FaultRun(ulong address, FaultAccess access, out ulong runEnd)
    {
        runEnd = 0;
        VmArea* vma = LockVmaUnderRcu(address);
        if (vma != null)
        {
            if (IsAccessError(vma->VmFlags, access))
            {
                VmaLock.EndRead(vma);
                return VmaMetrics.Fault(FaultResult.SegvAccErr, FaultPath.VmaLock);
            }

            if (IsGuardPage(address))
            {
                VmaLock.EndRead(vma);
                return VmaMetrics.Fault(FaultResult.SegvMapErr, FaultPath.VmaLock);
            }

            if (!NeedsAnonVma(vma, access == FaultAccess.Write) || vma->AnonVma != null)
            {
                FaultResult result = FileFault(vma, address, out runEnd);
                VmaLock.EndRead(vma);
                return VmaMetrics.Fault(result, FaultPath.VmaLock);
            }

            // anon_vma_prepare needs mmap_lock: VM_FAULT_RETRY.
            VmaLock.EndRead(vma);
        }

        return VmaMetrics.Fault(FaultUnderMmapLock(address, access, out runEnd), vma == null ? FaultPath.MmapLock : FaultPath.Retry);
    }

    /// <summary>
    /// The mmap_lock half of the fault (<c>lock_mm_and_find_vma</c>, then <c>handle_mm_fault</c>): finds the VMA,
    /// grows a stack down to the address if that is where it falls, checks the access and prepares the anon_vma.
    /// </summary>
    private FaultResult FaultUnderMmapLock(ulong address, FaultAccess access, out ulong runEnd)
    {
        runEnd = 0;
        bool readLocked = true;
        bool writeLocked = false;
        MmapLock.ReadLock();
        try
        {
            VmArea* vma = Tree.FindAtOrAfter(address, ulong.MaxValue, out _, out _);
            if (vma == null)
            {
                return FaultResult.SegvMapErr;
            }

            if (vma->VmStart > address)
            {
                if ((vma->VmFlags & VmFlags.GrowsDown) == 0)
                {
                    return FaultResult.SegvMapErr;
                }

                MmapLock.ReadUnlock();
                readLocked = false;

                // Throws if the address space was disposed in between, with no lock held.
                MmapLock.WriteLock();
                writeLocked = true;
                vma = Tree.FindAtOrAfter(address, ulong.MaxValue, out _, out _);
                if (vma == null)
                {
                    return FaultResult.SegvMapErr;
                }

                if (vma->VmStart > address && ExpandDownwards(vma, address) != Errno.None)
                {
                    return FaultResult.SegvMapErr;
                }
            }

            if (IsAccessError(vma->VmFlags, access))
            {
                return FaultResult.SegvAccErr;
            }

            if (IsGuardPage(address))
            {
                return FaultResult.SegvMapErr;
            }

            if (NeedsAnonVma(vma, access == FaultAccess.Write) && AnonVmaPrepare(vma) != Errno.None)
            {
                return FaultResult.OutOfMemory;
            }

            return FileFault(vma, address, out runEnd);
        }
        finally
        {
            if (writeLocked)
            {
                MmapLock.WriteUnlock();
            }
            else if (readLocked)
            {
                MmapLock.ReadUnlock();
            }
        }
    }

    /// <summary>
    /// Whether the page of <paramref name="address"/> holds a guard marker, on which the fault fails with
    /// VM_FAULT_SIGSEGV (<c>handle_pte_marker</c>), which x86 reports as SEGV_MAPERR.
    /// </summary>
    private bool IsGuardPage(ulong address)
    {
        ulong page = address & MmConstants.PageMask;
        return GuardPages.FirstIn(page, page + MmConstants.PageSize) == page;
    }

    /// <summary>
    /// <c>access_error</c>: a write needs VM_WRITE; a read needs any access bit; an instruction fetch needs VM_EXEC
    /// (the NX bit of the page tables, which x86's <c>access_error</c> leaves to the refault).
    /// </summary>
    private static bool IsAccessError(VmFlags flags, FaultAccess access) => access switch
    {
        FaultAccess.Write => (flags & VmFlags.Write) == 0,
        FaultAccess.Execute => (flags & VmFlags.Exec) == 0,
        _ => !VmFlagBits.IsAccessible(flags),
    };

    /// <summary>
    /// Whether a fault of this kind gives a VMA its anon_vma: a write to any private VMA (<c>do_anonymous_page</c>,
    /// <c>do_cow_fault</c>, which prepares it even before finding the page beyond the file's end), and a read of
    /// private anonymous memory on a kernel without the zero page.
    /// </summary>
    private bool NeedsAnonVma(VmArea* vma, bool write)
    {
        if ((vma->VmFlags & VmFlags.Shared) != 0)
        {
            return false;
        }

        return write || (vma->VmFile == null && !Options.ZeroPage);
    }

    /// <summary>
    /// The end of the page run in <paramref name="vma"/> from <paramref name="address"/> that lies within the mapped
    /// file and before the next guard marker: SigBus if the address itself is beyond the file. Anonymous memory has
    /// no end.
    /// </summary>
    private FaultResult FileFault(VmArea* vma, ulong address, out ulong runEnd)
    {
        runEnd = GuardPages.FirstIn(address, vma->VmEnd);
        VmFile* file = vma->VmFile;
        if (file == null)
        {
            return FaultResult.Ok;
        }

        ulong fileEnd = FileEndAddress(vma, file);
        if (address >= fileEnd)
        {
            runEnd = 0;
            return FaultResult.SigBus;
        }

        runEnd = GuardPages.FirstIn(address, fileEnd);
        return FaultResult.Ok;
    }

    /// <summary>
    /// The address in <paramref name="vma"/> where its file ends, clamped to the VMA: the first page whose fault is
    /// SIGBUS. For a hugetlbfs file that is the VMA's start, since this model's hugetlb pools are empty (a kernel
    /// with <c>nr_hugepages</c> 0 fails every such fault of a MAP_NORESERVE mapping with SIGBUS).
    /// </summary>
    internal static ulong FileEndAddress(VmArea* vma, VmFile* file)
    {
        if (vma->VmPgoff >= file->SizePages || file->Kind == VmFileKind.HugeTlb)
        {
            return vma->VmStart;
        }

        ulong pagesLeft = file->SizePages - vma->VmPgoff;
        return pagesLeft >= vma->Pages ? vma->VmEnd : vma->VmStart + (pagesLeft << MmConstants.PageShift);
    }

    /// <summary>
    /// <c>expand_downwards</c>: grows a growsdown VMA down to the page of <paramref name="address"/>, with mmap_lock
    /// held for write, counting the pages grown (<c>total_vm</c>, <c>stack_vm</c>, <c>locked_vm</c> when locked). EPERM below mmap_min_addr; ENOMEM when an accessible non-growsdown VMA lies within the
    /// stack guard gap below, when the stack would exceed RLIMIT_STACK, or when the tree or the anon_vma cannot be
    /// allocated. The VMA never merges with what it grows into.
    /// </summary>
    private Errno ExpandDownwards(VmArea* vma, ulong address)
    {
        Debug.Assert(MmapLock.IsWriteLockHeld, "expand_downwards without mmap_lock held for write");
        if ((vma->VmFlags & VmFlags.GrowsDown) == 0)
        {
            return Errno.EFAULT;
        }

        address &= MmConstants.PageMask;
        if (address < Options.MmapMinAddr)
        {
            return Errno.EPERM;
        }

        VmArea* prev = Tree.FindBefore(vma->VmStart, 0, out _, out _);
        if (prev != null && (prev->VmFlags & VmFlags.GrowsDown) == 0 && VmFlagBits.IsAccessible(prev->VmFlags)
            && address - prev->VmEnd < Options.StackGuardGap)
        {
            return Errno.ENOMEM;
        }

        var vmi = new VmaIterator(this, address);
        vmi.Config(address, vma->VmEnd);
        if (vmi.Prealloc() != Errno.None || AnonVmaPrepare(vma) != Errno.None)
        {
            return Errno.ENOMEM;
        }

        VmaLock.StartWrite(vma);
        if (address >= vma->VmStart)
        {
            return Errno.None;
        }

        ulong size = vma->VmEnd - address;
        ulong grow = (vma->VmStart - address) >> MmConstants.PageShift;
        if (grow > vma->VmPgoff || size > Options.StackLimit)
        {
            return Errno.ENOMEM;
        }

        if ((vma->VmFlags & VmFlags.Locked) != 0)
        {
            _mm->LockedVm += grow;
        }

        _mm->Stat.Account(vma->VmFlags, (long)grow);
        vma->VmStart = address;
        vma->VmPgoff -= grow;
        vmi.StoreOverwrite(vma);
        return Errno.None;
    }

    /// <summary>
    /// <c>__mm_populate</c>: faults in [start, start + length) VMA by VMA under mmap_lock for read, skipping VM_IO
    /// and VM_PFNMAP. With <paramref name="ignoreErrors"/> (mmap) a failing VMA is skipped; otherwise (mlock) the
    /// first error is returned: EFAULT for a page that cannot be faulted, ENOMEM for an allocation failure.
    /// </summary>
    private Errno MmPopulate(ulong start, ulong length, bool ignoreErrors)
    {
        ulong end = start + length;
        MmapLock.ReadLock();
        try
        {
            ulong nstart = start;
            while (nstart < end)
            {
                VmArea* vma = Tree.FindAtOrAfter(nstart, end, out _, out _);
                if (vma == null)
                {
                    break;
                }

                ulong nend = vma->VmEnd < end ? vma->VmEnd : end;
                if ((vma->VmFlags & (VmFlags.Io | VmFlags.PfnMap)) == 0)
                {
                    if (nstart < vma->VmStart)
                    {
                        nstart = vma->VmStart;
                    }

                    bool write = (vma->VmFlags & (VmFlags.Write | VmFlags.Shared)) == VmFlags.Write;
                    Errno error = PopulateVmaRange(vma, nstart, nend, write);
                    if (error != Errno.None && !ignoreErrors)
                    {
                        return error;
                    }
                }

                nstart = nend;
            }

            return Errno.None;
        }
        finally
        {
            MmapLock.ReadUnlock();
        }
    }

    /// <summary>
    /// <c>populate_vma_page_range</c>: the faults get_user_pages takes on [start, end) of one VMA (mmap_lock held),
    /// with FOLL_FORCE for accessible VMAs: PROT_NONE cannot be read (EFAULT); the first fault prepares the
    /// anon_vma where the fault kind needs one (ENOMEM if it cannot); a guard marker or a page beyond the file's end
    /// is EFAULT.
    /// VM_LOCKONFAULT VMAs are not populated.
    /// </summary>
    private Errno PopulateVmaRange(VmArea* vma, ulong start, ulong end, bool write)
    {
        Debug.Assert(MmapLock.IsHeld, "populate without mmap_lock");
        VmFlags flags = vma->VmFlags;
        if ((flags & VmFlags.LockOnFault) != 0 || start >= end)
        {
            return Errno.None;
        }

        if (!write && (flags & VmFlags.Read) == 0 && (!VmFlagBits.IsAccessible(flags) || (flags & VmFlags.MayRead) == 0))
        {
            return Errno.EFAULT;
        }

        if (NeedsAnonVma(vma, write) && AnonVmaPrepare(vma) != Errno.None)
        {
            return Errno.ENOMEM;
        }

        if (GuardPages.FirstIn(start, end) < end)
        {
            return Errno.EFAULT;
        }

        return vma->VmFile != null && end > FileEndAddress(vma, vma->VmFile) ? Errno.EFAULT : Errno.None;
    }
}
