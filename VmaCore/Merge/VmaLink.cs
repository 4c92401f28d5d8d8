using System.Diagnostics;
using System.Threading;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// Linking VMAs into the mm and dropping them (Linux v6.15 <c>vma_link</c>, <c>remove_vma</c>, <c>vma_set_range</c>,
/// <c>mm/vma.c</c>), and the map count they keep.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary><c>vma_set_range</c>: sets the range and page offset of a write-locked or detached VMA.</summary>
    internal static void SetRange(VmArea* vma, ulong start, ulong end, ulong pgoff)
    {
        Debug.Assert(start < end, "vma_set_range of an empty range");
        vma->VmStart = start;
        vma->VmEnd = end;
        vma->VmPgoff = pgoff;
    }

    /// <summary>
    /// <c>vm_get_page_prot</c>: the page protection of <paramref name="flags"/>, modelled as their access and shared
    /// bits (x86-64's <c>protection_map</c> is indexed by exactly these).
    /// </summary>
    internal static ulong PageProt(VmFlags flags) => (ulong)(flags & (VmFlags.Read | VmFlags.Write | VmFlags.Exec | VmFlags.Shared));

    /// <summary>
    /// <c>vma_link</c>: inserts a detached VMA at its range, which must be free: preallocates (ENOMEM changes nothing),
    /// write-locks, stores and attaches it, and counts it.
    /// </summary>
    internal Errno VmaLink(VmArea* vma)
    {
        Debug.Assert(MmapLock.IsWriteLockHeld, "vma_link without mmap_lock held for write");
        var vmi = new VmaIterator(this, 0);
        vmi.Config(vma->VmStart, vma->VmEnd);
        if (vmi.Prealloc() != Errno.None)
        {
            return Errno.ENOMEM;
        }

        VmaLock.StartWrite(vma);
        vmi.StoreNew(vma);
        AddMapCount(1);
        return Errno.None;
    }

    /// <summary>
    /// Frees a detached VMA with every reference it holds (<c>unlink_anon_vmas</c> of <c>free_pgtables</c>, then
    /// <c>remove_vma</c>: file, policy, then <c>vm_area_free</c>, which drops the name). Its object goes back to the
    /// type-safe-by-RCU cache at once; lockless readers still holding it see it detached, or reused, and retry.
    /// </summary>
    internal static void FreeVma(VmArea* vma)
    {
        Debug.Assert(!VmaLock.IsAttached(vma), "freeing an attached VMA");
        Rmap.UnlinkAnonVmas(vma);
        FileRef.Put(vma->VmFile);
        MemPolicy.Put(vma->VmPolicy);
        VmAreaCache.Free(vma);
    }

    /// <summary>Changes <c>map_count</c> (written under mmap_lock for write, read locklessly by <see cref="MapCount"/>).</summary>
    internal void AddMapCount(int delta) => Volatile.Write(ref _mm->MapCount, _mm->MapCount + delta);
}
