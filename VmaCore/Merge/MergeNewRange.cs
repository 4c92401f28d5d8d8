using System.Diagnostics;
using VmaEngine.Vma.Merge;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>vma_merge_new_range</c> (<c>mm/vma.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>vma_merge_new_range</c>: a new range [Start, End) with the attributes in <paramref name="vmg"/> is about to
    /// be mapped; expands an adjacent VMA with the same attributes over it instead, when there is one.
    /// <code>
    /// 1. a compatible VMA on one side: expand it over the range
    ///      proposed:       |-----|     or   |-----|
    ///      existing:  |----|                      |----|
    /// 2. compatible VMAs on both sides: expand prev over the range and next, delete next
    ///      proposed:       |-----|
    ///      existing:  |----|     |----|
    ///    (if next has a close hook it is kept and only prev is expanded)
    /// 3. nothing adjacent or compatible: no merge (null, NoMerge)
    /// </code>
    /// Returns the expanded VMA (also <see cref="VmaMergeState.Middle"/>), with Start/End/Pgoff describing its new
    /// range; or null with State NoMerge, or ErrorNoMem when the expansion could not allocate (nothing changed).
    /// With <see cref="VmaMergeState.JustExpand"/> only prev is considered and the iterator must already be on prev.
    /// Preconditions: mmap_lock held for write; the range is free apart from VMAs the caller will unmap;
    /// <see cref="VmaMergeState.Prev"/> and <see cref="VmaMergeState.Next"/> are the VMAs around it (or null);
    /// <see cref="VmaMergeState.Middle"/> is null; the iterator is at or before the gap.
    /// </summary>
    internal VmArea* MergeNewRange(ref VmaMergeState vmg)
    {
        VmArea* prev = vmg.Prev;
        VmArea* next = vmg.Next;
        ulong end = vmg.End;
        Debug.Assert(MmapLock.IsWriteLockHeld, "vma_merge_new_range without mmap_lock held for write");
        Debug.Assert(vmg.Middle == null, "vma_merge_new_range with a middle VMA");
        Debug.Assert(vmg.Vmi.Address <= end, "vma_merge_new_range: the iterator is past the gap");

        vmg.State = VmaMergeResult.NoMerge;
        if ((vmg.Flags & VmFlags.Special) != 0 || (prev == null && next == null))
        {
            return null;
        }

        bool fixedRules = Options.AllowMergeOfFaultedWithUnfaulted;
        bool canMergeLeft = VmaMergeable.CanMergeLeft(ref vmg, fixedRules);
        bool canMergeRight = !vmg.JustExpand && VmaMergeable.CanMergeRight(ref vmg, canMergeLeft, fixedRules);
        if (canMergeRight)
        {
            vmg.End = next->VmEnd;
            vmg.Middle = next;
        }

        if (canMergeLeft)
        {
            vmg.Start = prev->VmStart;
            vmg.Middle = prev;
            vmg.Pgoff = prev->VmPgoff;

            // Next would be deleted, which its close hook forbids: only expand prev.
            if (canMergeRight && !VmaMergeable.CanMergeRemoveVma(next))
            {
                vmg.End = end;
            }

            if (!vmg.JustExpand)
            {
                vmg.Vmi.Prev();
            }
        }

        if (vmg.Middle != null && Expand(ref vmg) == Errno.None)
        {
            vmg.State = VmaMergeResult.Success;
            return vmg.Middle;
        }

        return null;
    }
}
