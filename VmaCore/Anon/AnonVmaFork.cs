using System.Diagnostics;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary><c>anon_vma_fork</c> (Linux v6.15 <c>mm/rmap.c</c>): the anon_vmas of a VMA copied into a fork child.</summary>
internal static unsafe partial class Rmap
{
    /// <summary>
    /// <c>anon_vma_fork</c>: links the child's copy <paramref name="vma"/> to every anon_vma of the parent's
    /// <paramref name="parentVma"/> (<see cref="AnonVmaClone"/>, which may reuse one no VMA uses any more), and
    /// otherwise gives it a new anon_vma of its own below the parent's: same root (which it pins with a reference),
    /// the parent's anon_vma as parent, which counts one more child. Nothing to do when the parent VMA has no
    /// anon_vma. Allocation points: the clone's chain links, the anon_vma, its chain link; on failure ENOMEM with
    /// <paramref name="vma"/> linked to nothing and every count as before.
    /// </summary>
    public static Errno AnonVmaFork(VmArea* vma, VmArea* parentVma, FaultInjection faults)
    {
        Debug.Assert(ListHead.IsEmpty(&vma->AnonVmaChain), "anon_vma_fork of a VMA that is already linked");
        AnonVma* parent = parentVma->AnonVma;
        if (parent == null)
        {
            return Errno.None;
        }

        // The copy carries the parent's pointer: drop it, to be reused from the chain or replaced.
        vma->AnonVma = null;
        if (AnonVmaClone(vma, parentVma, faults) != Errno.None)
        {
            return Errno.ENOMEM;
        }

        if (vma->AnonVma != null)
        {
            return Errno.None;
        }

        AnonVma* anonVma = AnonVmaCache.AllocAnonVma(faults);
        if (anonVma == null)
        {
            UnlinkAnonVmas(vma);
            return Errno.ENOMEM;
        }

        anonVma->NumActiveVmas++;
        AnonVmaChain* avc = AnonVmaCache.AllocChain(faults);
        if (avc == null)
        {
            PutAnonVma(anonVma);
            UnlinkAnonVmas(vma);
            return Errno.ENOMEM;
        }

        anonVma->Root = parent->Root;
        anonVma->Parent = parent;

        // The root, where the lock lives, must outlive every anon_vma below it (get_anon_vma).
        Interlocked.Increment(ref anonVma->Root->RefCount);
        AnonVma* root = AnonVmaRootLock.Lock(anonVma);
        WriteAnonVma(vma, anonVma);
        ChainLink(vma, avc, anonVma);
        parent->NumChildren++;
        AnonVmaRootLock.Unlock(root);
        return Errno.None;
    }
}
