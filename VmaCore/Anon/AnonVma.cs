namespace VmaCore;

/// <summary>
/// The reverse-mapping anchor of private anonymous pages (<c>struct anon_vma</c>), reduced to what decides
/// merges: identity, the root, and the counts the kernel uses to decide reuse.
/// </summary>
public unsafe struct AnonVma
{
    /// <summary>The root of this anon_vma's hierarchy.</summary>
    public AnonVma* Root;

    /// <summary>References held on this anon_vma (<c>refcount</c>).</summary>
    public int RefCount;

    /// <summary>Child anon_vmas plus one for itself (<c>num_children</c>).</summary>
    public int NumChildren;

    /// <summary>VMAs whose <see cref="VmArea.AnonVma"/> points here (<c>num_active_vmas</c>).</summary>
    public int NumActiveVmas;
}
