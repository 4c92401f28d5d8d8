using System;
using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>fork's copy of the address space (Linux v6.15 <c>dup_mm</c> and <c>dup_mmap</c>, <c>kernel/fork.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary><c>VM_INIT_DEF_MASK</c> on x86-64: the only <c>def_flags</c> a fork child inherits.</summary>
    private const VmFlags InitDefMask = VmFlags.NoHugePage;

    /// <summary>The userfaultfd bits a child loses with the context (<c>__VM_UFFD_FLAGS</c> as the engine models them).</summary>
    private const VmFlags UserfaultfdFlags = VmFlags.UffdMissing | VmFlags.UffdWp;

    /// <summary>
    /// <c>fork()</c>'s <c>dup_mm</c>: a new address space with the same options and a copy of every VMA except
    /// VM_DONTCOPY ones. The copies share files, shared anonymous objects, policies and anonymous names with the
    /// parent (one more reference each); VM_LOCKED and VM_LOCKONFAULT are cleared, the userfaultfd context and its
    /// flags dropped; a VMA with an anon_vma is linked to the parent's hierarchy and gets a new anon_vma of its own
    /// below it (<c>anon_vma_fork</c>), unless it is VM_WIPEONFORK, which starts with none. <c>def_flags</c> keeps
    /// only <c>VM_INIT_DEF_MASK</c>, so <c>mlockall(MCL_FUTURE)</c> is not inherited. Guard markers are copied with
    /// the page tables, so the child has them in every copied VMA but VM_WIPEONFORK ones. The child's
    /// <see cref="Counters"/> are those of its VMAs: the parent's without the VM_DONTCOPY pages, none locked.
    /// </summary>
    /// <remarks>
    /// The parent holds mmap_lock for write and write-locks each VMA it copies, so a lock-free fault in the parent
    /// falls back to mmap_lock and waits. The child's tree is copied node for node (<c>__mt_dup</c>) and its entries
    /// replaced in place, in O(n). The two address spaces are independent afterwards: each may be disposed first,
    /// releasing only its own references.
    /// </remarks>
    /// <param name="child">The new address space, owned by the caller; null on failure.</param>
    /// <returns>
    /// <see cref="Errno.None"/>, or ENOMEM when an allocation failed: the partial child is torn down completely and
    /// the parent is unchanged.
    /// </returns>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Fork(out AddressSpace? child) => VmaMetrics.Syscall("fork", ForkUncounted(out child));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno ForkUncounted(out AddressSpace? child)
    {
        ThrowIfDisposed();
        child = null;
        MmapLock.WriteLock();
        var copy = new AddressSpace(Options);

        // Not yet visible to anyone: no ordering against the parent's lock.
        copy.MmapLock.WriteLock();
        ulong copiedEnd = copy.DupMmap(this);
        bool complete = copiedEnd == ulong.MaxValue;
        if (complete)
        {
            copy.CopyGuardMarkersFrom(this);
            copy.MmapLock.WriteUnlock();
            child = copy;
        }
        else
        {
            copy._disposed = 1;
            copy.Release(copiedEnd);
        }

        MmapLock.WriteUnlock();
        return complete ? Errno.None : Errno.ENOMEM;
    }

    /// <summary>
    /// <c>dup_mmap</c>, into this new, write-locked address space from <paramref name="parent"/>, whose mmap_lock
    /// is held for write. Allocations count as <paramref name="parent"/>'s (its <see cref="Faults"/>). Returns
    /// <see cref="ulong.MaxValue"/> when everything was copied, else the address below which the tree holds this
    /// mm's copies (above it, the parent's VMAs still stand in the copied tree and must not be freed).
    /// </summary>
    private ulong DupMmap(AddressSpace parent)
    {
        Debug.Assert(parent.MmapLock.IsWriteLockHeld, "dup_mmap without the parent's mmap_lock held for write");
        _mm->DefFlags = parent._mm->DefFlags & InitDefMask;

        // The parent's page counts, less the VM_DONTCOPY VMAs below; locked_vm starts at 0 (mm_init), as the copies
        // lose VM_LOCKED.
        _mm->Stat = parent._mm->Stat;
        FaultInjection faults = parent.Faults;
        if (!Tree.DupFrom(parent.Tree, faults))
        {
            return 0;
        }

        LeafHint hint = default;
        ulong address = 0;
        while (true)
        {
            // Until replaced, the copied tree's entries are the parent's VMAs.
            VmArea* parentVma = Tree.FindAtOrAfter(address, ulong.MaxValue, ref hint, out ulong start, out ulong end);
            if (parentVma == null)
            {
                return ulong.MaxValue;
            }

            VmaLock.StartWrite(parentVma);
            if ((parentVma->VmFlags & VmFlags.DontCopy) != 0)
            {
                // vma_iter_clear_gfp: the range becomes a gap of the child.
                if (faults.ShouldFail() || !Tree.Preallocate(start, end))
                {
                    return start;
                }

                Tree.Store(start, end, null);
                _mm->Stat.Account(parentVma->VmFlags, -(long)parentVma->Pages);
                hint = Tree.StoreHint;
                address = end;
                continue;
            }

            VmArea* vma = DupVmaForChild(parentVma, faults);
            if (vma == null)
            {
                return start;
            }

            Tree.ReplaceEntry(start, vma, ref hint);
            VmaLock.StartWrite(vma);
            VmaLock.MarkAttached(vma);
            AddMapCount(1);
            address = end;
        }
    }

    /// <summary>
    /// The copy of one parent VMA for this child (<c>vm_area_dup</c>, <c>vma_dup_policy</c>, <c>dup_userfaultfd</c>,
    /// <c>anon_vma_fork</c>, the lock bits cleared, <c>get_file</c>), detached; null (ENOMEM) with nothing taken.
    /// </summary>
    private VmArea* DupVmaForChild(VmArea* parentVma, FaultInjection faults)
    {
        VmArea* vma = VmAreaCache.Dup(parentVma, faults);
        if (vma == null)
        {
            return null;
        }

        vma->VmMm = _mm;
        if (MemPolicy.Dup(parentVma->VmPolicy, faults, out vma->VmPolicy) != Errno.None)
        {
            VmAreaCache.Free(vma);
            return null;
        }

        vma->VmUserfaultfdCtx = null;
        vma->VmFlags &= ~UserfaultfdFlags;
        if ((vma->VmFlags & VmFlags.WipeOnFork) != 0)
        {
            // A clean slate: the child's pages start empty, with an anon_vma from its first fault.
            vma->AnonVma = null;
        }
        else if (Rmap.AnonVmaFork(vma, parentVma, faults) != Errno.None)
        {
            MemPolicy.Put(vma->VmPolicy);
            VmAreaCache.Free(vma);
            return null;
        }

        vma->VmFlags &= ~VmFlagBits.LockedMask;
        FileRef.Get(vma->VmFile);
        return vma;
    }
}
