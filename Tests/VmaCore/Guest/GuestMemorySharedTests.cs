using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>Shared anonymous mappings: one host memfd per mapping, kept by splits, mprotect and mremap.</summary>
public sealed class GuestMemorySharedTests
{
    private const MapFlags SharedAnonymous = MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed;
    private const Prot ReadWrite = Prot.Read | Prot.Write;

    [Test]
    public void SharedMapping_ReadsZero_KeepsStores_HostMappingIsShared()
    {
        using GuestMemory guest = Create(zeroPage: false);
        Assert.That(guest.Mmap(At(0), 4 * Page, ReadWrite, SharedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(At(1), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.Ok), "a shared VMA needs no anon_vma");
        Assert.That(Read(guest, At(2) + 5), Is.EqualTo(0));
        Write(guest, At(2) + 5, 0x5C);
        Assert.That(Read(guest, At(2) + 5), Is.EqualTo(0x5C));
        Assert.That(HostMaps.SharingAt(guest.HostAddressOf(At(2))), Is.EqualTo('s'));
    }

    [Test]
    public void MremapOldLengthZero_TwoMappingsOfOneObject_SeeEachOther()
    {
        using GuestMemory guest = Create();
        Assert.That(guest.Mmap(At(0), 4 * Page, ReadWrite, SharedAnonymous, out _), Is.EqualTo(Errno.None));
        Write(guest, At(1), 0x11);

        Assert.That(guest.Mremap(At(0), 0, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(32), out ulong twin), Is.EqualTo(Errno.None));
        Assert.That(twin, Is.EqualTo(At(32)));
        Assert.That(Read(guest, At(33)), Is.EqualTo(0x11), "the second mapping sees the first's store");
        Write(guest, At(35) + 9, 0x22);
        Assert.That(Read(guest, At(3) + 9), Is.EqualTo(0x22), "the first mapping sees the second's store");
    }

    [Test]
    public void SplitByMprotect_BothPartsStayShared()
    {
        using GuestMemory guest = Create();
        Assert.That(guest.Mmap(At(0), 4 * Page, ReadWrite, SharedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Mremap(At(0), 0, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(32), out _), Is.EqualTo(Errno.None));
        Write(guest, At(2), 0x31);

        Assert.That(guest.Mprotect(At(1), Page, Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(guest.Space.MapCount, Is.EqualTo(4), "the first mapping split in three");
        Assert.That(HostMaps.PermissionsAt(guest.HostAddressOf(At(1))), Is.EqualTo("r--"));
        Assert.That(Read(guest, At(2)), Is.EqualTo(0x31));
        Write(guest, At(34), 0x32);
        Assert.That(Read(guest, At(2)), Is.EqualTo(0x32), "the part after the split still maps the object");
        Write(guest, At(33), 0x33);
        Assert.That(Read(guest, At(1)), Is.EqualTo(0x33), "so does the read-only part");
    }

    [Test]
    public void MremapMoveAndGrow_KeepSharing_GrownPagesReachTheObjectSize()
    {
        using GuestMemory guest = Create();
        Assert.That(guest.Mmap(At(0), 4 * Page, ReadWrite, SharedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Mremap(At(0), 0, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(32), out _), Is.EqualTo(Errno.None));
        Write(guest, At(3), 0x41);

        Assert.That(guest.Mremap(At(0), 4 * Page, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(16), out ulong moved), Is.EqualTo(Errno.None));
        Assert.That(moved, Is.EqualTo(At(16)));
        Assert.That(Read(guest, At(19)), Is.EqualTo(0x41), "the data moved");
        Assert.That(guest.Translate(At(3), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Write(guest, At(17), 0x42);
        Assert.That(Read(guest, At(33)), Is.EqualTo(0x42), "the moved mapping still shares the object");

        // Shrink then grow in place: the pages come back from the object, not zero.
        Assert.That(guest.Mremap(At(16), 4 * Page, 2 * Page, MremapFlags.None, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Mremap(At(16), 2 * Page, 4 * Page, MremapFlags.None, 0, out ulong grown), Is.EqualTo(Errno.None));
        Assert.That(grown, Is.EqualTo(At(16)));
        Assert.That(Read(guest, At(19)), Is.EqualTo(0x41), "the regrown page maps the object again");
    }

    [Test]
    public void MremapDontUnmap_SourceStillMapsTheObject()
    {
        using GuestMemory guest = Create();
        Assert.That(guest.Mmap(At(0), 2 * Page, ReadWrite, SharedAnonymous, out _), Is.EqualTo(Errno.None));
        Write(guest, At(1), 0x51);

        MremapFlags flags = MremapFlags.MayMove | MremapFlags.Fixed | MremapFlags.DontUnmap;
        Assert.That(guest.Mremap(At(0), 2 * Page, 2 * Page, flags, At(8), out _), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, At(9)), Is.EqualTo(0x51));
        Assert.That(Read(guest, At(1)), Is.EqualTo(0x51), "the source still maps the shared object");
        Write(guest, At(8), 0x52);
        Assert.That(Read(guest, At(0)), Is.EqualTo(0x52));
    }

    [Test]
    public void DontNeedKeepsSharedContents_RemovePunchesAHoleInEveryMapping()
    {
        using GuestMemory guest = Create();
        Assert.That(guest.Mmap(At(0), 2 * Page, ReadWrite, SharedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Mremap(At(0), 0, 2 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(8), out _), Is.EqualTo(Errno.None));
        Write(guest, At(0), 0x61);
        Write(guest, At(1), 0x62);

        Assert.That(guest.Madvise(At(0), 2 * Page, DropAdvice.DontNeed), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, At(0)), Is.EqualTo(0x61), "DONTNEED keeps a shared object's pages");
        Assert.That(guest.Madvise(At(0), Page, DropAdvice.Free), Is.EqualTo(Errno.EINVAL), "FREE is for private anonymous memory");
        Assert.That(guest.Madvise(At(0), Page, DropAdvice.Remove), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, At(8)), Is.EqualTo(0), "REMOVE freed the page under both mappings");
        Assert.That(Read(guest, At(9)), Is.EqualTo(0x62), "a page outside the advice");
    }

    [Test]
    public void Munmap_LastMappingGone_ObjectFreed_NewMappingIsZero()
    {
        using GuestMemory guest = Create();
        Assert.That(guest.Mmap(At(0), 2 * Page, ReadWrite, SharedAnonymous, out _), Is.EqualTo(Errno.None));
        Write(guest, At(0), 0x71);
        int objectId = guest.Space.Snapshot()[0].FileId;
        Assert.That(HostFiles.HandleOf(objectId), Is.Not.Null, "the mapping's memfd");
        Assert.That(guest.Munmap(At(0), 2 * Page), Is.EqualTo(Errno.None));
        Assert.That(HostFiles.HandleOf(objectId), Is.Null, "the memfd goes with the object's last mapping");
        Assert.That(HostMaps.PermissionsAt(guest.HostAddressOf(At(0))), Is.EqualTo("---"), "back to the reservation");
        Assert.That(guest.Mmap(At(0), 2 * Page, ReadWrite, SharedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, At(0)), Is.EqualTo(0));
    }
}
