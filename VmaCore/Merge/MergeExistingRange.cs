using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>vma_merge_existing_range</c> (<c>mm/vma.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>vma_merge_existing_range</c>: the attributes of [Start, End) inside <see cref="VmaMergeState.Middle"/> are
    /// about to change to those in <paramref name="vmg"/>; merges that range with the VMA before and/or after it when
    /// they match. Returns the merged VMA (<see cref="VmaMergeState.Target"/>), or null with
    /// <see cref="VmaMergeState.State"/> NoMerge, or ErrorNoMem when an allocation failed (nothing changed then;
    /// with <see cref="VmaMergeState.GiveUpOnOom"/> the state stays NoMerge).
    /// <code>
    /// merge both: the range is all of middle       merge left: a prefix of middle, or all of it
    ///   |&lt;----------------------&gt;|                   |&lt;------------&gt;|       |&lt;----------------&gt;|
    ///   |prev|****middle****|next|                   |prev|*****middle   or  |prev|******middle|
    ///   extend   delete    delete                    extend  shrink/delete
    ///
    /// merge right: a suffix of middle, or all of it
    ///       |&lt;-------------&gt;|    |&lt;------------------&gt;|
    ///   middle*******|next|  or  |middle*******|next|
    ///   shrink/delete  extend
    /// </code>
    /// A range touching neither edge of middle never merges; VM_SPECIAL never merges; a VMA with a close hook is never
    /// deleted: if middle must go the merge is refused, if next must go it is reduced to prev + middle.
    /// Preconditions: mmap_lock held for write; <see cref="VmaMergeState.Prev"/> is the VMA before the range (middle
    /// itself when the range is offset into it); <see cref="VmaMergeState.Next"/> is null; the iterator is inside
    /// middle.
    /// </summary>
    internal VmArea* MergeExistingRange(ref VmaMergeState vmg)
    {
        VmArea* middle = vmg.Middle;
        VmArea* prev = vmg.Prev;
        VmArea* anonDup = null;
        ulong start = vmg.Start;
        ulong end = vmg.End;
        Debug.Assert(MmapLock.IsWriteLockHeld, "vma_merge_existing_range without mmap_lock held for write");
        Debug.Assert(middle != null, "vma_merge_existing_range without a middle VMA");
        Debug.Assert(vmg.Next == null, "vma_merge_existing_range: next is found, not given");
        Debug.Assert(prev == null || start > prev->VmStart, "vma_merge_existing_range: the range starts at or before prev");
        Debug.Assert(start < end, "vma_merge_existing_range of an empty range");
        Debug.Assert((middle == prev || start == middle->VmStart) && end <= middle->VmEnd, "vma_merge_existing_range: the range is not inside middle");
        Debug.Assert(vmg.Vmi.Address >= middle->VmStart && vmg.Vmi.Address < middle->VmEnd, "vma_merge_existing_range: the iterator is not inside middle");

        bool leftSide = start == middle->VmStart;
        bool rightSide = end == middle->VmEnd;
        vmg.State = VmaMergeResult.NoMerge;
        if ((vmg.Flags & VmFlags.Special) != 0 || (!leftSide && !rightSide))
        {
            return null;
        }

        bool fixedRules = Options.AllowMergeOfFaultedWithUnfaulted;
        bool mergeLeft = leftSide && VmaMergeable.CanMergeLeft(ref vmg, fixedRules);
        bool mergeRight = false;
        VmArea* next = null;
        if (rightSide)
        {
            next = vmg.Next = vmg.Vmi.NextRange();
            vmg.Vmi.PrevRange();
            mergeRight = VmaMergeable.CanMergeRight(ref vmg, mergeLeft, fixedRules);
        }

        if (mergeLeft)
        {
            vmg.Vmi.Prev();
        }
        else if (!mergeRight)
        {
            return null;
        }

        vmg.RemoveMiddle = leftSide && rightSide;
        if (vmg.RemoveMiddle && !VmaMergeable.CanMergeRemoveVma(middle))
        {
            return null;
        }

        vmg.RemoveNext = mergeLeft && mergeRight;
        if (vmg.RemoveNext && !VmaMergeable.CanMergeRemoveVma(next))
        {
            // Next cannot go: what is left is prev swallowing middle.
            vmg.RemoveNext = false;
            mergeRight = false;
        }

        VmaLock.StartWrite(middle);
        if (mergeRight)
        {
            VmaLock.StartWrite(next);
            vmg.Target = next;
        }

        if (mergeLeft)
        {
            VmaLock.StartWrite(prev);
            vmg.Target = prev;
        }

        Errno error;
        if (mergeLeft && mergeRight)
        {
            vmg.Start = prev->VmStart;
            vmg.End = next->VmEnd;
            vmg.Pgoff = prev->VmPgoff;

            // Prev and next are compatible, so whichever of next and middle has an anon_vma is the one prev needs.
            error = DupAnonVma(prev, next->AnonVma != null ? next : middle, ref anonDup);
        }
        else if (mergeLeft)
        {
            vmg.Start = prev->VmStart;
            vmg.Pgoff = prev->VmPgoff;
            vmg.AdjustMiddleStart = !vmg.RemoveMiddle;
            error = DupAnonVma(prev, middle, ref anonDup);
        }
        else
        {
            Debug.Assert(start == middle->VmStart || prev == null || middle == prev, "merge right offset into middle without prev == middle");
            if (vmg.RemoveMiddle)
            {
                vmg.End = next->VmEnd;
                vmg.Pgoff = next->VmPgoff - ((end - start) >> MmConstants.PageShift);
            }
            else
            {
                // Middle keeps [its start, start) and next grows down to start.
                vmg.AdjustNextStart = true;
                vmg.Start = middle->VmStart;
                vmg.End = start;
                vmg.Pgoff = middle->VmPgoff;
            }

            error = DupAnonVma(next, middle, ref anonDup);
        }

        if (error != Errno.None)
        {
            vmg.Vmi.Set(start);
            vmg.Vmi.Load();
            return FailNoMem(ref vmg);
        }

        if (CommitMerge(ref vmg) != Errno.None)
        {
            if (anonDup != null)
            {
                Rmap.UnlinkAnonVmas(anonDup);
            }

            return FailNoMem(ref vmg);
        }

        vmg.State = VmaMergeResult.Success;
        return vmg.Target;
    }

    /// <summary>Reports an allocation failure of a merge, unless the caller asked to give up quietly.</summary>
    private static VmArea* FailNoMem(ref VmaMergeState vmg)
    {
        if (!vmg.GiveUpOnOom)
        {
            vmg.State = VmaMergeResult.ErrorNoMem;
        }

        return null;
    }
}
