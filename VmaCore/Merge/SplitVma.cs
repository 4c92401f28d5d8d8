using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>split_vma</c> and <c>__split_vma</c> (<c>mm/vma.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>split_vma</c>: splits <paramref name="vma"/> at <paramref name="addr"/>, refusing with ENOMEM when the mm
    /// already holds <see cref="AddressSpaceOptions.MaxMapCount"/> VMAs. See <see cref="SplitVmaUnchecked"/>.
    /// </summary>
    internal Errno SplitVma(ref VmaIterator vmi, VmArea* vma, ulong addr, bool newBelow)
    {
        if (Mm->MapCount >= Options.MaxMapCount)
        {
            return Errno.ENOMEM;
        }

        return SplitVmaUnchecked(ref vmi, vma, addr, newBelow);
    }

    /// <summary>
    /// <c>__split_vma</c>: splits <paramref name="vma"/> at <paramref name="addr"/> into two VMAs; the new one is the
    /// part below <paramref name="addr"/> when <paramref name="newBelow"/>, else the part above, and
    /// <paramref name="vma"/> keeps the other part. The new VMA shares the file, policy, name and anon_vma (with
    /// its own chain links). The map-count limit is not checked. On success the iterator is on
    /// <paramref name="vma"/>; ENOMEM (a VMA, chain link or tree allocation failed) changes nothing, and so does
    /// EINVAL for a hugetlb VMA split inside a huge page (its <c>may_split</c>, <c>hugetlb_vm_op_split</c>).
    /// <code>
    ///   newBelow:  |vma**********|  ->  |new|vma****|
    ///   otherwise: |vma**********|  ->  |vma|new****|
    ///                   ^ addr               ^ addr
    /// </code>
    /// </summary>
    /// <remarks>
    /// The kernel preallocates the tree before cloning the anon_vma chain and frees the preallocation if the clone
    /// fails; the tree API has no way to free an unused preallocation, so here the tree is preallocated last, after
    /// every other fallible step. The outcome (success, or ENOMEM with nothing changed) is the same.
    /// </remarks>
    internal Errno SplitVmaUnchecked(ref VmaIterator vmi, VmArea* vma, ulong addr, bool newBelow)
    {
        Debug.Assert(MmapLock.IsWriteLockHeld, "__split_vma without mmap_lock held for write");
        Debug.Assert(vma->VmStart < addr && addr < vma->VmEnd, "__split_vma outside the VMA");
        ulong hugePageSize = VmFile.HugePageSizeOf(vma->VmFile);
        if (hugePageSize != 0 && (addr & (hugePageSize - 1)) != 0)
        {
            return Errno.EINVAL;
        }

        VmArea* newVma = VmAreaCache.Dup(vma, Faults);
        if (newVma == null)
        {
            return Errno.ENOMEM;
        }

        if (newBelow)
        {
            newVma->VmEnd = addr;
        }
        else
        {
            newVma->VmStart = addr;
            newVma->VmPgoff += (addr - vma->VmStart) >> MmConstants.PageShift;
        }

        if (MemPolicy.Dup(vma->VmPolicy, Faults, out newVma->VmPolicy) != Errno.None)
        {
            VmAreaCache.Free(newVma);
            return Errno.ENOMEM;
        }

        if (Rmap.AnonVmaClone(newVma, vma, Faults) != Errno.None)
        {
            MemPolicy.Put(newVma->VmPolicy);
            VmAreaCache.Free(newVma);
            return Errno.ENOMEM;
        }

        vmi.Config(newVma->VmStart, newVma->VmEnd);
        if (vmi.Prealloc() != Errno.None)
        {
            Rmap.UnlinkAnonVmas(newVma);
            MemPolicy.Put(newVma->VmPolicy);
            VmAreaCache.Free(newVma);
            return Errno.ENOMEM;
        }

        FileRef.Get(newVma->VmFile);
        VmaLock.StartWrite(vma);
        VmaLock.StartWrite(newVma);
        if (newBelow)
        {
            vma->VmStart = addr;
            vma->VmPgoff += (addr - newVma->VmStart) >> MmConstants.PageShift;
        }
        else
        {
            vma->VmEnd = addr;
        }

        vmi.StoreNew(newVma);
        AddMapCount(1);
        if (newBelow)
        {
            vmi.Next();
        }
        else
        {
            vmi.Prev();
        }

        VmaMetrics.Count(VmaMetrics.Splits);
        return Errno.None;
    }
}
