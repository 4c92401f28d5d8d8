using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// Issue 15's hostile sizes: a guest that maps, reprotects and unmaps tens of TiB at once costs the table nothing
/// but the pages it touches (the table used to fill one entry per page).
/// </summary>
public sealed class HostileSizeTests
{
    private const ulong Page = 4096;
    private const ulong Low = 1UL << 30;
    private const ulong Size = 64UL << 40;
    private const ulong High = Low + Size;

    /// <summary>A little more than one leaf, one directory page and the count pages: the pages touched, not the range.</summary>
    private const ulong FewPagesOfTable = 64 << 10;

    [Test]
    public void SixtyFourTebibytes_MapProtectUnmap_TableStaysTiny()
    {
        using GuestMemory guest = new(Low, High, new AddressSpaceOptions { MmapMinAddr = Low, StartBrk = Low, TaskSize = High, MmapBase = High });
        const MapFlags flags = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed | MapFlags.NoReserve;
        Assert.That(guest.Mmap(Low, Size, Prot.Read | Prot.Write, flags, out ulong mapped), Is.EqualTo(Errno.None));
        Assert.That(mapped, Is.EqualTo(Low));
        Assert.That(guest.TranslationTableBytes, Is.LessThan(FewPagesOfTable), "mapping");

        ulong[] touched = [Low, Low + (Size / 2) + 123, High - Page];
        byte value = 1;
        foreach (ulong address in touched)
        {
            Write(guest, address, value++);
        }

        Assert.That(guest.TranslationTableBytes, Is.LessThan(3 * FewPagesOfTable), "three pages touched");
        Assert.That(guest.Mprotect(Low, Size, Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(touched[1], FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.NotPermitted));
        Assert.That(Read(guest, touched[1]), Is.EqualTo(2), "the data stays through mprotect");
        Assert.That(Read(guest, High - Page), Is.EqualTo(3));
        Assert.That(guest.Translate(Low + (Size / 4), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Ok), "an untouched page reads as zero");

        Assert.That(guest.Munmap(Low, Size), Is.EqualTo(Errno.None));
        foreach (ulong address in touched)
        {
            Assert.That(guest.Translate(address, FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        }

        Assert.That(guest.TranslationTableBytes, Is.LessThan(4 * FewPagesOfTable), "unmapped: no runs, the leaves kept");
        Assert.That(guest.Mmap(Low + Size / 2, Page, Prot.Read | Prot.Write, flags, out _), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, touched[1]), Is.EqualTo(0), "a new mapping is fresh memory");
    }

    [Test]
    public void DenseTouch_TableIsAtMostHalfAPercentOfTheTouchedMemory()
    {
        using GuestMemory guest = GuestMemoryFixture.Create();
        const int pages = 16_384;
        MapReadWrite(guest, GuestMemoryFixture.At(0), pages);
        Assert.That(guest.Fault(GuestMemoryFixture.At(0), FaultAccess.Write), Is.EqualTo(FaultResult.Ok));
        ulong untouched = guest.TranslationTableBytes;
        for (int page = 0; page < pages; page++)
        {
            Assert.That(guest.Translate(GuestMemoryFixture.At(page), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.Ok));
        }

        Assert.That(guest.TranslationTableBytes, Is.GreaterThan(untouched + (pages * Page / 1000)), "a leaf per 2 MiB touched");
        Assert.That(guest.TranslationTableBytes, Is.LessThanOrEqualTo(pages * Page / 200));
    }
}
