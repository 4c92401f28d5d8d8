namespace VmaEngine.Vma;

/// <summary>
/// The reverse-mapping anchor of private anonymous pages (Linux v6.15 <c>struct anon_vma</c>,
/// <c>include/linux/rmap.h</c>), reduced to what decides merges and reuse: identity, the hierarchy and its counts.
/// Allocated from the <c>anon_vma</c> slab cache (<see cref="AnonVmaCache"/>).
/// </summary>
/// <remarks>
/// Every field is written with the mm's page-table lock held (standing in for the root's rwsem: without fork an
/// anon_vma is never shared between address spaces), by <c>AnonVmaPrepare</c> under mmap_lock for read, or by the
/// merge engine under mmap_lock for write.
/// </remarks>
public unsafe struct AnonVma
{
    /// <summary>The root of this anon_vma's hierarchy (itself without fork).</summary>
    public AnonVma* Root;

    /// <summary>The anon_vma this one was forked from (<c>parent</c>; itself for a root).</summary>
    public AnonVma* Parent;

    /// <summary>References held on this anon_vma (<c>refcount</c>): 1 from allocation until its last chain is unlinked.</summary>
    public int RefCount;

    /// <summary>Child anon_vmas plus one for a root's link to itself (<c>num_children</c>).</summary>
    public int NumChildren;

    /// <summary>VMAs whose <see cref="VmArea.AnonVma"/> points here (<c>num_active_vmas</c>).</summary>
    public int NumActiveVmas;

    /// <summary>
    /// The anon_vma_chain links in this anon_vma's interval tree (<c>rb_root</c>, kept as a count: the engine never
    /// walks the tree, only tests whether it became empty).
    /// </summary>
    public int ChainCount;
}
