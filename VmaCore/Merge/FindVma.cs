using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>VMA lookups (Linux v6.15 <c>find_vma</c>, <c>find_vma_prev</c>, <c>vma_lookup</c>, <c>find_vma_intersection</c>).</summary>
/// <remarks>Callers hold mmap_lock (read or write), which keeps the VMAs found from being freed.</remarks>
public sealed unsafe partial class AddressSpace
{
    /// <summary><c>find_vma</c>: the first VMA that ends above <paramref name="addr"/>, or null.</summary>
    internal VmArea* FindVma(ulong addr) => Tree.FindAtOrAfter(addr, VmaIterator.Top, out _, out _);

    /// <summary>
    /// <c>find_vma_prev</c>: as <see cref="FindVma"/>, with <paramref name="prev"/> the VMA before the range containing
    /// <paramref name="addr"/> (before the VMA containing it, if one does).
    /// </summary>
    internal VmArea* FindVmaPrev(ulong addr, out VmArea* prev)
    {
        var vmi = new VmaIterator(this, addr);
        VmArea* vma = vmi.Load();
        prev = vmi.Prev();
        return vma != null ? vma : vmi.Next();
    }

    /// <summary><c>vma_lookup</c>: the VMA containing <paramref name="addr"/>, or null.</summary>
    internal VmArea* VmaLookup(ulong addr) => Tree.Load(addr);

    /// <summary><c>find_vma_intersection</c>: the first VMA overlapping [<paramref name="start"/>, <paramref name="end"/>), or null.</summary>
    internal VmArea* FindVmaIntersection(ulong start, ulong end) => Tree.FindAtOrAfter(start, end, out _, out _);
}
