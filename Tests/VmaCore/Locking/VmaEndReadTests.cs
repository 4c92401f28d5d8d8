using System;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;

namespace Tests.VmaCore.Locking;

/// <summary>
/// <c>vma_end_read</c> misuse: a release no read lock matches is refused with an
/// <see cref="InvalidOperationException"/> before the count changes, so the count never drops to the attach value
/// or below and a later writer does not hang.
/// </summary>
[TestFixture]
public unsafe class VmaEndReadTests
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong Base = 0x1000_0000;
    private const MapFlags FixedAnonymous = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const int HangGuardMilliseconds = 30_000;

    [Test]
    public void NullIsArgumentNull() =>
        Assert.Throws<ArgumentNullException>(() => AddressSpace.VmaEndRead(null));

    [Test]
    public void ASecondReleaseThrowsAndTheNextMunmapDoesNotHang()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        VmArea* vma = space.LockVmaUnderRcu(Base);
        Assert.That(vma != null);
        AddressSpace.VmaEndRead(vma);

        Assert.Throws<InvalidOperationException>(() => AddressSpace.VmaEndRead(vma));
        Assert.That(vma->VmRefcnt, Is.EqualTo(1), "the refused release left the attach count");

        var munmap = Task.Run(() => space.Munmap(Base, Page));
        Assert.That(munmap.Wait(HangGuardMilliseconds), Is.True, "munmap after a refused double release");
        Assert.That(munmap.Result, Is.EqualTo(Errno.None));
    }

    [Test]
    public void AReleaseOfAVmaNeverReadLockedThrows()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        VmArea* vma = space.Tree.Load(Base);
        Assert.Throws<InvalidOperationException>(() => AddressSpace.VmaEndRead(vma));
        Assert.That(vma->VmRefcnt, Is.EqualTo(1));
    }

    [Test]
    public void AReleaseOfADetachedVmaThrowsAndLeavesItDetached()
    {
        using var space = new AddressSpace();
        VmArea* vma = VmAreaCache.Alloc(space.Mm, space.Faults);
        try
        {
            Assert.Throws<InvalidOperationException>(() => AddressSpace.VmaEndRead(vma));
            Assert.That(vma->VmRefcnt, Is.Zero);
        }
        finally
        {
            VmAreaCache.Free(vma);
        }
    }

    [Test]
    public void WithTwoReadersEachReleaseCountsAndTheThirdThrows()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        VmArea* first = space.LockVmaUnderRcu(Base);
        VmArea* second = space.LockVmaUnderRcu(Base + Page);
        Assert.That(first == second);
        AddressSpace.VmaEndRead(first);
        AddressSpace.VmaEndRead(second);
        Assert.Throws<InvalidOperationException>(() => AddressSpace.VmaEndRead(first));
        Assert.That(first->VmRefcnt, Is.EqualTo(1));
    }

    [Test]
    public void TheReadersReleaseWakesAWaitingWriterAndASecondReleaseThrows()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        VmArea* vma = space.LockVmaUnderRcu(Base);
        var writer = Task.Run(() => space.Mprotect(Base, Page, Prot.None));
        SpinWait.SpinUntil(() => (Volatile.Read(ref vma->VmRefcnt) & VmaLock.LockOffset) != 0, HangGuardMilliseconds);

        AddressSpace.VmaEndRead(vma);
        Assert.That(writer.Wait(HangGuardMilliseconds), Is.True, "the reader's release woke the writer");
        Assert.Throws<InvalidOperationException>(() => AddressSpace.VmaEndRead(vma));
        Assert.That(writer.Result, Is.EqualTo(Errno.None));
    }
}
