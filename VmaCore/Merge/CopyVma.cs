using System.Diagnostics;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>copy_vma</c> and <c>vma_merge_extend</c> (<c>mm/vma.c</c>): the VMA side of mremap.</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>copy_vma</c>: the VMA for [<paramref name="addr"/>, <paramref name="addr"/> + <paramref name="len"/>) at
    /// <paramref name="pgoff"/> with the attributes of <paramref name="vma"/>, for mremap to move pages into: a
    /// compatible neighbour expanded over the range, else a new linked copy. An anonymous VMA never faulted takes the
    /// page offset of its new address, so that it merges there. If the merge swallowed the source VMA,
    /// <paramref name="vma"/> is updated to the merged VMA. <paramref name="needRmapLocks"/> tells mremap whether the
    /// destination may precede the source in rmap walks. Null on failure (allocation; a destination overlapping a VMA),
    /// with nothing changed.
    /// <code>
    ///   |prev|   [addr, addr+len)   |next|      |vma|  (source, elsewhere)
    ///   -> |prev******|  |next|  or  |prev| |copy| |next|  or  |prev| |*******next|
    /// </code>
    /// </summary>
    internal VmArea* CopyVma(ref VmArea* vma, ulong addr, ulong len, ulong pgoff, out bool needRmapLocks)
    {
        Debug.Assert(MmapLock.IsWriteLockHeld, "copy_vma without mmap_lock held for write");
        VmArea* source = vma;
        ulong sourceStart = source->VmStart;
        bool faultedInAnonVma = true;
        needRmapLocks = false;
        var vmi = new VmaIterator(this, addr);
        var vmg = new VmaMergeState(ref vmi, null, source, addr, addr + len);
        if (source->VmOps == null && source->AnonVma == null)
        {
            pgoff = addr >> MmConstants.PageShift;
            faultedInAnonVma = false;
        }

        VmArea* newVma = FindVmaPrev(addr, out vmg.Prev);
        if (newVma != null && newVma->VmStart < addr + len)
        {
            return null;
        }

        vmg.Middle = null;
        vmg.Pgoff = pgoff;
        vmg.Next = vmi.NextRewind(out _);
        if (Options.AllowMergeOfFaultedWithUnfaulted)
        {
            vmg.CopiedFrom = source;
        }

        newVma = MergeNewRange(ref vmg);
        if (newVma != null)
        {
            if (sourceStart >= newVma->VmStart && sourceStart < newVma->VmEnd)
            {
                // Only an unfaulted source, whose page offset followed its address, can merge with itself.
                Debug.Assert(!faultedInAnonVma, "copy_vma merged a faulted VMA with itself");
                vma = source = newVma;
            }

            needRmapLocks = newVma->VmPgoff <= source->VmPgoff;
            return newVma;
        }

        return CopyVmaNew(source, addr, len, pgoff);
    }

    /// <summary>
    /// <c>vma_merge_extend</c>: grows <paramref name="vma"/> by <paramref name="delta"/> bytes at its end (mremap in
    /// place), merging with the next VMA when the grown range reaches a compatible one. Returns the expanded VMA, or
    /// null (no merge possible, or no memory) with nothing changed. The iterator is at <paramref name="vma"/>'s end.
    /// </summary>
    internal VmArea* VmaMergeExtend(ref VmaIterator vmi, VmArea* vma, ulong delta)
    {
        var vmg = new VmaMergeState(ref vmi, vma, vma, vma->VmEnd, vma->VmEnd + delta);
        vmg.Next = vmi.NextRewind(out _);
        vmg.Middle = null;
        return MergeNewRange(ref vmg);
    }

    /// <summary>The no-merge half of <c>copy_vma</c>: a linked copy of <paramref name="source"/> at the new range.</summary>
    private VmArea* CopyVmaNew(VmArea* source, ulong addr, ulong len, ulong pgoff)
    {
        VmArea* newVma = VmAreaCache.Dup(source, Faults);
        if (newVma == null)
        {
            return null;
        }

        SetRange(newVma, addr, addr + len, pgoff);
        if (MemPolicy.Dup(source->VmPolicy, Faults, out newVma->VmPolicy) != Errno.None)
        {
            VmAreaCache.Free(newVma);
            return null;
        }

        if (Rmap.AnonVmaClone(newVma, source, Faults) != Errno.None)
        {
            MemPolicy.Put(newVma->VmPolicy);
            VmAreaCache.Free(newVma);
            return null;
        }

        FileRef.Get(newVma->VmFile);
        if (VmaLink(newVma) != Errno.None)
        {
            FreeVma(newVma);
            return null;
        }

        return newVma;
    }
}
