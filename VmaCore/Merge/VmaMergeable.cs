namespace VmaEngine.Vma.Merge;

/// <summary>
/// The mergeability rules of Linux v6.15 <c>mm/vma.c</c>: whether the range and attributes proposed in a
/// <see cref="VmaMergeState"/> may join the VMA before or after it.
/// </summary>
/// <remarks>
/// A neighbour joins when it is adjacent, its flags equal the proposed ones apart from VM_SOFTDIRTY, it has the same
/// file with contiguous page offsets, the same policy, userfaultfd context and anonymous name, and its anon_vma is
/// compatible. VM_SPECIAL and the close hook are checked by the merge operations themselves: the first forbids any
/// merge, the second only the removal of the VMA that has it.
/// </remarks>
internal static unsafe class VmaMergeable
{
    /// <summary>
    /// <c>is_mergeable_vma</c>: the next (<paramref name="mergeNext"/>) or previous VMA has the proposed policy,
    /// flags (ignoring VM_SOFTDIRTY), file, userfaultfd context and anonymous name.
    /// </summary>
    public static bool IsMergeableVma(ref VmaMergeState vmg, bool mergeNext)
    {
        VmArea* vma = mergeNext ? vmg.Next : vmg.Prev;
        return MemPolicy.Equal(vmg.Policy, vma->VmPolicy)
            && ((vma->VmFlags ^ vmg.Flags) & ~VmFlags.SoftDirty) == 0
            && vma->VmFile == vmg.File
            && vma->VmUserfaultfdCtx == vmg.UffdCtx
            && AnonVmaName.Equal(vma->AnonVmaName, vmg.AnonName);
    }

    /// <summary>
    /// <c>is_mergeable_anon_vma</c> of v6.15: two anon_vmas are compatible when they are equal, or when one is null
    /// and the neighbour <paramref name="vma"/> (if given) has exactly one chain link, which keeps VMAs inherited
    /// across fork apart. A faulted range next to an unfaulted VMA (empty chain) therefore never merges.
    /// </summary>
    public static bool IsMergeableAnonVma(AnonVma* anonVma1, AnonVma* anonVma2, VmArea* vma)
    {
        if ((anonVma1 == null || anonVma2 == null) && (vma == null || Rmap.HasSingularChain(vma)))
        {
            return true;
        }

        return anonVma1 == anonVma2;
    }

    /// <summary>
    /// <c>is_mergeable_anon_vma</c> after Linux 6.16's commit 879bca0a2c4f ("mm/vma: fix incorrectly disallowed
    /// anonymous VMA merges"): the scalability test applies to the VMA whose anon_vma the merged VMA will use.
    /// <code>
    /// target unfaulted, source faulted : the source's anon_vma is duplicated into the target,
    ///                                    unless the source (or the VMA copied from) was forked
    /// target faulted, source unfaulted : the target's anon_vma is used, unless the target was forked
    /// both faulted                     : they must be the same anon_vma
    /// </code>
    /// The source is <see cref="VmaMergeState.Middle"/> (existing-range merge) and the proposed anon_vma is
    /// <see cref="VmaMergeState.AnonVma"/>.
    /// </summary>
    public static bool IsMergeableAnonVmaFixed(ref VmaMergeState vmg, bool mergeNext)
    {
        VmArea* target = mergeNext ? vmg.Next : vmg.Prev;
        AnonVma* targetAnon = target->AnonVma;
        AnonVma* sourceAnon = vmg.AnonVma;
        if (targetAnon == null && sourceAnon != null)
        {
            return !Rmap.HadUncowedParents(vmg.Middle) && !Rmap.HadUncowedParents(vmg.CopiedFrom);
        }

        if (targetAnon != null && sourceAnon == null)
        {
            return !Rmap.HadUncowedParents(target);
        }

        return sourceAnon == targetAnon;
    }

    /// <summary><c>are_anon_vmas_compatible</c>: both anon_vmas equal, or either null.</summary>
    public static bool AreAnonVmasCompatible(VmArea* vma1, VmArea* vma2) => IsMergeableAnonVma(vma1->AnonVma, vma2->AnonVma, null);

    /// <summary>
    /// <c>can_vma_merge_before</c>: the proposed range may be merged in front of <see cref="VmaMergeState.Next"/>
    /// (which may then be removed): attributes, anon_vma, and <c>next.pgoff == pgoff + pages(range)</c>.
    /// </summary>
    public static bool CanMergeBefore(ref VmaMergeState vmg, bool allowFaultedWithUnfaulted)
    {
        ulong pages = (vmg.End - vmg.Start) >> MmConstants.PageShift;
        return IsMergeableVma(ref vmg, mergeNext: true)
            && AnonCompatible(ref vmg, mergeNext: true, allowFaultedWithUnfaulted)
            && vmg.Next->VmPgoff == vmg.Pgoff + pages;
    }

    /// <summary>
    /// <c>can_vma_merge_after</c>: the proposed range may be merged after <see cref="VmaMergeState.Prev"/> (which is
    /// never removed): attributes, anon_vma, and <c>prev.pgoff + pages(prev) == pgoff</c>.
    /// </summary>
    public static bool CanMergeAfter(ref VmaMergeState vmg, bool allowFaultedWithUnfaulted)
    {
        return IsMergeableVma(ref vmg, mergeNext: false)
            && AnonCompatible(ref vmg, mergeNext: false, allowFaultedWithUnfaulted)
            && vmg.Prev->VmPgoff + vmg.Prev->Pages == vmg.Pgoff;
    }

    /// <summary><c>can_vma_merge_left</c>: there is a previous VMA, it ends where the range starts, and it may take the range.</summary>
    public static bool CanMergeLeft(ref VmaMergeState vmg, bool allowFaultedWithUnfaulted)
    {
        return vmg.Prev != null && vmg.Prev->VmEnd == vmg.Start && CanMergeAfter(ref vmg, allowFaultedWithUnfaulted);
    }

    /// <summary>
    /// <c>can_vma_merge_right</c>: there is a next VMA, it starts where the range ends, and it may take the range;
    /// when the left side merges too, prev's and next's anon_vmas must also be compatible with each other.
    /// </summary>
    public static bool CanMergeRight(ref VmaMergeState vmg, bool canMergeLeft, bool allowFaultedWithUnfaulted)
    {
        if (vmg.Next == null || vmg.End != vmg.Next->VmStart || !CanMergeBefore(ref vmg, allowFaultedWithUnfaulted))
        {
            return false;
        }

        return !canMergeLeft || AreAnonVmasCompatible(vmg.Prev, vmg.Next);
    }

    /// <summary><c>can_merge_remove_vma</c>: a merge may delete only a VMA without a close hook.</summary>
    public static bool CanMergeRemoveVma(VmArea* vma) => vma->VmOps == null || !vma->VmOps->HasClose;

    private static bool AnonCompatible(ref VmaMergeState vmg, bool mergeNext, bool allowFaultedWithUnfaulted)
    {
        if (allowFaultedWithUnfaulted)
        {
            return IsMergeableAnonVmaFixed(ref vmg, mergeNext);
        }

        VmArea* neighbour = mergeNext ? vmg.Next : vmg.Prev;
        return IsMergeableAnonVma(vmg.AnonVma, neighbour->AnonVma, neighbour);
    }
}
