using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>vma_expand</c> (<c>mm/vma.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// <c>vma_expand</c>: grows <see cref="VmaMergeState.Middle"/> to [Start, End) at Pgoff, swallowing
    /// <see cref="VmaMergeState.Next"/> when the new end is next's end.
    /// <code>
    ///   |middle|      |next|         |middle|      |next|
    ///   |&lt;---- End ----&gt;|      or    |&lt;-- End --&gt;|
    ///   -> |middle***********|       -> |middle******||next|
    ///      (next deleted)
    /// </code>
    /// Whether middle may merge with next is the caller's decision. When next goes and only next has an anon_vma,
    /// middle takes it first. Returns ENOMEM when an allocation fails: nothing changed, State is ErrorNoMem (unless
    /// <see cref="VmaMergeState.GiveUpOnOom"/>), except that a failure to take next's anon_vma leaves State alone.
    /// Preconditions: mmap_lock held for write; the new range contains middle's.
    /// </summary>
    internal Errno Expand(ref VmaMergeState vmg)
    {
        VmArea* middle = vmg.Middle;
        VmArea* next = vmg.Next;
        VmArea* anonDup = null;
        bool removeNext = false;
        Debug.Assert(MmapLock.IsWriteLockHeld, "vma_expand without mmap_lock held for write");

        VmaLock.StartWrite(middle);
        if (next != null && middle != next && vmg.End == next->VmEnd)
        {
            removeNext = true;
            Debug.Assert(VmaMergeable.CanMergeRemoveVma(next), "vma_expand would delete a VMA with a close hook");
            VmaLock.StartWrite(next);
            Errno error = DupAnonVma(middle, next, ref anonDup);
            if (error != Errno.None)
            {
                return error;
            }
        }

        if (Options.AllowMergeOfFaultedWithUnfaulted && vmg.CopiedFrom != null)
        {
            // 6.18.y: pages copied by mremap come with the source's anon_vma.
            Errno error = DupAnonVma(middle, vmg.CopiedFrom, ref anonDup);
            if (error != Errno.None)
            {
                return error;
            }
        }

        Debug.Assert(
            next == null || removeNext || next == middle || vmg.End <= next->VmStart,
            "vma_expand would overwrite part of next without removing it");
        Debug.Assert(middle->VmStart >= vmg.Start && middle->VmEnd <= vmg.End, "vma_expand can only expand");

        vmg.Target = middle;
        if (removeNext)
        {
            vmg.RemoveNext = true;
        }

        if (CommitMerge(ref vmg) != Errno.None)
        {
            FailNoMem(ref vmg);
            if (anonDup != null)
            {
                Rmap.UnlinkAnonVmas(anonDup);
            }

            return Errno.ENOMEM;
        }

        return Errno.None;
    }
}
