using System;
using System.Diagnostics;

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

    /// <summary>
    /// The guard markers a fork child gets (<c>dup_mmap</c>'s <c>copy_page_range</c>, whose PTE marker copy keeps
    /// guard markers): those of every VMA copied with its page tables. VM_DONTCOPY VMAs are not copied and
    /// VM_WIPEONFORK ones are copied without page tables, so their markers stay with the parent; the page tables of
    /// the others are copied when <c>vma_needs_copy</c> says so, which holds for every VMA with markers, since
    /// <see cref="MadviseGuardInstall"/> gives it an anon_vma. Runs with <paramref name="parent"/>'s mmap_lock held
    /// for write.
    /// </summary>
    private void CopyGuardMarkersFrom(AddressSpace parent)
    {
        Debug.Assert(parent.MmapLock.IsWriteLockHeld, "fork's marker copy without the parent's mmap_lock held for write");
        foreach ((ulong start, ulong end) in parent.GuardPages.ToArray())
        {
            ulong address = start;
            VmArea* vma;
            while ((vma = parent.Tree.FindAtOrAfter(address, end, out _, out ulong vmaEnd)) != null)
            {
                if ((vma->VmFlags & (VmFlags.DontCopy | VmFlags.WipeOnFork)) == 0 && VmaNeedsCopy(vma))
                {
                    GuardPages.Add(Math.Max(address, vma->VmStart), Math.Min(end, vmaEnd));
                }

                address = vmaEnd;
            }
        }
    }

    /// <summary>
    /// <c>vma_needs_copy</c>: fork copies the page tables of a VMA with an anon_vma or raw PFN mappings; the others
    /// are filled again by faults (the child drops userfaultfd, so its write-protect case does not arise).
    /// </summary>
    private static bool VmaNeedsCopy(VmArea* vma) =>
        vma->AnonVma != null || (vma->VmFlags & (VmFlags.PfnMap | VmFlags.MixedMap)) != 0;

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
