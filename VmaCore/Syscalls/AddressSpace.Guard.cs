namespace VmaEngine.Vma;

/// <summary>
/// Guard regions (Linux v6.15 <c>mm/madvise.c</c> <c>madvise_guard_install</c>, <c>madvise_guard_remove</c>):
/// per-page markers in the page tables on which every fault fails, modelled by <see cref="GuardPageSet"/>.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>The guard markers of this address space.</summary>
    internal GuardPageSet GuardPages { get; } = new();

    /// <summary>
    /// <c>is_valid_guard_vma</c>: guard markers may go in any VMA but VM_SPECIAL and hugetlb ones, nor (to install
    /// them, which zaps the range) in VM_LOCKED ones.
    /// </summary>
    private static bool IsValidGuardVma(VmArea* vma, bool allowLocked)
    {
        VmFlags disallowed = VmFlags.Special | VmFlags.HugeTlb | (allowLocked ? VmFlags.None : VmFlags.Locked);
        return (vma->VmFlags & disallowed) == 0;
    }

    /// <summary>
    /// <c>madvise_guard_install</c> on [start, end) of one VMA: EINVAL for a VMA that cannot hold markers; the VMA
    /// gets an anon_vma (ENOMEM if it cannot), since its page tables are no longer empty, and with
    /// <see cref="AddressSpaceOptions.MaybeGuardFlag"/> VM_MAYBE_GUARD; the pages' contents go and every page gets a
    /// marker.
    /// </summary>
    private Errno MadviseGuardInstall(VmArea* vma, ulong start, ulong end)
    {
        if (!IsValidGuardVma(vma, allowLocked: false))
        {
            return Errno.EINVAL;
        }

        if (AnonVmaPrepare(vma) != Errno.None)
        {
            return Errno.ENOMEM;
        }

        if (Options.MaybeGuardFlag && (vma->VmFlags & VmFlags.MaybeGuard) == 0)
        {
            Locking.VmaLock.StartWrite(vma);
            vma->VmFlags |= VmFlags.MaybeGuard;
        }

        GuardPages.Add(start, end);
        return Errno.None;
    }

    /// <summary><c>madvise_guard_remove</c> on [start, end) of one VMA: EINVAL for a VMA that cannot hold markers.</summary>
    private Errno MadviseGuardRemove(VmArea* vma, ulong start, ulong end)
    {
        if (!IsValidGuardVma(vma, allowLocked: true))
        {
            return Errno.EINVAL;
        }

        GuardPages.Remove(start, end);
        return Errno.None;
    }
}
