using System.Diagnostics;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>Linux v6.15 <c>do_brk_flags</c> (<c>mm/vma.c</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>The flags of a data mapping on x86-64 (<c>VM_DATA_DEFAULT_FLAGS</c> without READ_IMPLIES_EXEC).</summary>
    internal const VmFlags DataDefaultFlags = VmFlags.Read | VmFlags.Write | VmFlags.MayRead | VmFlags.MayWrite | VmFlags.MayExec;

    /// <summary>
    /// <c>do_brk_flags</c>: maps [<paramref name="addr"/>, <paramref name="addr"/> + <paramref name="len"/>) of
    /// anonymous data memory for brk, expanding <paramref name="brkVma"/> (the VMA ending at the old break, on which
    /// the iterator stands) when its flags match (a just-expand merge that never looks right), else adding a VMA.
    /// The flags get the data defaults, VM_ACCOUNT and the mm's <c>def_flags</c>. ENOMEM (map-count limit, allocation) changes nothing.
    /// <code>
    ///   |brk vma|[addr, addr+len)    ->   |brk vma*********|   or   |brk vma||new****|
    /// </code>
    /// </summary>
    internal Errno DoBrkFlags(ref VmaIterator vmi, VmArea* brkVma, ulong addr, ulong len, VmFlags flags)
    {
        Debug.Assert(MmapLock.IsWriteLockHeld, "do_brk_flags without mmap_lock held for write");
        flags |= DataDefaultFlags | VmFlags.Account | _mm->DefFlags;
        if (Mm->MapCount > Options.MaxMapCount)
        {
            return Errno.ENOMEM;
        }

        VmArea* vma = brkVma;
        if (vma != null && vma->VmEnd == addr)
        {
            var vmg = new VmaMergeState(ref vmi, addr, addr + len, flags, addr >> MmConstants.PageShift)
            {
                Prev = vma,
                JustExpand = true,
            };
            if (MergeNewRange(ref vmg) != null)
            {
                CompleteBrk(vma, len, flags);
                return Errno.None;
            }

            if (vmg.NoMem)
            {
                return Errno.ENOMEM;
            }
        }

        if (vma != null)
        {
            vmi.NextRange();
        }

        vma = VmAreaCache.Alloc(Mm, Faults);
        if (vma == null)
        {
            return Errno.ENOMEM;
        }

        SetRange(vma, addr, addr + len, addr >> MmConstants.PageShift);
        vma->VmFlags = flags;
        vma->VmPageProt = PageProt(flags);
        VmaLock.StartWrite(vma);
        if (vmi.StoreNewGfp(vma) != Errno.None)
        {
            VmAreaCache.Free(vma);
            return Errno.ENOMEM;
        }

        AddMapCount(1);
        CompleteBrk(vma, len, flags);
        return Errno.None;
    }

    /// <summary>
    /// The end of <c>do_brk_flags</c> on the new or grown write-locked VMA: counts the <paramref name="len"/> bytes
    /// added in <c>total_vm</c> and <c>data_vm</c> (and <c>locked_vm</c> under <c>mlockall(MCL_FUTURE)</c>), then
    /// sets VM_SOFTDIRTY when soft-dirty tracking is configured.
    /// </summary>
    private void CompleteBrk(VmArea* vma, ulong len, VmFlags flags)
    {
        Debug.Assert(VmStat.IsDataMapping(flags), "brk memory that is not a data mapping");
        ulong pages = len >> MmConstants.PageShift;
        _mm->Stat.Account(flags, (long)pages);
        if ((flags & VmFlags.Locked) != 0)
        {
            _mm->LockedVm += pages;
        }

        if (Options.SoftDirty)
        {
            vma->VmFlags |= VmFlags.SoftDirty;
        }
    }
}
