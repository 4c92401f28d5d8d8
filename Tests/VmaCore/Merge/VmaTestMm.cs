using System;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Merge;
using VmaEngine.Vma.Tree;

namespace Tests.VmaCore.Merge;

/// <summary>
/// The test harness of <c>tools/testing/vma/vma.c</c> over a real <see cref="AddressSpace"/>: it holds mmap_lock for
/// write for its whole life (the kernel harness has no locking), sets VMAs up directly (<c>alloc_and_link_vma</c>),
/// gives them real anon_vmas where the kernel harness uses a dummy, and counts and frees what is left
/// (<c>cleanup_mm</c>).
/// </summary>
internal sealed unsafe class VmaTestMm : IDisposable
{
    /// <summary>VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE, the flags of every test VMA.</summary>
    public const VmFlags F = VmFlags.Read | VmFlags.Write | VmFlags.MayRead | VmFlags.MayWrite;

    private static readonly VmOperations* s_dummyOps = VmOperations.Allocate(hasClose: false);
    private static readonly VmOperations* s_closeOps = VmOperations.Allocate(hasClose: true);

    /// <summary>The iterator of the test (<c>VMA_ITERATOR(vmi, &amp;mm, 0)</c>), a field so that merge states can refer to it.</summary>
    public VmaIterator Vmi;

    public VmaTestMm(AddressSpaceOptions? options = null)
    {
        Mm = new AddressSpace(options ?? new AddressSpaceOptions());
        Mm.MmapLock.WriteLock();
        Vmi = new VmaIterator(Mm, 0);
    }

    public AddressSpace Mm { get; }

    /// <summary><c>vma_dummy_vm_ops</c>: the operations of every test VMA (no hooks), so test VMAs are not anonymous.</summary>
    public static VmOperations* DummyOps => s_dummyOps;

    /// <summary>Operations with a close hook (<c>dummy_close</c>).</summary>
    public static VmOperations* CloseOps => s_closeOps;

    /// <summary><c>alloc_vma</c>: a detached VMA of the mm.</summary>
    public VmArea* AllocVma(ulong start, ulong end, ulong pgoff, VmFlags flags = F)
    {
        VmArea* vma = VmAreaCache.Alloc(Mm.Mm, Mm.Faults);
        Assert.That(vma != null, "vm_area_alloc failed");
        vma->VmStart = start;
        vma->VmEnd = end;
        vma->VmPgoff = pgoff;
        vma->VmFlags = flags;
        vma->VmOps = s_dummyOps;
        Assert.That(VmaLock.IsAttached(vma), Is.False, "a new VMA is attached");
        return vma;
    }

    /// <summary>
    /// <c>attach_vma</c>: <c>vma_link</c>, asserting the VMA is attached on success. The VMA is then counted in the
    /// mm's counters as a mapping of its flags would be (<c>vma_link</c> counts nothing, its callers do), so that
    /// unmapping it later uncounts pages that were counted.
    /// </summary>
    public Errno AttachVma(VmArea* vma)
    {
        Errno error = Mm.VmaLink(vma);
        if (error == Errno.None)
        {
            Assert.That(VmaLock.IsAttached(vma), "vma_link left the VMA detached");
            Mm.Mm->Stat.Account(vma->VmFlags, (long)vma->Pages);
            if ((vma->VmFlags & VmFlags.Locked) != 0)
            {
                Mm.Mm->LockedVm += vma->Pages;
            }
        }

        return error;
    }

    /// <summary><c>alloc_and_link_vma</c>: a linked VMA whose write-lock probe starts clean.</summary>
    public VmArea* AllocAndLinkVma(ulong start, ulong end, ulong pgoff, VmFlags flags = F)
    {
        VmArea* vma = AllocVma(start, end, pgoff, flags);
        Assert.That(AttachVma(vma), Is.EqualTo(Errno.None));
        vma->VmLockSeq = VmaLock.NeverLocked;
        return vma;
    }

    /// <summary>
    /// <c>merge_new</c>: next and prev around the iterator's address, the iterator left on the gap, then
    /// <c>vma_merge_new_range</c>; a result must be attached.
    /// </summary>
    public VmArea* MergeNew(ref VmaMergeState vmg)
    {
        vmg.Next = vmg.Vmi.Next();
        vmg.Prev = vmg.Vmi.Prev();
        vmg.Vmi.NextRange();
        VmArea* merged = Mm.MergeNewRange(ref vmg);
        if (merged != null)
        {
            Assert.That(VmaLock.IsAttached(merged), "merge_new returned a detached VMA");
        }

        return merged;
    }

    /// <summary><c>merge_existing</c>: <c>vma_merge_existing_range</c>; a result must be attached.</summary>
    public VmArea* MergeExisting(ref VmaMergeState vmg)
    {
        VmArea* merged = Mm.MergeExistingRange(ref vmg);
        if (merged != null)
        {
            Assert.That(VmaLock.IsAttached(merged), "merge_existing returned a detached VMA");
        }

        return merged;
    }

    /// <summary>
    /// <c>try_merge_new_vma</c>: a new-range merge of the range; when none is possible (state NoMerge), a new linked
    /// VMA for it.
    /// </summary>
    public VmArea* TryMergeNewVma(ref VmaMergeState vmg, ulong start, ulong end, ulong pgoff, out bool merged)
    {
        vmg.SetRange(start, end, pgoff, F);
        VmArea* vma = MergeNew(ref vmg);
        merged = vma != null;
        if (merged)
        {
            Assert.That(vmg.State, Is.EqualTo(VmaMergeResult.Success));
            return vma;
        }

        Assert.That(vmg.State, Is.EqualTo(VmaMergeResult.NoMerge));
        return AllocAndLinkVma(start, end, pgoff);
    }

    /// <summary>
    /// <c>vma_write_started</c>: whether <c>vma_start_write</c> ran on the VMA since the last probe; resets the probe.
    /// </summary>
    public static bool WriteStarted(VmArea* vma)
    {
        bool started = vma->VmLockSeq != VmaLock.NeverLocked;
        vma->VmLockSeq = VmaLock.NeverLocked;
        return started;
    }

    /// <summary>
    /// Gives <paramref name="vma"/> a new anon_vma of its own, as its first fault would (the kernel harness points
    /// VMAs at a static <c>dummy_anon_vma</c> instead). The VMA's chain becomes singular.
    /// </summary>
    public AnonVma* NewAnonVma(VmArea* vma)
    {
        AnonVma* anonVma = AnonVmaCache.AllocAnonVma(Mm.Faults);
        Assert.That(anonVma != null, "anon_vma_alloc failed");
        anonVma->NumChildren++;
        ShareAnonVma(vma, anonVma);
        return anonVma;
    }

    /// <summary>Links <paramref name="vma"/> to an existing anon_vma, as a first fault reusing a neighbour's would.</summary>
    public void ShareAnonVma(VmArea* vma, AnonVma* anonVma)
    {
        Assert.That(vma->AnonVma == null, "the VMA already has an anon_vma");
        AnonVmaChain* avc = AnonVmaCache.AllocChain(Mm.Faults);
        Assert.That(avc != null, "anon_vma_chain_alloc failed");
        Rmap.ChainLink(vma, avc, anonVma);
        anonVma->NumActiveVmas++;
        vma->AnonVma = anonVma;
    }

    /// <summary>Whether <paramref name="vma"/> has exactly one chain link and it leads to <paramref name="anonVma"/>.</summary>
    public static bool IsSinglyLinkedTo(VmArea* vma, AnonVma* anonVma)
    {
        return Rmap.HasSingularChain(vma) && AnonVmaChain.FromSameVma(vma->AnonVmaChain.Next)->AnonVma == anonVma;
    }

    /// <summary>
    /// <c>cleanup_mm</c>: detaches and frees every VMA (with its references), empties the tree and returns how many
    /// VMAs there were.
    /// </summary>
    public int CleanupMm()
    {
        Mm.Faults.FailAfter(-1);
        int count = 0;
        var vmi = new VmaIterator(Mm, 0);
        for (VmArea* vma = vmi.Next(); vma != null; vma = vmi.Next())
        {
            count++;
            Assert.That(Mm.Tree.Preallocate(vma->VmStart, vma->VmEnd), "cleanup could not preallocate");
            Mm.Tree.Store(vma->VmStart, vma->VmEnd, null);
            VmaLock.StartWrite(vma);
            VmaLock.MarkDetached(vma);
            AddressSpace.FreeVma(vma);
        }

        Assert.That(Mm.Tree.Count, Is.EqualTo(0), "cleanup left ranges in the tree");
        Mm.AddMapCount(-Mm.MapCount);
        Vmi = new VmaIterator(Mm, 0);
        return count;
    }

    /// <summary>A merge state of this mm, as the kernel tests' <c>struct vma_merge_struct vmg = { .mm, .vmi }</c>.</summary>
    public VmaMergeState NewMergeState() => new(ref Vmi, 0, 0, F, 0);

    public void Dispose()
    {
        Mm.MmapLock.WriteUnlock();
        Mm.Dispose();
    }
}
