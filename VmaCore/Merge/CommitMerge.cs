using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;

namespace VmaEngine.Vma;

/// <summary>
/// The commit step of every merge (Linux v6.15 <c>commit_merge</c>, <c>vmg_adjust_set_range</c>, the merge side of
/// <c>vma_complete</c> and <c>dup_anon_vma</c>, <c>mm/vma.c</c>).
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>commit_merge</c>: carries out the decisions in <paramref name="vmg"/>. The tree is preallocated first, which
    /// is the only step that can fail (ENOMEM, nothing changed); then the changed VMA gets [Start, End) at Pgoff, the
    /// adjusted neighbour its new start (always <see cref="VmaMergeState.End"/>, page offset corrected), the target is
    /// stored over its range, and the removed VMAs are detached, uncounted and freed.
    /// <code>
    /// AdjustNextStart (middle shrinks, next grows down; middle is rewritten, next is stored):
    ///   |middle******|next|   ->   |middle|next*******|
    ///                                     ^ End
    /// otherwise the target is rewritten and stored; with AdjustMiddleStart middle's start moves up to End:
    ///   |prev|******middle|   ->   |prev*******|middle|
    ///                                          ^ End
    /// </code>
    /// All VMAs it changes must be write-locked by the caller.
    /// </summary>
    internal Errno CommitMerge(ref VmaMergeState vmg)
    {
        VmArea* vma;
        VmArea* adjust;
        if (vmg.AdjustNextStart)
        {
            vma = vmg.Middle;
            adjust = vmg.Next;
            vmg.Vmi.Config(vmg.End, vmg.Next->VmEnd);
        }
        else
        {
            vma = vmg.Target;
            adjust = vmg.AdjustMiddleStart ? vmg.Middle : null;
            vmg.Vmi.Config(vmg.Start, vmg.End);
        }

        Debug.Assert(
            adjust == null || vma->AnonVma == null || adjust->AnonVma == null || vma->AnonVma == adjust->AnonVma,
            "commit_merge: the adjusted VMA has another anon_vma");
        if (vmg.Vmi.Prealloc() != Errno.None)
        {
            return Errno.ENOMEM;
        }

        SetRange(vma, vmg.Start, vmg.End, vmg.Pgoff);
        AdjustSetRange(ref vmg);
        vmg.Vmi.StoreOverwrite(vmg.Target);
        if (vmg.RemoveMiddle)
        {
            RemoveMergedVma(vma, vmg.Middle);
        }

        if (vmg.RemoveNext)
        {
            RemoveMergedVma(vma, vmg.Next);
        }

        VmaMetrics.Count(VmaMetrics.Merges);
        return Errno.None;
    }

    /// <summary>
    /// <c>dup_anon_vma</c>: when <paramref name="dst"/> grows over pages of <paramref name="src"/> and has no anon_vma
    /// but src has one, gives dst src's anon_vma and links (clones src's chains); records dst in
    /// <paramref name="dup"/> so that a later failure can unlink it again. ENOMEM leaves dst as it was.
    /// </summary>
    internal Errno DupAnonVma(VmArea* dst, VmArea* src, ref VmArea* dup)
    {
        if (src->AnonVma == null || dst->AnonVma != null)
        {
            return Errno.None;
        }

        Debug.Assert(VmaLock.IsWriteLocked(dst), "dup_anon_vma into a VMA that is not write-locked");
        dst->AnonVma = src->AnonVma;
        Errno error = Rmap.AnonVmaClone(dst, src, Faults);
        if (error != Errno.None)
        {
            return error;
        }

        dup = dst;
        return Errno.None;
    }

    /// <summary>
    /// <c>vmg_adjust_set_range</c>: moves the start of the middle (<see cref="VmaMergeState.AdjustMiddleStart"/>) or
    /// next (<see cref="VmaMergeState.AdjustNextStart"/>) VMA to <see cref="VmaMergeState.End"/>, keeping its end and
    /// shifting its page offset by the pages it lost or gained.
    /// </summary>
    private static void AdjustSetRange(ref VmaMergeState vmg)
    {
        VmArea* adjust;
        ulong pgoff;
        if (vmg.AdjustMiddleStart)
        {
            adjust = vmg.Middle;
            pgoff = adjust->VmPgoff + ((vmg.End - adjust->VmStart) >> MmConstants.PageShift);
        }
        else if (vmg.AdjustNextStart)
        {
            adjust = vmg.Next;
            pgoff = adjust->VmPgoff - ((adjust->VmStart - vmg.End) >> MmConstants.PageShift);
        }
        else
        {
            return;
        }

        SetRange(adjust, vmg.End, adjust->VmEnd, pgoff);
    }

    /// <summary>
    /// The removal half of <c>vma_complete</c>: a VMA swallowed by <paramref name="survivor"/> (already out of the
    /// tree) is detached, its anon_vma links merged away (<c>anon_vma_merge</c>), uncounted and freed.
    /// </summary>
    private void RemoveMergedVma(VmArea* survivor, VmArea* removed)
    {
        Debug.Assert(
            removed->AnonVma == null || removed->AnonVma == survivor->AnonVma,
            "anon_vma_merge: the removed VMA has another anon_vma than the survivor");
        Debug.Assert(survivor->VmEnd >= removed->VmEnd, "vma_complete: the survivor does not cover the removed VMA");
        VmaLock.MarkDetached(removed);
        AddMapCount(-1);
        FreeVma(removed);
    }
}
