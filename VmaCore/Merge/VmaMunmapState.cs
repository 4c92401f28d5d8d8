using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma.Merge;

/// <summary>
/// The state of one unmap (Linux v6.15 <c>struct vma_munmap_struct</c>, "vms", <c>mm/vma.h</c>): the range, the
/// VMAs around it, and what was gathered. The gathered VMAs themselves are kept in the address space's detach list
/// (the kernel's <c>mas_detach</c> tree), indexed 0 to <see cref="VmaCount"/> - 1.
/// </summary>
internal unsafe ref struct VmaMunmapState
{
    /// <summary>The iterator of the operation (<c>vmi</c>).</summary>
    public ref VmaIterator Vmi;

    /// <summary>The first VMA overlapping the range (<c>vma</c>), or null when nothing is mapped there.</summary>
    public VmArea* Vma;

    /// <summary>The VMA before the range, or null (<c>prev</c>).</summary>
    public VmArea* Prev;

    /// <summary>The VMA after the range, or null (<c>next</c>).</summary>
    public VmArea* Next;

    /// <summary>The first byte unmapped (<c>start</c>).</summary>
    public ulong Start;

    /// <summary>The exclusive end of the range (<c>end</c>).</summary>
    public ulong End;

    /// <summary>The number of VMAs gathered (<c>vma_count</c>).</summary>
    public int VmaCount;

    /// <summary>The pages of the gathered VMAs (<c>nr_pages</c>).</summary>
    public ulong NrPages;

    /// <summary>The <c>vm_stat_account</c> classes of the gathered pages (<c>exec_vm</c>, <c>stack_vm</c>, <c>data_vm</c>).</summary>
    public VmStat Stat;

    /// <summary>The pages of gathered VM_LOCKED VMAs (<c>locked_vm</c>).</summary>
    public ulong LockedVm;

    /// <summary>The pages of gathered VM_ACCOUNT VMAs (<c>nr_accounted</c>).</summary>
    public ulong NrAccounted;

    /// <summary>
    /// The page tables of the range still have to be cleared (<c>clear_ptes</c>): until then an aborted operation can
    /// put the gathered VMAs back.
    /// </summary>
    public bool ClearPtes;

    /// <summary><c>init_vma_munmap</c>: the unmap of [<paramref name="start"/>, <paramref name="end"/>) starting at <paramref name="vma"/>.</summary>
    public VmaMunmapState(ref VmaIterator vmi, VmArea* vma, ulong start, ulong end)
    {
        Vmi = ref vmi;
        Vma = vma;
        if (vma != null)
        {
            Start = start;
            End = end;
        }
    }
}
