using System.Diagnostics;

namespace VmaEngine.Vma;

/// <summary>
/// <c>get_unmapped_area</c> of Linux v6.15 on x86-64 (<c>mm/mmap.c</c> <c>__get_unmapped_area</c>,
/// <c>arch/x86/kernel/sys_x86_64.c</c> <c>arch_get_unmapped_area_topdown</c>, <c>mm/vma.c</c>
/// <c>unmapped_area_topdown</c>/<c>unmapped_area</c>, <c>mm/huge_memory.c</c> <c>__thp_get_unmapped_area</c>):
/// choosing where a mapping goes. Called with mmap_lock held.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>PMD_SIZE: the size of a transparent huge page.</summary>
    private const ulong PmdSize = 2UL << 20;

    /// <summary>MAX_ERRNO: return values from -4095 to -1 are error codes.</summary>
    private const ulong MaxErrno = 4095;

    /// <summary>
    /// <c>__get_unmapped_area</c>: the address for a mapping of <paramref name="length"/> bytes. MAP_FIXED takes
    /// <paramref name="address"/> as it is; otherwise a free hint is honoured, else the highest free range below
    /// <see cref="AddressSpaceOptions.MmapBase"/> is taken (THP-aligned for large private anonymous mappings),
    /// falling back to a bottom-up search; MAP_32BIT searches bottom-up below 2 GiB. Errors: ENOMEM (too long or no
    /// room), EINVAL (unaligned fixed address), EPERM (below <c>mmap_min_addr</c>), and for a fixed address from
    /// 2^64-4095 up the errno it spells (the kernel's <c>IS_ERR_VALUE</c> takes it for one). For a hugetlbfs file
    /// (<paramref name="hugePageSize"/> not 0, <c>hugetlb_get_unmapped_area</c>) a fixed address must be huge-page
    /// aligned (EINVAL), a hint is rounded up to a huge page, and the searches return huge-page-aligned ranges
    /// (the x86 <c>info.align_mask</c> of hugetlb files).
    /// </summary>
    internal Errno GetUnmappedArea(bool anonymousPrivate, ulong hugePageSize, ulong address, ulong length, MapFlags flags, out ulong result)
    {
        Debug.Assert(MmapLock.IsHeld, "get_unmapped_area without mmap_lock");
        result = 0;
        ulong taskSize = Options.TaskSize;
        ulong alignMask = hugePageSize == 0 ? 0 : hugePageSize - MmConstants.PageSize;
        if (hugePageSize != 0)
        {
            if ((length & (hugePageSize - 1)) != 0 || ((flags & MapFlags.Fixed) != 0 && (address & (hugePageSize - 1)) != 0))
            {
                return Errno.EINVAL;
            }

            address = RoundUpToHugePage(address, hugePageSize);
        }

        if (length > taskSize)
        {
            return Errno.ENOMEM;
        }

        ulong found;
        if ((flags & MapFlags.Fixed) != 0)
        {
            found = address;
        }
        else if ((flags & MapFlags.ThirtyTwoBit) != 0)
        {
            if (!ThirtyTwoBitUnmappedArea(address, length, alignMask, out found))
            {
                return Errno.ENOMEM;
            }
        }
        else if (anonymousPrivate && address == 0 && length % PmdSize == 0)
        {
            if (!ThpUnmappedArea(length, out found) && !TopDownUnmappedArea(0, length, 0, out found))
            {
                return Errno.ENOMEM;
            }
        }
        else if (!TopDownUnmappedArea(address, length, alignMask, out found))
        {
            return Errno.ENOMEM;
        }

        // IS_ERR_VALUE: a MAP_FIXED address in the last 4095 values of the address space reads as an error code.
        if (found > ulong.MaxValue - MaxErrno)
        {
            return (Errno)(int)(0 - found);
        }

        if (found > taskSize - length)
        {
            return Errno.ENOMEM;
        }

        if ((found & ~MmConstants.PageMask) != 0)
        {
            return Errno.EINVAL;
        }

        // security_mmap_addr: cap_mmap_addr refuses addresses below mmap_min_addr (a task without CAP_SYS_RAWIO).
        if (found < Options.MmapMinAddr)
        {
            return Errno.EPERM;
        }

        result = found;
        return Errno.None;
    }

    /// <summary>
    /// <c>vm_start_gap</c>: where a VMA's claim on the address space starts, including the stack guard gap below
    /// a growsdown VMA (clamped at 0).
    /// </summary>
    internal ulong VmStartGap(VmArea* vma)
    {
        ulong start = vma->VmStart;
        if ((vma->VmFlags & VmFlags.GrowsDown) != 0)
        {
            ulong gapStart = start - Options.StackGuardGap;
            return gapStart > start ? 0 : gapStart;
        }

        return start;
    }

    /// <summary>
    /// <c>__thp_get_unmapped_area</c> for anonymous memory (offset 0): searches for <paramref name="length"/> plus one
    /// PMD and places the mapping PMD-aligned inside it, at the top when the padded range is already aligned.
    /// </summary>
    private bool ThpUnmappedArea(ulong length, out ulong result)
    {
        ulong padded = length + PmdSize;
        if (padded < length || !TopDownUnmappedArea(0, padded, 0, out ulong found))
        {
            result = 0;
            return false;
        }

        ulong misalignment = (0 - found) & (PmdSize - 1);
        result = misalignment == 0 ? found + PmdSize : found + misalignment;
        return true;
    }

    /// <summary><c>ALIGN(addr, huge_page_size)</c> of a hint: 0 (no hint) when it overflows.</summary>
    private static ulong RoundUpToHugePage(ulong address, ulong hugePageSize) =>
        (address + (hugePageSize - 1)) & ~(hugePageSize - 1);

    /// <summary>
    /// <c>arch_get_unmapped_area_topdown</c> without MAP_FIXED: the page-aligned hint if the range there is free up
    /// to the next VMA's start gap, else the highest free range below mmap_base whose start is aligned to
    /// <paramref name="alignMask"/> + 1 pages, else bottom-up from TASK_UNMAPPED_BASE.
    /// </summary>
    private bool TopDownUnmappedArea(ulong hint, ulong length, ulong alignMask, out ulong result)
    {
        ulong taskSize = Options.TaskSize;
        if (hint != 0)
        {
            hint &= MmConstants.PageMask;

            // mmap_address_hint_valid (the 47-bit window is the whole of TASK_SIZE in this model).
            if (taskSize - length >= hint)
            {
                VmArea* vma = Tree.FindAtOrAfter(hint, ulong.MaxValue, out _, out _);
                if (vma == null || hint + length <= VmStartGap(vma))
                {
                    result = hint;
                    return true;
                }
            }
        }

        ulong low = MmConstants.PageSize < Options.MmapMinAddr ? Options.MmapMinAddr : MmConstants.PageSize;
        if (UnmappedAreaTopDown(low, Options.MmapBase, length, alignMask, out result))
        {
            return true;
        }

        // A top-down search can fail where a bottom-up one succeeds (arch_get_unmapped_area).
        ulong legacyBase = PageAlign(taskSize / 3);
        return UnmappedAreaBottomUp(legacyBase, taskSize, length, alignMask, out result);
    }

    /// <summary>
    /// MAP_32BIT on x86-64 (<c>arch_get_unmapped_area</c> with <c>find_start_end</c>): bottom-up in
    /// [1 GiB, 2 GiB), after a free hint below 2 GiB. The kernel randomizes the start within 32 MiB under ASLR; the
    /// model starts at 1 GiB, as without <c>PF_RANDOMIZE</c>.
    /// </summary>
    private bool ThirtyTwoBitUnmappedArea(ulong hint, ulong length, ulong alignMask, out ulong result)
    {
        const ulong begin = 0x4000_0000;
        const ulong end = 0x8000_0000;
        result = 0;
        if (length > end)
        {
            return false;
        }

        if (hint != 0)
        {
            hint = PageAlign(hint);
            VmArea* vma = Tree.FindAtOrAfter(hint, ulong.MaxValue, out _, out _);
            if (end - length >= hint && (vma == null || hint + length <= VmStartGap(vma)))
            {
                result = hint;
                return true;
            }
        }

        return UnmappedAreaBottomUp(begin, end, length, alignMask, out result);
    }

    /// <summary>
    /// <c>unmapped_area_topdown</c>: the highest gap of <paramref name="length"/> bytes in [low, high) that does not
    /// intrude on the guard gap below a growsdown VMA above it. With an <paramref name="alignMask"/> the search asks
    /// for that much more room and returns the highest aligned start in it.
    /// </summary>
    private bool UnmappedAreaTopDown(ulong low, ulong high, ulong length, ulong alignMask, out ulong result) =>
        UnmappedAreaSearch(low, high, length, alignMask, topDown: true, out result);

    /// <summary><c>unmapped_area</c>: the lowest such gap in [low, high), its start rounded up to the alignment.</summary>
    private bool UnmappedAreaBottomUp(ulong low, ulong high, ulong length, ulong alignMask, out ulong result) =>
        UnmappedAreaSearch(low, high, length, alignMask, topDown: false, out result);

    /// <summary>
    /// The search both directions share: find a gap of the padded length, move past a growsdown VMA whose guard gap
    /// it would intrude on (below its gap top-down, above the VMA bottom-up), and align the start inside the gap.
    /// </summary>
    private bool UnmappedAreaSearch(ulong low, ulong high, ulong length, ulong alignMask, bool topDown, out ulong result)
    {
        result = 0;
        ulong size = length + alignMask;
        if (size < length)
        {
            return false;
        }

        ulong gap = 0;
        while (high > low && (topDown ? Tree.FindEmptyAreaRev(low, high, size, out gap) : Tree.FindEmptyArea(low, high, size, out gap)))
        {
            VmArea* stack = StackGapIntruding(gap + size);
            if (stack == null)
            {
                result = topDown ? (gap + size - length) & ~alignMask : gap + ((0 - gap) & alignMask);
                return true;
            }

            if (topDown)
            {
                high = VmStartGap(stack);
            }
            else
            {
                low = stack->VmEnd;
            }
        }

        return false;
    }

    /// <summary>
    /// The growsdown VMA at or after <paramref name="gapEnd"/> whose stack guard gap starts below it (so a range
    /// ending there would intrude on the gap), or null.
    /// </summary>
    private VmArea* StackGapIntruding(ulong gapEnd)
    {
        VmArea* next = Tree.FindAtOrAfter(gapEnd, ulong.MaxValue, out _, out _);
        return next != null && (next->VmFlags & VmFlags.GrowsDown) != 0 && VmStartGap(next) < gapEnd ? next : null;
    }
}
