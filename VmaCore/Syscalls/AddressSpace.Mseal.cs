using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// mseal (Linux v6.15 <c>mm/mseal.c</c>: <c>do_mseal</c>, <c>check_mm_seal</c>, <c>apply_mm_seal</c>,
/// <c>mseal_fixup</c>; and <c>can_modify_vma</c> / <c>can_modify_vma_madv</c>, which the other system calls ask):
/// VM_SEALED VMAs refuse munmap, mremap, MAP_FIXED mmap over them, mprotect and the destructive madvise advices
/// on read-only private anonymous memory, with EPERM.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// mseal: seals [address, address + length) (length rounded up to pages), splitting VMAs at the ends and merging
    /// sealed neighbours of equal flags. EINVAL for non-zero <paramref name="flags"/>, an unaligned address or a
    /// wrapping range; ENOMEM, with nothing sealed, when the range is not fully mapped; ENOMEM when a split cannot
    /// allocate (the VMAs before it stay sealed). A zero length does nothing.
    /// </summary>
    /// <exception cref="System.ObjectDisposedException">The address space is disposed.</exception>
    public Errno Mseal(ulong address, ulong length, ulong flags) =>
        VmaMetrics.Syscall("mseal", MsealUncounted(address, length, flags));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MsealUncounted(ulong address, ulong length, ulong flags)
    {
        ThrowIfDisposed();
        if (flags != 0)
        {
            return Errno.EINVAL;
        }

        Errno error = MadviseRange(address, length, out ulong end);
        if (error != Errno.None || end == address)
        {
            return error;
        }

        MmapLock.WriteLock();
        try
        {
            VmArea* first = FirstOfFullyMapped(address, end);
            return first == null ? Errno.ENOMEM : FixupRange(first, address, end, &SealOne, VmFlags.Sealed);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }
    }

    /// <summary><c>can_modify_vma</c>: whether the VMA is not sealed.</summary>
    internal static bool CanModifyVma(VmArea* vma) => (vma->VmFlags & VmFlags.Sealed) == 0;

    /// <summary>
    /// <c>can_modify_vma_madv</c>: a sealed VMA of read-only private anonymous memory refuses the advices that
    /// discard its contents (<c>is_madv_discard</c>: free, dontneed, dontneed_locked, remove, dontfork, wipeonfork,
    /// guard_install), since they would work as writes to it.
    /// </summary>
    private static bool CanModifyVmaMadvise(VmArea* vma, Advice advice)
    {
        bool discards = advice is Advice.Free or Advice.DontNeed or Advice.DontNeedLocked or Advice.Remove
            or Advice.DontFork or Advice.WipeOnFork or Advice.GuardInstall;
        if (!discards || CanModifyVma(vma))
        {
            return true;
        }

        bool readOnlyAnonymous = vma->VmFile == null && (vma->VmFlags & (VmFlags.Shared | VmFlags.Write)) == 0;
        return !readOnlyAnonymous;
    }

    /// <summary>
    /// <c>check_mm_seal</c>: the VMA containing <paramref name="start"/> when VMAs cover [start, end) without a hole,
    /// else null. The apply walk starts from it; lookups start from the leaf of the last store, usually right there.
    /// </summary>
    private VmArea* FirstOfFullyMapped(ulong start, ulong end)
    {
        LeafHint hint = Tree.StoreHint;
        VmArea* first = null;
        ulong reached = start;
        while (reached < end)
        {
            VmArea* vma = Tree.FindAtOrAfter(reached, end, ref hint, out _, out _);
            if (vma == null || vma->VmStart > reached)
            {
                return null;
            }

            first = first == null ? vma : first;
            reached = vma->VmEnd;
        }

        return first;
    }

    /// <summary>One step of <c>apply_mm_seal</c>: <c>mseal_fixup</c>, the VMA's flags with VM_SEALED added.</summary>
    private static Errno SealOne(AddressSpace mm, VmArea* vma, ref VmArea* prev, ulong start, ulong end, VmFlags sealBit)
    {
        VmFlags newFlags = vma->VmFlags | sealBit;
        if (newFlags == vma->VmFlags)
        {
            prev = vma;
            return Errno.None;
        }

        VmArea* target = mm.ApplyFlags(vma, prev, start, end, newFlags, vma->AnonVmaName, out Errno error);
        if (target == null)
        {
            prev = vma;
            return error;
        }

        prev = target;
        return Errno.None;
    }
}
