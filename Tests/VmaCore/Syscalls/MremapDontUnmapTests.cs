using NUnit.Framework;
using VmaEngine.Vma;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>MREMAP_DONTUNMAP (v6.15 <c>mremap_to</c>, <c>vma_to_resize</c>, <c>move_vma</c>).</summary>
[TestFixture(false)]
[TestFixture(true)]
public sealed class MremapDontUnmapTests(bool multipleVmas)
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const MremapFlags DontUnmapFixed = MremapFlags.MayMove | MremapFlags.Fixed | MremapFlags.DontUnmap;

    private AddressSpace NewSpace() => new(new AddressSpaceOptions { MremapMultipleVmas = multipleVmas });

    [TestCase(false, "0-4 rw-p - - me,mr,mw,rd,wr", "0-4 rw-p - - me,mr,mw,rd,wr | 4-8 rw-p - - ac,me,mr,mw,rd,wr")]
    [TestCase(true, "0-4 rw-p - - ac,me,mr,mw,rd,wr", "0-8 rw-p - - ac,me,mr,mw,rd,wr")]
    public void TheOldRangeStaysMappedAndEmptied(bool keepsAccount, string oldAfterMove, string afterNeighbour)
    {
        using var space = new AddressSpace(new AddressSpaceOptions { MremapMultipleVmas = multipleVmas, DontUnmapKeepsAccount = keepsAccount });
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        space.Touch(P(0), L(4));
        nuint anonVma = space.Snapshot()[0].AnonVmaId;
        Assert.That(space.Mremap(P(0), L(4), L(4), DontUnmapFixed, P(100), out ulong moved), Is.EqualTo(Errno.None));
        Assert.That(moved, Is.EqualTo(P(100)));
        Assert.That(Of(space), Is.EqualTo(oldAfterMove + " | 100-104 rw-p - - ac,me,mr,mw,rd,wr"));
        Assert.That(space.Snapshot()[0].AnonVmaId, Is.EqualTo((nuint)0), "unlinked from its anon_vma");
        Assert.That(space.Snapshot()[1].AnonVmaId, Is.EqualTo(anonVma), "the pages went with the move");

        // v6.15: the emptied VMA lost VM_ACCOUNT, so an accounted neighbour does not merge with it; 6.18 merges.
        space.Mmap(P(4), L(4), Rw, AnonFixed, out _);
        Assert.That(Of(space), Does.StartWith(afterNeighbour));
    }

    /// <summary>
    /// The counters after a DONTUNMAP move of a locked range, as measured on 6.18.44 (VmSize and VmLck of a 16-page
    /// MAP_LOCKED range: +64 kB each at the move; munmap of the old range takes 64 kB from VmSize only, munmap of the
    /// new one 64 kB from both, leaving the old range's 16 pages in VmLck) and as v6.15's <c>move_vma</c> counts
    /// (<c>vrm_stat_account</c> for the new range, no unmap): the VM_ACCOUNT rule does not change them.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    public void CountersKeepTheOldRangeAndItsLockedPages(bool keepsAccount)
    {
        using var space = new AddressSpace(new AddressSpaceOptions { MremapMultipleVmas = multipleVmas, DontUnmapKeepsAccount = keepsAccount });
        space.Mmap(P(0), L(16), Rw, AnonFixed | MapFlags.Locked, out _);
        MmCounters mapped = space.Counters;
        Assert.That(space.Mremap(P(0), L(16), L(16), DontUnmapFixed, P(512), out _), Is.EqualTo(Errno.None));
        MmCounters moved = space.Counters;
        Assert.That(moved.TotalVm, Is.EqualTo(mapped.TotalVm + 16));
        Assert.That(moved.DataVm, Is.EqualTo(mapped.DataVm + 16));
        Assert.That(moved.LockedVm, Is.EqualTo(mapped.LockedVm + 16));
        Assert.That(space.Snapshot()[0].Flags & VmFlags.Account, Is.EqualTo(keepsAccount ? VmFlags.Account : VmFlags.None));
        space.Munmap(P(0), L(16));
        Assert.That(space.Counters.TotalVm, Is.EqualTo(mapped.TotalVm));
        Assert.That(space.Counters.LockedVm, Is.EqualTo(mapped.LockedVm + 16), "the old range was no longer locked");
        space.Munmap(P(512), L(16));
        Assert.That(space.Counters.TotalVm, Is.Zero);
        Assert.That(space.Counters.LockedVm, Is.EqualTo(mapped.LockedVm));
    }

    [Test]
    public void PartOfALockedVmaUnlocksAllOfItWithoutASplit()
    {
        using AddressSpace space = NewSpace();
        space.Mmap(P(20), L(8), Rw, AnonFixed | MapFlags.Locked, out _);
        Assert.That(space.Mremap(P(22), L(2), L(2), DontUnmapFixed, P(200), out _), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("20-28 rw-p - - me,mr,mw,rd,wr | 200-202 rw-p - - ac,lo,me,mr,mw,rd,wr"), "v6.15 clears ac too");
    }

    [Test]
    public void ArgumentChecks()
    {
        using AddressSpace space = NewSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        string before = Of(space);
        Assert.Multiple(() =>
        {
            Assert.That(space.Mremap(P(0), L(4), L(2), DontUnmapFixed, P(100), out _), Is.EqualTo(Errno.EINVAL), "shrink");
            Assert.That(space.Mremap(P(0), L(4), L(4) + 1, DontUnmapFixed, P(100), out _), Is.EqualTo(Errno.EINVAL), "lengths as given differ");
            Assert.That(space.Mremap(P(0), L(4), L(4), MremapFlags.DontUnmap, P(100), out _), Is.EqualTo(Errno.EINVAL), "no MREMAP_MAYMOVE");
            Assert.That(space.Mremap(P(0), L(4), L(4), DontUnmapFixed, P(2), out _), Is.EqualTo(Errno.EINVAL), "overlap");
        });
        Assert.That(Of(space), Is.EqualTo(before));
    }

    [Test]
    public void WithoutFixedTheNewAddressIsAHint()
    {
        using AddressSpace space = NewSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        space.Mmap(P(100), L(4), Rw, AnonFixed, out _);
        Assert.That(space.Mremap(P(0), L(4), L(4), MremapFlags.MayMove | MremapFlags.DontUnmap, P(100), out ulong moved), Is.EqualTo(Errno.None));
        Assert.That(moved, Is.Not.EqualTo(P(100)), "the occupied hint is not replaced");
        Assert.That(space.MapCount, Is.EqualTo(3));
    }

    [Test]
    public void SharedMemoryMovesWithItsOffset()
    {
        using AddressSpace space = NewSpace();
        space.Mmap(P(0), L(4), Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _);
        Assert.That(space.Mremap(P(2), L(2), L(2), DontUnmapFixed, P(100), out _), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-s 0 [anon_shared] me,mr,ms,mw,rd,sh,wr | 100-102 rw-s 2 [anon_shared] me,mr,ms,mw,rd,sh,wr"));
    }
}
