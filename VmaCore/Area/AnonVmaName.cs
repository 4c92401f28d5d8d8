namespace VmaCore;

/// <summary>
/// A name set with PR_SET_VMA_ANON_NAME (<c>struct anon_vma_name</c>): refcounted and shared between VMAs split
/// from one another. The name is an interned identifier resolved by the address space.
/// </summary>
public struct AnonVmaName
{
    /// <summary>References held on the name (<c>kref</c>).</summary>
    public int RefCount;

    /// <summary>The interned name's identifier.</summary>
    public int NameId;
}
