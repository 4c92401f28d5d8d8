using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma.Merge;

/// <summary>
/// The state of one merge operation (Linux v6.15 <c>struct vma_merge_struct</c>, "vmg", <c>mm/vma.h</c>): the
/// neighbours, the proposed range and attributes, and the decisions the merge code takes on the way.
/// </summary>
/// <remarks>
/// The caller fills <see cref="Prev"/>, <see cref="Middle"/>/<see cref="Next"/> (as each operation documents), the
/// range and the attributes; the merge code rewrites <see cref="Start"/>, <see cref="End"/> and <see cref="Pgoff"/>
/// to the final range of the VMA it changes, sets <see cref="Target"/> and <see cref="State"/>, and records what
/// <c>CommitMerge</c> must do in the four decision flags. <see cref="Middle"/> never changes during an existing-range
/// merge; a new-range merge sets it to the VMA it expands.
/// </remarks>
internal unsafe ref struct VmaMergeState
{
    /// <summary>The iterator the merge uses and repositions (<c>vmi</c>).</summary>
    public ref VmaIterator Vmi;

    /// <summary>The VMA immediately before the range, or null; equal to <see cref="Middle"/> when the range is offset into it.</summary>
    public VmArea* Prev;

    /// <summary>The VMA being modified (existing-range merge, expand), or null for a new range until the code picks one.</summary>
    public VmArea* Middle;

    /// <summary>The VMA after the range; given by the caller of a new-range merge, found by an existing-range merge.</summary>
    public VmArea* Next;

    /// <summary>Output: the VMA that spans the merged range.</summary>
    public VmArea* Target;

    /// <summary>The first byte of the range; rewritten to the final range of the VMA being changed.</summary>
    public ulong Start;

    /// <summary>The exclusive end of the range; rewritten likewise.</summary>
    public ulong End;

    /// <summary>The page offset of <see cref="Start"/>; rewritten likewise.</summary>
    public ulong Pgoff;

    /// <summary>The proposed <c>vm_flags</c> (<c>flags</c>).</summary>
    public VmFlags Flags;

    /// <summary>The proposed file (<c>file</c>).</summary>
    public VmFile* File;

    /// <summary>The proposed anon_vma (<c>anon_vma</c>).</summary>
    public AnonVma* AnonVma;

    /// <summary>The proposed NUMA policy (<c>policy</c>).</summary>
    public MemPolicy* Policy;

    /// <summary>The proposed userfaultfd context (<c>uffd_ctx</c>).</summary>
    public VmUserfaultfdCtx* UffdCtx;

    /// <summary>The proposed anonymous name (<c>anon_name</c>).</summary>
    public AnonVmaName* AnonName;

    /// <summary>
    /// The VMA an mremap move copies from (<c>copied_from</c>, Linux 6.19 and 6.18.y stable). Used only with
    /// <see cref="AddressSpaceOptions.AllowMergeOfFaultedWithUnfaulted"/>, where a merge of a copied faulted range
    /// into an unfaulted VMA must give that VMA the source's anon_vma.
    /// </summary>
    public VmArea* CopiedFrom;

    /// <summary>The outcome (<c>state</c>).</summary>
    public VmaMergeResult State;

    /// <summary>New-range merge only: expand <see cref="Prev"/>, never look at the next VMA (<c>just_expand</c>, brk).</summary>
    public bool JustExpand;

    /// <summary>On allocation failure, report <see cref="VmaMergeResult.NoMerge"/> rather than an error (<c>give_up_on_oom</c>).</summary>
    public bool GiveUpOnOom;

    /// <summary>Decision: <see cref="Middle"/>'s start moves up to <see cref="End"/> (<c>__adjust_middle_start</c>).</summary>
    public bool AdjustMiddleStart;

    /// <summary>Decision: <see cref="Next"/>'s start moves down to <see cref="End"/> (<c>__adjust_next_start</c>).</summary>
    public bool AdjustNextStart;

    /// <summary>Decision: <see cref="Middle"/> is removed (<c>__remove_middle</c>).</summary>
    public bool RemoveMiddle;

    /// <summary>Decision: <see cref="Next"/> is removed (<c>__remove_next</c>).</summary>
    public bool RemoveNext;

    /// <summary><c>VMG_STATE</c>: a merge of [<paramref name="start"/>, <paramref name="end"/>) with <paramref name="flags"/> at <paramref name="pgoff"/>.</summary>
    public VmaMergeState(ref VmaIterator vmi, ulong start, ulong end, VmFlags flags, ulong pgoff)
    {
        Vmi = ref vmi;
        Start = start;
        End = end;
        Flags = flags;
        Pgoff = pgoff;
    }

    /// <summary>
    /// <c>VMG_VMA_STATE</c>: a change of [<paramref name="start"/>, <paramref name="end"/>) inside
    /// <paramref name="vma"/>, proposing <paramref name="vma"/>'s own attributes (the caller then changes some).
    /// </summary>
    public VmaMergeState(ref VmaIterator vmi, VmArea* prev, VmArea* vma, ulong start, ulong end)
    {
        Vmi = ref vmi;
        Prev = prev;
        Middle = vma;
        Start = start;
        End = end;
        Flags = vma->VmFlags;
        File = vma->VmFile;
        AnonVma = vma->AnonVma;
        Policy = vma->VmPolicy;
        UffdCtx = vma->VmUserfaultfdCtx;
        AnonName = vma->AnonVmaName;
        Pgoff = vma->VmPgoff + ((start - vma->VmStart) >> MmConstants.PageShift);
    }

    /// <summary>Whether the merge failed for lack of memory (<c>vmg_nomem</c>).</summary>
    public readonly bool NoMem => State == VmaMergeResult.ErrorNoMem;

    /// <summary>
    /// Sets a new range and clears the neighbours and decisions, keeping the attributes and the state (the kernel
    /// test suite's <c>vmg_set_range</c>, used to reuse one state for several attempts).
    /// </summary>
    public void SetRange(ulong start, ulong end, ulong pgoff, VmFlags flags)
    {
        Vmi.Set(start);
        Prev = Middle = Next = Target = null;
        Start = start;
        End = end;
        Pgoff = pgoff;
        Flags = flags;
        JustExpand = AdjustMiddleStart = AdjustNextStart = RemoveMiddle = RemoveNext = false;
    }
}
