using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// The operations <c>Bench/VmaCore/GuestSyscallBenchmarks</c> times, on a written 16-page range: the host calls each
/// makes (the benchmarks' host peers issue exactly these) and the result the guest sees.
/// </summary>
public sealed class GuestSyscallHostCallTests
{
    private const int RangePages = 16;
    private const ulong RangeSize = RangePages * Page;
    private const Prot ReadWrite = Prot.Read | Prot.Write;
    private const MremapFlags MoveFixed = MremapFlags.MayMove | MremapFlags.Fixed;

    /// <summary>Where the written range lives, where the mmap case maps and where the move goes.</summary>
    private static readonly ulong s_written = At(64);
    private static readonly ulong s_mmapAt = At(0);
    private static readonly ulong s_moveTo = At(128);

    [Test]
    public void MmapMunmap_TwoHostCalls_FixedMmapThenReturnToReservation()
    {
        using GuestMemory guest = WithWrittenRange();
        long before = guest.HostCalls.Count;
        Assert.That(guest.Mmap(s_mmapAt, RangeSize, ReadWrite, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.HostCalls.Count - before, Is.EqualTo(1), "mmap");
        Assert.That(guest.Munmap(s_mmapAt, RangeSize), Is.EqualTo(Errno.None));
        Assert.That(guest.HostCalls.Count - before, Is.EqualTo(2), "mmap and munmap");
        Assert.That(guest.Translate(s_mmapAt, FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
    }

    [Test]
    public void MprotectSplitMerge_OneHostMprotectEach_VmaSplitThenMerged()
    {
        using GuestMemory guest = WithWrittenRange();
        long before = guest.HostCalls.Count;
        Assert.That(guest.Mprotect(s_written + (4 * Page), 8 * Page, Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(guest.HostCalls.Count - before, Is.EqualTo(1), "the split");
        Assert.That(guest.Space.MapCount, Is.EqualTo(3));
        Assert.That(guest.Translate(s_written + (4 * Page), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.NotPermitted));

        Assert.That(guest.Mprotect(s_written + (4 * Page), 8 * Page, ReadWrite), Is.EqualTo(Errno.None));
        Assert.That(guest.HostCalls.Count - before, Is.EqualTo(2), "the split and the merge");
        Assert.That(guest.Space.MapCount, Is.EqualTo(1));
        Assert.That(Read(guest, s_written + (4 * Page)), Is.EqualTo(4), "the data stays");
        Write(guest, s_written + (4 * Page), 4);
    }

    [Test]
    public void MremapMove_HostMremapAndReturnToReservation_NoReprotection()
    {
        using GuestMemory guest = WithWrittenRange();
        long before = guest.HostCalls.Count;
        Assert.That(guest.Mremap(s_written, RangeSize, RangeSize, MoveFixed, s_moveTo, out ulong moved), Is.EqualTo(Errno.None));
        Assert.That(moved, Is.EqualTo(s_moveTo));
        Assert.That(guest.HostCalls.Count - before, Is.EqualTo(2), "the move");
        for (int page = 0; page < RangePages; page++)
        {
            Assert.That(Read(guest, s_moveTo + ((ulong)page * Page)), Is.EqualTo((byte)page), $"page {page} moved");
            Assert.That(guest.Translate(s_written + ((ulong)page * Page), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped), $"page {page} left");
        }

        Write(guest, s_moveTo, 0x55);
        long beforeBack = guest.HostCalls.Count;
        Assert.That(guest.Mremap(s_moveTo, RangeSize, RangeSize, MoveFixed, s_written, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.HostCalls.Count - beforeBack, Is.EqualTo(2), "the move back");
        Assert.That(Read(guest, s_written), Is.EqualTo(0x55));
        GuestExpectations.CheckHostMaps(guest, zeroPage: true, "after the moves", s_written, 2 * RangePages);
    }

    /// <summary>
    /// An unwritten VMA (readable only on the host until its first write) moved next to a written one merges with it
    /// (<c>copy_vma</c> gives an unfaulted VMA the new address as its offset) and so gains its anon_vma: the moved
    /// pages then need more than the protection they came with, and get it.
    /// </summary>
    [Test]
    public void MremapMove_MergingIntoAWrittenVma_ReprotectsWhatTheDestinationNeeds()
    {
        using GuestMemory guest = Create(zeroPage: true);
        MapReadWrite(guest, s_written, RangePages);
        MapReadWrite(guest, At(127), 1);
        Write(guest, At(127), 1);
        long before = guest.HostCalls.Count;
        Assert.That(guest.Mremap(s_written, RangeSize, RangeSize, MoveFixed, s_moveTo, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Space.MapCount, Is.EqualTo(1), "merged with the written VMA");
        Assert.That(guest.HostCalls.Count - before, Is.EqualTo(3), "the move, the source returned, the moved pages opened");
        GuestExpectations.CheckTable(guest, zeroPage: true, "after the move", s_moveTo - Page, RangePages + 1);
        GuestExpectations.CheckHostMaps(guest, zeroPage: true, "after the move", s_moveTo - Page, RangePages + 1);
    }

    /// <summary>A backed space with a read-write 16-page range at <see cref="s_written"/>, page i holding i.</summary>
    private static GuestMemory WithWrittenRange()
    {
        GuestMemory guest = Create();
        MapReadWrite(guest, s_written, RangePages);
        for (int page = 0; page < RangePages; page++)
        {
            Write(guest, s_written + ((ulong)page * Page), (byte)page);
        }

        return guest;
    }
}
