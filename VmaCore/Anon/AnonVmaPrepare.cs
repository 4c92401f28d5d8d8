using System.Diagnostics;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// <c>anon_vma_prepare</c> and <c>find_mergeable_anon_vma</c> (Linux v6.15 <c>mm/rmap.c</c>, <c>mm/vma.c</c>): giving a
/// VMA its anon_vma on the first write fault, reusing a neighbour's when a later mprotect could merge the two.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// The mm's <c>page_table_lock</c>: serialises first faults that give VMAs an anon_vma under mmap_lock for read.
    /// The anon_vma's counts are changed under its hierarchy's lock as well (<see cref="AnonVmaRootLock"/>), since
    /// after fork the hierarchy is shared with another mm.
    /// </summary>
    private readonly object _pageTableLock = new();

    /// <summary>
    /// <c>anon_vma_prepare</c>: makes sure <paramref name="vma"/> has an anon_vma, reusing a compatible neighbour's
    /// (see <see cref="FindMergeableAnonVma"/>) or allocating one. Called with mmap_lock held (read is enough).
    /// Allocation points: the chain link, then the anon_vma; on failure ENOMEM and nothing changed.
    /// </summary>
    internal Errno AnonVmaPrepare(VmArea* vma)
    {
        if (Rmap.ReadAnonVma(vma) != null)
        {
            return Errno.None;
        }

        Debug.Assert(MmapLock.IsHeld, "anon_vma_prepare without mmap_lock");
        AnonVmaChain* avc = AnonVmaCache.AllocChain(Faults);
        if (avc == null)
        {
            return Errno.ENOMEM;
        }

        lock (_pageTableLock)
        {
            if (vma->AnonVma != null)
            {
                // Another fault on this VMA won the race.
                AnonVmaCache.FreeChain(avc);
                return Errno.None;
            }

            AnonVma* anonVma = FindMergeableAnonVma(vma);
            if (anonVma == null)
            {
                anonVma = AnonVmaCache.AllocAnonVma(Faults);
                if (anonVma == null)
                {
                    AnonVmaCache.FreeChain(avc);
                    return Errno.ENOMEM;
                }

                // A new root counts its link to itself as a child.
                anonVma->NumChildren++;
            }

            // A neighbour's anon_vma may be shared with a fork child, whose faults run under another mm's locks.
            AnonVma* root = AnonVmaRootLock.Lock(anonVma);
            Rmap.ChainLink(vma, avc, anonVma);
            anonVma->NumActiveVmas++;
            Rmap.WriteAnonVma(vma, anonVma);
            AnonVmaRootLock.Unlock(root);
        }

        return Errno.None;
    }

    /// <summary>
    /// <c>find_mergeable_anon_vma</c>: the anon_vma of the VMA right after <paramref name="vma"/>, else of the one right
    /// before, if that neighbour is <see cref="AnonVmaCompatible"/> and linked to that anon_vma alone; else null.
    /// </summary>
    internal AnonVma* FindMergeableAnonVma(VmArea* vma)
    {
        var vmi = new VmaIterator(this, vma->VmEnd);
        VmArea* next = vmi.Load();
        if (next != null)
        {
            AnonVma* fromNext = ReusableAnonVma(next, vma, next);
            if (fromNext != null)
            {
                return fromNext;
            }
        }

        VmArea* self = vmi.Prev();
        Debug.Assert(self == vma, "find_mergeable_anon_vma: the VMA is not in the tree where it says");
        VmArea* prev = vmi.Prev();
        return prev != null ? ReusableAnonVma(prev, prev, vma) : null;
    }

    /// <summary>
    /// <c>anon_vma_compatible</c>: <paramref name="a"/> ends where <paramref name="b"/> starts, with the same policy and
    /// file, flags that differ at most in access bits and soft-dirty, and contiguous page offsets.
    /// </summary>
    internal static bool AnonVmaCompatible(VmArea* a, VmArea* b)
    {
        const VmFlags mayDiffer = VmFlags.Read | VmFlags.Write | VmFlags.Exec | VmFlags.SoftDirty;
        return a->VmEnd == b->VmStart
            && MemPolicy.Equal(a->VmPolicy, b->VmPolicy)
            && a->VmFile == b->VmFile
            && ((a->VmFlags ^ b->VmFlags) & ~mayDiffer) == 0
            && b->VmPgoff == a->VmPgoff + ((b->VmStart - a->VmStart) >> MmConstants.PageShift);
    }

    /// <summary><c>reusable_anon_vma</c>: <paramref name="old"/>'s anon_vma if a/b are compatible and old has a single link.</summary>
    private static AnonVma* ReusableAnonVma(VmArea* old, VmArea* a, VmArea* b)
    {
        if (!AnonVmaCompatible(a, b))
        {
            return null;
        }

        AnonVma* anonVma = Rmap.ReadAnonVma(old);
        return anonVma != null && Rmap.HasSingularChain(old) ? anonVma : null;
    }
}
