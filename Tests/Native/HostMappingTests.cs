using System;
using Microsoft.Win32.SafeHandles;
using NUnit.Framework;
using VmaEngine.Native;

namespace Tests.Native;

/// <summary>The fixed-address host calls behind backed guest memory: memfds, file mappings, mincore, protection-blind copies.</summary>
[Platform("Linux")]
public sealed unsafe class HostMappingTests
{
    private static readonly nuint s_page = OsPages.PageSize;

    [Test]
    public void SharedMemory_TwoMappings_SeeEachOther_RemovePunchesAHole()
    {
        nint reservation = HostMapping.Reserve(4 * s_page);
        try
        {
            using SafeFileHandle memory = HostMapping.CreateSharedMemory("host-mapping-test", 2 * s_page);
            HostMapping.MapFile(reservation, 2 * s_page, HostProtection.Read | HostProtection.Write, memory, 0, shared: true);
            HostMapping.MapFile(reservation + (nint)(2 * s_page), s_page, HostProtection.Read | HostProtection.Write, memory, s_page, shared: true);
            byte* first = (byte*)reservation;
            first[s_page + 9] = 0x3C;
            Assert.That(first[(2 * s_page) + 9], Is.EqualTo(0x3C), "the second mapping is the object's page 1");

            HostMapping.RemovePages(reservation + (nint)s_page, s_page);
            Assert.That(first[(2 * s_page) + 9], Is.Zero, "the hole shows through both mappings");
        }
        finally
        {
            HostMapping.Release(reservation, 4 * s_page);
        }
    }

    /// <summary>A move of equal sizes leaves the old range mapped without pages, never a hole another thread's mmap could take.</summary>
    [Test]
    public void TryMove_EqualSizes_DataMoves_OldRangeStaysMappedAndEmpty()
    {
        nint reservation = HostMapping.Reserve(4 * s_page);
        try
        {
            HostMapping.MapAnonymous(reservation, 2 * s_page, HostProtection.Read | HostProtection.Write);
            byte* old = (byte*)reservation;
            old[s_page + 5] = 0x5A;
            nint target = reservation + (nint)(2 * s_page);

            Assert.That(HostMapping.TryMove(reservation, 2 * s_page, 2 * s_page, target), Is.True);
            var resident = new byte[2];
            HostMapping.GetResidentPages(reservation, 2 * s_page, resident);
            Assert.That(resident, Is.All.Zero, "no page is left behind (mincore fails on a hole)");
            Assert.That(((byte*)target)[s_page + 5], Is.EqualTo(0x5A), "the page moved");
            Assert.That(old[s_page + 5], Is.Zero, "the old range reads as fresh memory");
        }
        finally
        {
            HostMapping.Release(reservation, 4 * s_page);
        }
    }

    [Test]
    public void PrivateMappingOfAnObject_CopiesOnWrite()
    {
        nint reservation = HostMapping.Reserve(2 * s_page);
        try
        {
            using SafeFileHandle memory = HostMapping.CreateSharedMemory("host-mapping-test", s_page);
            HostMapping.MapFile(reservation, s_page, HostProtection.Read | HostProtection.Write, memory, 0, shared: true);
            HostMapping.MapFile(reservation + (nint)s_page, s_page, HostProtection.Read | HostProtection.Write, memory, 0, shared: false);
            byte* shared = (byte*)reservation;
            byte* copy = shared + s_page;
            shared[1] = 0x11;
            Assert.That(copy[1], Is.EqualTo(0x11), "an unwritten private page reads the object");
            copy[1] = 0x22;
            Assert.That(shared[1], Is.EqualTo(0x11), "a private store never reaches the object");
            HostMapping.DropPages(reservation + (nint)s_page, s_page);
            Assert.That(copy[1], Is.EqualTo(0x11), "dropping the private copy brings the object back");
        }
        finally
        {
            HostMapping.Release(reservation, 2 * s_page);
        }
    }

    [Test]
    public void ResidentPages_AndCopyIgnoringProtection()
    {
        nint reservation = HostMapping.Reserve(4 * s_page);
        try
        {
            HostMapping.MapAnonymous(reservation, 4 * s_page, HostProtection.Read | HostProtection.Write);
            ((byte*)reservation)[(2 * s_page) + 5] = 0x7E;
            HostMapping.Protect(reservation, 4 * s_page, HostProtection.None);
            Span<byte> resident = stackalloc byte[4];
            HostMapping.GetResidentPages(reservation, 4 * s_page, resident);
            Assert.That(resident.ToArray(), Is.EqualTo(new byte[] { 0, 0, 1, 0 }));

            HostMapping.CopyIgnoringProtection(reservation + (nint)(2 * s_page), reservation, s_page);
            HostMapping.Protect(reservation, s_page, HostProtection.Read);
            Assert.That(((byte*)reservation)[5], Is.EqualTo(0x7E), "copied from a PROT_NONE page into a PROT_NONE page");
            Assert.Throws<ArgumentException>(() => HostMapping.GetResidentPages(reservation, 4 * s_page, new byte[3]));
        }
        finally
        {
            HostMapping.Release(reservation, 4 * s_page);
        }
    }

    [Test]
    public void MapFile_NullHandle_Throws() =>
        Assert.Throws<ArgumentNullException>(() => HostMapping.MapFile(0, s_page, HostProtection.Read, null!, 0, shared: true));
}
