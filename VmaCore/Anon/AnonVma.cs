namespace VmaEngine.Vma;

/// <summary>
/// The reverse-mapping anchor of private anonymous pages (Linux v6.15 <c>struct anon_vma</c>,
/// <c>include/linux/rmap.h</c>), reduced to what decides merges and reuse: identity, the hierarchy and its counts.
/// Allocated from the <c>anon_vma</c> slab cache (<see cref="AnonVmaCache"/>).
/// </summary>
/// <remarks>
/// After fork an anon_vma hierarchy is shared between address spaces, so the counts and the chain count are written
/// only with the root's lock held (<see cref="RootLock"/>, the kernel's <c>anon_vma_lock_write</c>) and the reference
/// count atomically; see <see cref="AnonVmaRootLock"/>.
/// </remarks>
internal unsafe struct AnonVma
{
    /// <summary>The root of this anon_vma's hierarchy (itself without fork).</summary>
    public AnonVma* Root;

    /// <summary>The anon_vma this one was forked from (<c>parent</c>; itself for a root).</summary>
    public AnonVma* Parent;

    /// <summary>
    /// References held on this anon_vma (<c>refcount</c>, changed atomically): 1 from allocation until its last chain
    /// is unlinked, plus one on a root from each anon_vma forked below it.
    /// </summary>
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

    /// <summary>
    /// The lock of the hierarchy, used in the root only (<c>root->rwsem</c>): 1 while held. Guards every anon_vma's
    /// <see cref="NumChildren"/>, <see cref="NumActiveVmas"/> and <see cref="ChainCount"/> in the hierarchy.
    /// </summary>
    public int RootLock;
}
