using System;
using NUnit.Framework;
using VmaEngine.Slab;
using VmaEngine.Vma;

namespace Tests.VmaCore.Mm;

/// <summary>The address space's own members (the system calls have their own fixtures under Syscalls).</summary>
[TestFixture]
public class AddressSpaceTests
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong Base = 0x1000_0000;
    private const MapFlags FixedAnonymous = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    /// <summary>The nodes an idle tree keeps (<c>VmaTree.RecycleIdleReserve</c>).</summary>
    private const int IdleReserve = 256;

    [Test]
    public void ShrinkReturnsTheTreesSpareNodesAndKeepsTheLayout()
    {
        using var space = new AddressSpace();
        for (ulong i = 0; i < 400; i++)
        {
            Prot prot = i % 2 == 0 ? Prot.Read : Prot.Read | Prot.Write;
            Assert.That(space.Mmap(Base + (i * 4 * Page), 3 * Page, prot, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        }

        // Splits and merges replace tree nodes; the tree keeps them for its next stores.
        for (ulong i = 0; i < 400; i += 3)
        {
            Assert.That(space.Munmap(Base + (i * 4 * Page) + Page, Page), Is.EqualTo(Errno.None));
        }

        Rcu.Barrier();
        Assert.That(space.Tree.RecyclingNodes, Is.GreaterThan(0));
        string layout = space.FormatMaps();
        int mapCount = space.MapCount;

        space.Shrink();

        Assert.Multiple(() =>
        {
            Assert.That(space.Tree.RecyclingNodes, Is.Zero);
            Assert.That(space.FormatMaps(), Is.EqualTo(layout));
            Assert.That(space.MapCount, Is.EqualTo(mapCount));
        });
        space.Tree.Validate();

        // The tree takes nodes from the slab again.
        Assert.That(space.Mmap(Base + Page, Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(space.MapCount, Is.EqualTo(mapCount - 1));
        space.Tree.Validate();
    }

    [Test]
    public void AnIdleTreeTrimsItsRecycledNodesOnceMmapLockIsFree()
    {
        using var space = new AddressSpace();
        for (ulong i = 0; i < 3000; i++)
        {
            Assert.That(space.Mmap(Base + (i * 2 * Page), Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        }

        // While a reader holds mmap_lock the trim cannot become the writer: the burst's nodes stay in the ring.
        space.MmapLock.ReadLock();
        Rcu.Barrier();
        int held = space.Tree.RecyclingNodes;
        space.MmapLock.ReadUnlock();

        // A pause of a grace period inside the burst (a GC, a descheduled thread) lets a trim run early; the end of the
        // burst alone then normally still leaves more than the reserve.
        Assume.That(held, Is.GreaterThan(IdleReserve), "the burst's nodes were trimmed before the reader took mmap_lock");

        // The trim tries again after each grace period and keeps only the reserve.
        Rcu.Barrier();
        Assert.That(space.Tree.RecyclingNodes, Is.LessThanOrEqualTo(IdleReserve));
        space.Tree.Validate();
        Assert.That(space.MapCount, Is.EqualTo(3000));
    }

    [Test]
    public void ShrinkAfterDisposeThrows()
    {
        var space = new AddressSpace();
        space.Dispose();
        Assert.That(space.Shrink, Throws.TypeOf<ObjectDisposedException>());
    }
}
