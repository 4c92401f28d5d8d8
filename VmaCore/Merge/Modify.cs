using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>vma_modify</c> and its <c>vma_modify_*</c> front ends (<c>mm/vma.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>vma_modify_flags</c>: prepares [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="vma"/>
    /// to take <paramref name="newFlags"/>: returns the VMA that now covers exactly that range, either a neighbour it
    /// was merged into (which already has those flags) or <paramref name="vma"/> itself after splitting off the parts
    /// outside the range. The caller then sets the flags. Null with <paramref name="error"/> (ENOMEM) on failure:
    /// a failed merge changes nothing; when the second split fails, the first one stays, as in the kernel.
    /// <paramref name="prev"/> is the VMA before <paramref name="vma"/>, or <paramref name="vma"/> itself when
    /// <paramref name="start"/> lies inside it; the iterator is inside <paramref name="vma"/>.
    /// </summary>
    internal VmArea* ModifyFlags(ref VmaIterator vmi, VmArea* prev, VmArea* vma, ulong start, ulong end, VmFlags newFlags, out Errno error)
    {
        var vmg = new VmaMergeState(ref vmi, prev, vma, start, end) { Flags = newFlags };
        return Modify(ref vmg, out error);
    }

    /// <summary><c>vma_modify_flags_name</c>: as <see cref="ModifyFlags"/>, for new flags and a new anonymous name (madvise, prctl).</summary>
    internal VmArea* ModifyFlagsName(ref VmaIterator vmi, VmArea* prev, VmArea* vma, ulong start, ulong end, VmFlags newFlags, AnonVmaName* newName, out Errno error)
    {
        var vmg = new VmaMergeState(ref vmi, prev, vma, start, end) { Flags = newFlags, AnonName = newName };
        return Modify(ref vmg, out error);
    }

    /// <summary><c>vma_modify_policy</c>: as <see cref="ModifyFlags"/>, for a new NUMA policy (mbind).</summary>
    internal VmArea* ModifyPolicy(ref VmaIterator vmi, VmArea* prev, VmArea* vma, ulong start, ulong end, MemPolicy* newPolicy, out Errno error)
    {
        var vmg = new VmaMergeState(ref vmi, prev, vma, start, end) { Policy = newPolicy };
        return Modify(ref vmg, out error);
    }

    /// <summary>
    /// <c>vma_modify_flags_uffd</c>: as <see cref="ModifyFlags"/>, for new flags and a userfaultfd context. With
    /// <paramref name="giveUpOnOom"/> (userfaultfd release) a merge that cannot allocate falls back to splitting.
    /// </summary>
    internal VmArea* ModifyFlagsUffd(ref VmaIterator vmi, VmArea* prev, VmArea* vma, ulong start, ulong end, VmFlags newFlags, VmUserfaultfdCtx* newCtx, bool giveUpOnOom, out Errno error)
    {
        var vmg = new VmaMergeState(ref vmi, prev, vma, start, end) { Flags = newFlags, UffdCtx = newCtx, GiveUpOnOom = giveUpOnOom };
        return Modify(ref vmg, out error);
    }

    /// <summary>
    /// <c>vma_modify</c>: merges the range with its neighbours when <see cref="MergeExistingRange"/> can; otherwise
    /// splits the middle VMA at the range's start (new VMA below) and end (new VMA above), each split subject to the
    /// map-count limit, and returns the middle VMA, now covering the range. Attributes are never applied here.
    /// <code>
    ///   |prev|middle**********|next|   no merge:  |prev|mid|middle|mid|next|
    ///              &lt;range&gt;                                  ^ returned
    /// </code>
    /// </summary>
    private VmArea* Modify(ref VmaMergeState vmg, out Errno error)
    {
        VmArea* vma = vmg.Middle;
        ulong start = vmg.Start;
        ulong end = vmg.End;
        VmArea* merged = MergeExistingRange(ref vmg);
        if (merged != null)
        {
            error = Errno.None;
            return merged;
        }

        if (vmg.NoMem)
        {
            error = Errno.ENOMEM;
            return null;
        }

        error = Errno.None;
        if (vma->VmStart < start)
        {
            error = SplitVma(ref vmg.Vmi, vma, start, newBelow: true);
        }

        if (error == Errno.None && vma->VmEnd > end)
        {
            error = SplitVma(ref vmg.Vmi, vma, end, newBelow: false);
        }

        return error == Errno.None ? vma : null;
    }
}
