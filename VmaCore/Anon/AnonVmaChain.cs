using System.Runtime.InteropServices;

namespace VmaEngine.Vma;

/// <summary>
/// A link between a VMA and one anon_vma (Linux v6.15 <c>struct anon_vma_chain</c>): a VMA is on the list of every
/// anon_vma its pages may be reverse-mapped through. Allocated from the <c>anon_vma_chain</c> slab cache.
/// </summary>
/// <remarks>
/// <see cref="SameVma"/> is the first field, so a node of a VMA's <see cref="VmArea.AnonVmaChain"/> list is the
/// address of its chain (<see cref="FromSameVma"/>). The list is ordered newest first.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct AnonVmaChain
{
    /// <summary>The node in the VMA's <see cref="VmArea.AnonVmaChain"/> list (<c>same_vma</c>).</summary>
    public ListHead SameVma;

    /// <summary>The VMA (<c>vma</c>).</summary>
    public VmArea* Vma;

    /// <summary>The anon_vma (<c>anon_vma</c>).</summary>
    public AnonVma* AnonVma;

    /// <summary>The chain whose <see cref="SameVma"/> node is <paramref name="node"/> (<c>list_entry</c>).</summary>
    internal static AnonVmaChain* FromSameVma(ListHead* node) => (AnonVmaChain*)node;
}
