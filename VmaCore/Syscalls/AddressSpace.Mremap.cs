using System;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// mremap (Linux v6.15 <c>mm/mremap.c</c>: <c>SYSCALL_DEFINE5(mremap)</c>, <c>mremap_to</c>,
/// <c>vma_to_resize</c>, <c>vma_expandable</c>, <c>move_vma</c>; with
/// <see cref="AddressSpaceOptions.MremapMultipleVmas"/>, the 6.17 order of checks and <c>remap_move</c>).
/// </summary>
/// <remarks>
/// Partial effects are the kernel's: with MREMAP_FIXED the destination is unmapped first, so in v6.15 a source
/// found invalid afterwards leaves the destination empty; a move whose unmap of the source fails leaves both
/// copies, the old one without VM_ACCOUNT; a 6.17 multi-VMA move that fails midway keeps the VMAs already moved.
/// </remarks>
public sealed unsafe partial class AddressSpace
{
    /// <summary>One mremap's arguments and what the checks derived (the kernel's <c>vma_remap_struct</c>).</summary>
    private struct RemapRequest
    {
        /// <summary>The start of the source range.</summary>
        public ulong Address;

        /// <summary>The source length, page aligned.</summary>
        public ulong OldLength;

        /// <summary>The new length, page aligned.</summary>
        public ulong NewLength;

        /// <summary>The destination (MREMAP_FIXED) or the address chosen for a move.</summary>
        public ulong NewAddress;

        /// <summary>The caller's flags.</summary>
        public MremapFlags Flags;

        /// <summary>Whether the result is a locked VMA that grew and must be populated.</summary>
        public bool PopulateGrowth;

        /// <summary>The start of the part to populate.</summary>
        public ulong PopulateStart;
    }

    /// <summary>
    /// mremap: resizes [oldAddress, oldAddress + oldLength) to <paramref name="newLength"/>, in place (shrinking
    /// unmaps the tail; growing extends the VMA, merging with a compatible next one) or, with
    /// <see cref="MremapFlags.MayMove"/>, by moving it; <see cref="MremapFlags.Fixed"/> moves it to
    /// <paramref name="newAddress"/>, replacing what is there. <paramref name="result"/> is the range's new address.
    /// EINVAL for bad flags, unaligned addresses, a zero new length, overlapping ranges, or a zero old length on a
    /// private mapping; EFAULT when the old address is unmapped or the range crosses the end of its VMA (6.17: a
    /// fixed move of unchanged length may span several VMAs); ENOMEM when it cannot grow in place and may not move,
    /// or memory or map count is short.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Mremap(ulong oldAddress, ulong oldLength, ulong newLength, MremapFlags flags, ulong newAddress, out ulong result) =>
        VmaMetrics.Syscall("mremap", MremapUncounted(oldAddress, oldLength, newLength, flags, newAddress, out result));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MremapUncounted(ulong oldAddress, ulong oldLength, ulong newLength, MremapFlags flags, ulong newAddress, out ulong result)
    {
        ThrowIfDisposed();
        result = 0;
        var request = new RemapRequest
        {
            Address = oldAddress,
            OldLength = PageAlign(oldLength),
            NewLength = PageAlign(newLength),
            NewAddress = newAddress,
            Flags = flags,
        };
        // MREMAP_DONTUNMAP is a move that keeps the size: the lengths as given must be equal.
        if ((flags & MremapFlags.DontUnmap) != 0 && oldLength != newLength)
        {
            return Errno.EINVAL;
        }

        Errno error = Options.MremapMultipleVmas ? CheckMremapParams(ref request, newLength) : CheckMremapFlags(ref request);
        if (error != Errno.None)
        {
            return error;
        }

        MmapLock.WriteLock();
        try
        {
            error = Options.MremapMultipleVmas ? DoMremapV617(ref request, out result) : DoMremapV615(ref request, out result);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }

        if (error == Errno.None && request.PopulateGrowth)
        {
            MmPopulate(request.PopulateStart, request.NewLength - request.OldLength, ignoreErrors: true);
        }

        return error;
    }

    /// <summary>The checks v6.15 makes before taking mmap_lock.</summary>
    private static Errno CheckMremapFlags(ref RemapRequest request)
    {
        MremapFlags flags = request.Flags;
        if ((flags & ~(MremapFlags.Fixed | MremapFlags.MayMove | MremapFlags.DontUnmap)) != 0
            || ((flags & (MremapFlags.Fixed | MremapFlags.DontUnmap)) != 0 && (flags & MremapFlags.MayMove) == 0)
            || (request.Address & ~MmConstants.PageMask) != 0
            || request.NewLength == 0)
        {
            return Errno.EINVAL;
        }

        return Errno.None;
    }

    /// <summary>
    /// <c>check_mremap_params</c> of 6.17 (with its stable fix "mm/mremap: fix regression in vrm->new_addr check",
    /// in 6.18): the flag and alignment checks, the new length against TASK_SIZE and, for a fixed destination only
    /// (the address argument is ignored otherwise), its end against TASK_SIZE, its alignment, overlap with the
    /// source and the map count headroom.
    /// </summary>
    private Errno CheckMremapParams(ref RemapRequest request, ulong rawNewLength)
    {
        Errno error = CheckMremapFlags(ref request);
        if (error != Errno.None)
        {
            return error;
        }

        ulong taskSize = Options.TaskSize;
        if (rawNewLength > taskSize)
        {
            return Errno.EINVAL;
        }

        if ((request.Flags & MremapFlags.Fixed) == 0)
        {
            return Errno.None;
        }

        if (request.NewAddress > taskSize - request.NewLength || (request.NewAddress & ~MmConstants.PageMask) != 0
            || Overlaps(ref request))
        {
            return Errno.EINVAL;
        }

        return Mm->MapCount + 2 >= Options.MaxMapCount - 3 ? Errno.ENOMEM : Errno.None;
    }

    /// <summary>
    /// <c>align_hugetlb</c>: for a hugetlb VMA both lengths are rounded up to its huge page size, the address and the
    /// new address (even when it is only a hint) must be huge-page aligned, and the mapping may not grow (its
    /// reservation cannot be split); false (EINVAL) otherwise. Other VMAs pass unchanged.
    /// </summary>
    private static bool AlignHugeTlb(ref RemapRequest request, VmArea* vma)
    {
        ulong hugePageSize = VmFile.HugePageSizeOf(vma->VmFile);
        if (hugePageSize == 0)
        {
            return true;
        }

        ulong mask = hugePageSize - 1;
        request.OldLength = (request.OldLength + mask) & ~mask;
        request.NewLength = (request.NewLength + mask) & ~mask;
        return (request.Address & mask) == 0 && (request.NewAddress & mask) == 0 && request.NewLength <= request.OldLength;
    }

    /// <summary>Whether the source and destination ranges overlap.</summary>
    private static bool Overlaps(ref RemapRequest request) =>
        request.Address + request.OldLength > request.NewAddress && request.NewAddress + request.NewLength > request.Address;

    /// <summary>The v6.15 syscall body under mmap_lock for write.</summary>
    private Errno DoMremapV615(ref RemapRequest request, out ulong result)
    {
        result = 0;
        VmArea* source = VmaLookup(request.Address);
        if (source == null)
        {
            return Errno.EFAULT;
        }

        if (!CanModifyVma(source))
        {
            return Errno.EPERM;
        }

        if (!AlignHugeTlb(ref request, source))
        {
            return Errno.EINVAL;
        }

        if (ImpliesNewAddress(ref request))
        {
            return MremapToV615(ref request, out result);
        }

        if (request.OldLength >= request.NewLength)
        {
            return ShrinkInPlace(ref request, out result);
        }

        Errno error = VmaToResize(ref request, out VmArea* vma);
        return error != Errno.None ? error : ExpandOrMove(ref request, vma, out result);
    }

    /// <summary>
    /// The 6.17 body: a fixed move of unchanged length goes through <see cref="RemapMove"/>; otherwise the source
    /// VMA is checked (<c>check_prep_vma</c>) before anything is unmapped.
    /// </summary>
    private Errno DoMremapV617(ref RemapRequest request, out ulong result)
    {
        result = 0;
        if ((request.Flags & MremapFlags.Fixed) != 0 && request.OldLength == request.NewLength)
        {
            return RemapMove(ref request, out result);
        }

        bool fixedMove = ImpliesNewAddress(ref request);
        VmArea* vma = VmaLookup(request.Address);
        if (vma == null)
        {
            return Errno.EFAULT;
        }

        if (!CanModifyVma(vma))
        {
            return Errno.EPERM;
        }

        if (!AlignHugeTlb(ref request, vma))
        {
            return Errno.EINVAL;
        }

        if (fixedMove || request.NewLength > request.OldLength)
        {
            Errno error = RemapIsValid(ref request, vma);
            if (error != Errno.None)
            {
                return error;
            }
        }

        if (fixedMove)
        {
            return MremapToV617(ref request, out result);
        }

        if (request.OldLength >= request.NewLength)
        {
            return ShrinkInPlace(ref request, out result);
        }

        return ExpandOrMove(ref request, vma, out result);
    }

    /// <summary>
    /// <c>vrm_implies_new_addr</c>: MREMAP_FIXED and MREMAP_DONTUNMAP go to <c>mremap_to</c> (a DONTUNMAP move
    /// without MREMAP_FIXED takes the new address as a hint).
    /// </summary>
    private static bool ImpliesNewAddress(ref RemapRequest request) =>
        (request.Flags & (MremapFlags.Fixed | MremapFlags.DontUnmap)) != 0;

    /// <summary>
    /// <c>remap_move</c> (6.17): moves every VMA part in the source range, keeping the gaps between them; no gap
    /// may open the range (EFAULT). Stops at the first failure, keeping the moves made.
    /// </summary>
    private Errno RemapMove(ref RemapRequest request, out ulong result)
    {
        result = 0;
        ulong start = request.Address;
        ulong end = start + request.OldLength;
        ulong target = request.NewAddress;
        ulong lastEnd = 0;
        bool seenVma = false;
        ulong cursor = start;
        VmArea* vma;
        while (cursor < end && (vma = Tree.FindAtOrAfter(cursor, end, out _, out _)) != null)
        {
            if (!seenVma && start < vma->VmStart)
            {
                return Errno.EFAULT;
            }

            ulong partStart = vma->VmStart > start ? vma->VmStart : start;
            ulong partLength = (vma->VmEnd < end ? vma->VmEnd : end) - partStart;
            ulong offset = seenVma ? vma->VmStart - lastEnd : 0;
            lastEnd = vma->VmEnd;
            cursor = lastEnd;
            var part = new RemapRequest
            {
                Address = partStart,
                OldLength = partLength,
                NewLength = partLength,
                NewAddress = target + offset,
                Flags = request.Flags,
            };
            Errno error = AlignHugeTlb(ref part, vma) ? RemapIsValid(ref part, vma) : Errno.EINVAL;
            if (error == Errno.None)
            {
                error = MremapToV617(ref part, out ulong moved);
                target = moved + partLength;
                if (!seenVma)
                {
                    result = moved;
                }
            }

            if (error != Errno.None)
            {
                return error;
            }

            seenVma = true;
        }

        return seenVma ? Errno.None : Errno.EFAULT;
    }

    /// <summary>Shrinking or keeping the size in place: unmaps the tail.</summary>
    private Errno ShrinkInPlace(ref RemapRequest request, out ulong result)
    {
        result = request.Address;
        if (request.OldLength == request.NewLength)
        {
            return Errno.None;
        }

        ulong tail = request.Address + request.NewLength;
        var vmi = new VmaIterator(this, tail);
        Errno error = DoVmiMunmap(ref vmi, tail, request.OldLength - request.NewLength);
        if (error != Errno.None)
        {
            result = 0;
        }

        return error;
    }

    /// <summary>
    /// Growing without a fixed destination: in place when the range ends at its VMA's end and the space after is
    /// free (<c>vma_merge_extend</c>), else a move to a new area with MREMAP_MAYMOVE, else ENOMEM.
    /// </summary>
    private Errno ExpandOrMove(ref RemapRequest request, VmArea* vma, out ulong result)
    {
        result = 0;
        ulong delta = request.NewLength - request.OldLength;
        if (request.OldLength == vma->VmEnd - request.Address && VmaExpandable(vma, delta))
        {
            var vmi = new VmaIterator(this, vma->VmEnd);
            VmArea* grown = VmaMergeExtend(ref vmi, vma, delta);
            if (grown == null)
            {
                return Errno.ENOMEM;
            }

            RemapStatAccount(grown, delta);

            if ((grown->VmFlags & VmFlags.Locked) != 0)
            {
                request.PopulateGrowth = true;
                request.PopulateStart = request.Address + request.OldLength;
            }

            result = request.Address;
            return Errno.None;
        }

        if ((request.Flags & MremapFlags.MayMove) == 0)
        {
            return Errno.ENOMEM;
        }

        Errno error = RemapArea(ref request, vma, MapFlags.None, 0);
        return error != Errno.None ? error : MoveVma(ref request, vma, out result);
    }

    /// <summary>
    /// <c>mremap_to</c> of v6.15: checks the destination, unmaps it, shrinks the source if asked, and only then
    /// validates the source (<c>vma_to_resize</c>) before moving.
    /// </summary>
    private Errno MremapToV615(ref RemapRequest request, out ulong result)
    {
        result = 0;
        ulong taskSize = Options.TaskSize;
        if ((request.NewAddress & ~MmConstants.PageMask) != 0 || request.NewLength > taskSize
            || request.NewAddress > taskSize - request.NewLength || Overlaps(ref request))
        {
            return Errno.EINVAL;
        }

        if (Mm->MapCount + 2 >= Options.MaxMapCount - 3)
        {
            return Errno.ENOMEM;
        }

        Errno error = UnmapDestinationAndShrink(ref request);
        if (error != Errno.None)
        {
            return error;
        }

        error = VmaToResize(ref request, out VmArea* vma);
        if (error == Errno.None)
        {
            error = RemapArea(ref request, vma, FixedIfAsked(ref request), request.NewAddress);
        }

        return error != Errno.None ? error : MoveVma(ref request, vma, out result);
    }

    /// <summary>
    /// <c>mremap_to</c> of 6.17 (the source was checked already): unmaps the destination and the shrunk tail,
    /// finds the source VMA again and moves it.
    /// </summary>
    private Errno MremapToV617(ref RemapRequest request, out ulong result)
    {
        result = 0;
        Errno error = UnmapDestinationAndShrink(ref request);
        if (error != Errno.None)
        {
            return error;
        }

        VmArea* vma = VmaLookup(request.Address);
        if (vma == null)
        {
            return Errno.EFAULT;
        }

        error = RemapArea(ref request, vma, FixedIfAsked(ref request), request.NewAddress);
        return error != Errno.None ? error : MoveVma(ref request, vma, out result);
    }

    /// <summary>MAP_FIXED for the destination's <c>get_unmapped_area</c> when MREMAP_FIXED was given.</summary>
    private static MapFlags FixedIfAsked(ref RemapRequest request) =>
        (request.Flags & MremapFlags.Fixed) != 0 ? MapFlags.Fixed : MapFlags.None;

    /// <summary>Unmaps the fixed destination, then the tail a shrinking move drops (the old length becomes the new).</summary>
    private Errno UnmapDestinationAndShrink(ref RemapRequest request)
    {
        Errno error = (request.Flags & MremapFlags.Fixed) != 0 ? DoMunmap(request.NewAddress, request.NewLength) : Errno.None;
        if (error != Errno.None || request.OldLength <= request.NewLength)
        {
            return error;
        }

        error = DoMunmap(request.Address + request.NewLength, request.OldLength - request.NewLength);
        if (error == Errno.None)
        {
            request.OldLength = request.NewLength;
        }

        return error;
    }

    /// <summary><c>vma_to_resize</c> (v6.15): looks the source VMA up again and validates it (<see cref="RemapIsValid"/>).</summary>
    private Errno VmaToResize(ref RemapRequest request, out VmArea* vma)
    {
        vma = VmaLookup(request.Address);
        return vma == null ? Errno.EFAULT : RemapIsValid(ref request, vma);
    }

    /// <summary>
    /// <c>remap_is_valid</c>: a sealed VMA is EPERM; a zero old length only duplicates shared mappings (EINVAL on
    /// private ones); MREMAP_DONTUNMAP is EINVAL on VM_DONTEXPAND and VM_PFNMAP mappings; the range
    /// may not cross the VMA's end (EFAULT; for a shrink only the kept part counts, since the tail is unmapped
    /// first, 6.17 <c>check_prep_vma</c>); a growing range may not overflow its offset (EINVAL) nor grow a
    /// VM_DONTEXPAND or VM_PFNMAP mapping (EFAULT); RLIMIT_MEMLOCK and RLIMIT_AS do not apply in this model.
    /// </summary>
    private static Errno RemapIsValid(ref RemapRequest request, VmArea* vma)
    {
        if (!CanModifyVma(vma))
        {
            return Errno.EPERM;
        }

        if (request.OldLength == 0 && (vma->VmFlags & (VmFlags.Shared | VmFlags.MayShare)) == 0)
        {
            return Errno.EINVAL;
        }

        if ((request.Flags & MremapFlags.DontUnmap) != 0 && (vma->VmFlags & (VmFlags.DontExpand | VmFlags.PfnMap)) != 0)
        {
            return Errno.EINVAL;
        }

        ulong keptLength = request.NewLength < request.OldLength ? request.NewLength : request.OldLength;
        if (keptLength > vma->VmEnd - request.Address)
        {
            return Errno.EFAULT;
        }

        if (request.NewLength <= request.OldLength)
        {
            return Errno.None;
        }

        ulong pgoff = vma->VmPgoff + ((request.Address - vma->VmStart) >> MmConstants.PageShift);
        if (pgoff + (request.NewLength >> MmConstants.PageShift) < pgoff)
        {
            return Errno.EINVAL;
        }

        return (vma->VmFlags & (VmFlags.DontExpand | VmFlags.PfnMap)) != 0 ? Errno.EFAULT : Errno.None;
    }

    /// <summary>
    /// <c>vma_expandable</c>: nothing is mapped in the <paramref name="delta"/> bytes after the VMA and the grown
    /// VMA fits below TASK_SIZE.
    /// </summary>
    private bool VmaExpandable(VmArea* vma, ulong delta)
    {
        ulong end = vma->VmEnd + delta;
        if (end < vma->VmEnd || Tree.FindAtOrAfter(vma->VmEnd, end, out _, out _) != null)
        {
            return false;
        }

        return GetUnmappedArea(false, 0, vma->VmStart, end - vma->VmStart, MapFlags.Fixed, out _) == Errno.None;
    }

    /// <summary>
    /// The <c>get_unmapped_area</c> of a move: the fixed destination is validated, or a new area of the new length
    /// is found; shared mappings are placed as MAP_SHARED.
    /// </summary>
    private Errno RemapArea(ref RemapRequest request, VmArea* vma, MapFlags flags, ulong hint)
    {
        if ((vma->VmFlags & VmFlags.MayShare) != 0)
        {
            flags |= MapFlags.Shared;
        }

        bool anonymousPrivate = vma->VmFile == null && (flags & MapFlags.Shared) == 0;
        Errno error = GetUnmappedArea(anonymousPrivate, VmFile.HugePageSizeOf(vma->VmFile), hint, request.NewLength, flags, out ulong address);
        if (error == Errno.None)
        {
            request.NewAddress = address;
        }

        return error;
    }

    /// <summary>
    /// <c>move_vma</c>: copies the VMA to the new address (<c>copy_vma</c>, which may merge there), then unmaps the
    /// source. VM_ACCOUNT is hidden from the source while it is unmapped so the charge moves with the copy, and
    /// restored on the parts of the source VMA that remain; if the unmap fails they stay without it.
    /// </summary>
    private Errno MoveVma(ref RemapRequest request, VmArea* vma, out ulong result)
    {
        result = 0;
        if (Mm->MapCount >= Options.MaxMapCount - 3)
        {
            return Errno.ENOMEM;
        }

        ulong oldAddress = request.Address;
        ulong oldLength = request.OldLength;
        VmFlags vmFlags = vma->VmFlags;
        VmaLock.StartWrite(vma);
        ulong newPgoff = vma->VmPgoff + ((oldAddress - vma->VmStart) >> MmConstants.PageShift);
        VmArea* newVma = CopyVma(ref vma, request.NewAddress, request.NewLength, newPgoff, out _);
        if (newVma == null)
        {
            return Errno.ENOMEM;
        }

        // move_page_tables: the guard markers go with the page tables.
        GuardPages.Move(oldAddress, oldLength, request.NewAddress);
        RemapStatAccount(vma, request.NewLength);
        if ((request.Flags & MremapFlags.DontUnmap) != 0)
        {
            DontUnmapComplete(vma, newVma, oldAddress, oldLength);
            result = request.NewAddress;
            return Errno.None;
        }

        bool accountStart = false;
        bool accountEnd = false;
        if ((vmFlags & VmFlags.Account) != 0)
        {
            VmaLock.StartWrite(vma);
            vma->VmFlags &= ~VmFlags.Account;
            accountStart = vma->VmStart < oldAddress;
            accountEnd = vma->VmEnd > oldAddress + oldLength;
        }

        var vmi = new VmaIterator(this, oldAddress);
        if (DoVmiMunmap(ref vmi, oldAddress, oldLength) != Errno.None)
        {
            accountStart = accountEnd = false;
        }

        if (accountStart)
        {
            SetAccount(Tree.FindBefore(oldAddress, 0, out _, out _));
        }

        if (accountEnd)
        {
            SetAccount(Tree.Load(oldAddress + oldLength));
        }

        if ((vmFlags & VmFlags.Locked) != 0 && request.NewLength > oldLength)
        {
            request.PopulateGrowth = true;
            request.PopulateStart = request.NewAddress + oldLength;
        }

        result = request.NewAddress;
        return Errno.None;
    }

    /// <summary>
    /// The MREMAP_DONTUNMAP end of <c>move_vma</c> (<c>dontunmap_complete</c>): the source VMA stays mapped but loses
    /// its lock bits, and in v6.15 its VM_ACCOUNT too (kept with <see cref="AddressSpaceOptions.DontUnmapKeepsAccount"/>),
    /// all of it even when only part of it moved; when all of it moved to another VMA its anon_vma links go
    /// (<c>unlink_anon_vmas</c>), since its pages went with the page tables. The mm counters are not touched: the
    /// source's pages stay in <c>total_vm</c> and, if it was locked, in <c>locked_vm</c>.
    /// </summary>
    private void DontUnmapComplete(VmArea* vma, VmArea* newVma, ulong oldAddress, ulong oldLength)
    {
        VmaLock.StartWrite(vma);
        vma->VmFlags &= Options.DontUnmapKeepsAccount ? ~VmFlagBits.LockedMask : ~(VmFlagBits.LockedMask | VmFlags.Account);
        if (newVma != vma && vma->VmStart == oldAddress && vma->VmEnd == oldAddress + oldLength)
        {
            Rmap.UnlinkAnonVmas(vma);
        }
    }

    /// <summary>
    /// <c>vrm_stat_account</c>: counts <paramref name="bytes"/> more of <paramref name="vma"/>'s kind
    /// (<c>vm_stat_account</c>), and in <c>locked_vm</c> when it is VM_LOCKED. A move counts the whole new length
    /// here and the unmap of the source uncounts the old; MREMAP_DONTUNMAP unmaps nothing, so its source's locked
    /// pages stay counted although the source loses VM_LOCKED, as in the kernel.
    /// </summary>
    private void RemapStatAccount(VmArea* vma, ulong bytes)
    {
        ulong pages = bytes >> MmConstants.PageShift;
        _mm->Stat.Account(vma->VmFlags, (long)pages);
        if ((vma->VmFlags & VmFlags.Locked) != 0)
        {
            _mm->LockedVm += pages;
        }
    }

    /// <summary><c>vm_flags_set(vma, VM_ACCOUNT)</c>: write-locks the VMA and sets the bit.</summary>
    private static void SetAccount(VmArea* vma)
    {
        VmaLock.StartWrite(vma);
        vma->VmFlags |= VmFlags.Account;
    }
}
