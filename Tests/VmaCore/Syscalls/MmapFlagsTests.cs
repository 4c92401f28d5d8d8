using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// The MAP_* flags of v6.15 x86-64 (<c>ksys_mmap_pgoff</c>, <c>do_mmap</c>); the expected results are those of a
/// C test on the oracle's machine (Linux 6.18, no hugetlb pool).
/// </summary>
public sealed class MmapFlagsTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    [Test]
    public void DroppableGetsItsFlags()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(P(0), L(4), Rw, MapFlags.Droppable | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - dd,dp,me,mr,mw,nr,rd,wf,wr"));
    }

    [TestCase(MapFlags.Locked)]
    [TestCase(MapFlags.GrowsDown)]
    public void DroppableRefusesLockedAndGrowsDown(MapFlags extra)
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(P(0), L(4), Rw, MapFlags.Droppable | MapFlags.Anonymous | MapFlags.Fixed | extra, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.MapCount, Is.Zero);
    }

    [Test]
    public void DroppableRefusesKeepOnForkAndDoDump()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, MapFlags.Droppable | MapFlags.Anonymous | MapFlags.Fixed, out _);
        Assert.That(space.Madvise(P(0), L(4), Advice.KeepOnFork), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Madvise(P(0), L(4), Advice.DoDump), Is.EqualTo(Errno.EINVAL));
    }

    [Test]
    public void StackSetsNoHugePageAndSyncSetsVmSync()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed | MapFlags.Stack, out _);
        space.Mmap(P(10), L(4), Rw, AnonFixed | MapFlags.Sync, out _);
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,me,mr,mw,nh,rd,wr | 10-14 rw-p - - ac,me,mr,mw,rd,sf,wr"));
    }

    [Test]
    public void HugeTlbWithoutAPoolFails()
    {
        using var space = new AddressSpace();
        Assert.Multiple(() =>
        {
            Assert.That(space.Mmap(P(0), L(512), Rw, AnonFixed | MapFlags.HugeTlb, out _), Is.EqualTo(Errno.ENOMEM));
            Assert.That(space.Mmap(P(0), L(512), Rw, AnonFixed | MapFlags.HugeTlb | MapFlags.Huge1GB, out _), Is.EqualTo(Errno.ENOMEM));
            Assert.That(space.Mmap(P(0), L(512), Rw, AnonFixed | MapFlags.HugeTlb | (MapFlags)(16 << 26), out _), Is.EqualTo(Errno.EINVAL), "no 64 KiB hstate");
        });
        using var files = new FileRegistry();
        Assert.That(space.Mmap(P(0), L(1), Rw, MapFlags.Shared | MapFlags.Fixed | MapFlags.HugeTlb, files.Open("f", 16), 0, out _), Is.EqualTo(Errno.EINVAL), "not a hugetlbfs file");
        Assert.That(space.MapCount, Is.Zero);
    }

    [Test]
    public void SharedValidateRefusesUnknownFlagsOnFilesAndIsEinvalForAnonymousMemory()
    {
        using var files = new FileRegistry();
        using var space = new AddressSpace();
        MappedFile file = files.Open("f", 16);
        Assert.Multiple(() =>
        {
            Assert.That(space.Mmap(P(0), L(1), Rw, MapFlags.ShareValidate | MapFlags.Fixed, file, 0, out _), Is.EqualTo(Errno.None));
            Assert.That(space.Mmap(P(2), L(1), Rw, MapFlags.ShareValidate | MapFlags.Fixed | MapFlags.Sync, file, 0, out _), Is.EqualTo(Errno.EOPNOTSUPP));
            Assert.That(space.Mmap(P(2), L(1), Rw, MapFlags.ShareValidate | MapFlags.Fixed | (MapFlags)0x200000, file, 0, out _), Is.EqualTo(Errno.EOPNOTSUPP));
            Assert.That(space.Mmap(P(2), L(1), Rw, MapFlags.Shared | MapFlags.Fixed | (MapFlags)0x200000, file, 0, out _), Is.EqualTo(Errno.None), "plain MAP_SHARED ignores it");
            Assert.That(space.Mmap(P(4), L(1), Rw, MapFlags.ShareValidate | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.EINVAL));
        });
        Assert.That(Of(space), Does.StartWith("0-1 rw-s 0 f me,mr,ms,mw,rd,sh,wr"));
    }

    [Test]
    public void FileOffsetsThatOverflowAreEoverflow()
    {
        using var files = new FileRegistry();
        using var space = new AddressSpace();
        MappedFile file = files.Open("f", 16);
        Assert.That(space.Mmap(P(0), L(2), Rw, MapFlags.Private | MapFlags.Fixed, file, 0x7FFF_FFFF_FFFF_F000, out _), Is.EqualTo(Errno.EOVERFLOW));
        Assert.That(space.Mmap(P(0), L(2), Rw, MapFlags.Private | MapFlags.Fixed, file, 0xFFFF_FFFF_FFFF_F000, out _), Is.EqualTo(Errno.EOVERFLOW));
    }

    [Test]
    public void PopulateWithNonBlockPopulatesNothing()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed | MapFlags.Populate | MapFlags.NonBlock, out _);
        Assert.That(space.Snapshot()[0].AnonVmaId, Is.EqualTo((nuint)0));
        space.Mmap(P(10), L(4), Rw, AnonFixed | MapFlags.Populate, out _);
        Assert.That(space.Snapshot()[1].AnonVmaId, Is.Not.EqualTo((nuint)0));
    }

    [Test]
    public void IgnoredFlagsChangeNothing()
    {
        using var space = new AddressSpace();
        const MapFlags ignored = MapFlags.DenyWrite | MapFlags.Executable | MapFlags.Uninitialized | MapFlags.ThirtyTwoBit;
        Assert.That(space.Mmap(P(0), L(4), Rw, AnonFixed | ignored, out _), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void ThirtyTwoBitPlacesBottomUpBelowTwoGiB()
    {
        using var space = new AddressSpace();
        const MapFlags flags = MapFlags.Private | MapFlags.Anonymous | MapFlags.ThirtyTwoBit;
        Assert.That(space.Mmap(0, L(4), Rw, flags, out ulong first), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(0, L(4), Rw, flags, out ulong second), Is.EqualTo(Errno.None));
        Assert.That(first, Is.EqualTo(0x4000_0000UL));
        Assert.That(second, Is.EqualTo(0x4000_0000UL + L(4)), "bottom-up: the next one above, merged");
        Assert.That(space.MapCount, Is.EqualTo(1));
        Assert.That(space.Mmap(0, 1UL << 31, Rw, flags, out _), Is.EqualTo(Errno.ENOMEM), "does not fit below 2 GiB");
    }
}
