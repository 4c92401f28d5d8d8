using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;

namespace Tests.VmaCore.Locking;

/// <summary>
/// Links and unlinks VMAs the way the kernel's mmap and munmap paths do, without the merge engine: for tests of the
/// lock protocol and lock_vma_under_rcu.
/// </summary>
internal static unsafe class TestVmas
{
    /// <summary>Allocates a VMA for [start, end), stores it in the tree and marks it attached, under mmap_lock.</summary>
    public static VmArea* Link(AddressSpace space, ulong start, ulong end)
    {
        VmArea* vma = VmAreaCache.Alloc(space.Mm, space.Faults);
        Assert.That(vma != null, "the VMA cache is out of memory");
        vma->VmStart = start;
        vma->VmEnd = end;
        vma->VmFlags = VmFlags.Read | VmFlags.Write | VmFlags.MayRead | VmFlags.MayWrite;
        space.MmapLock.WriteLock();
        VmaLock.StartWrite(vma);
        Assert.That(space.Tree.Preallocate(start, end), Is.True);
        space.Tree.Store(start, end, vma);
        VmaLock.MarkAttached(vma);
        space.Mm->MapCount++;
        space.MmapLock.WriteUnlock();
        return vma;
    }

    /// <summary>Write-locks, erases, detaches and frees a VMA, under mmap_lock.</summary>
    public static void Unlink(AddressSpace space, VmArea* vma)
    {
        space.MmapLock.WriteLock();
        VmaLock.StartWrite(vma);
        Assert.That(space.Tree.Preallocate(vma->VmStart, vma->VmEnd), Is.True);
        space.Tree.Store(vma->VmStart, vma->VmEnd, null);
        VmaLock.MarkDetached(vma);
        space.Mm->MapCount--;
        VmAreaCache.Free(vma);
        space.MmapLock.WriteUnlock();
    }
}
