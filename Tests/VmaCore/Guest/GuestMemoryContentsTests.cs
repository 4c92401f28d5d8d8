using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>Guest data in real host memory: written and read through <see cref="GuestMemory.Translate"/>.</summary>
public sealed class GuestMemoryContentsTests
{
    [Test]
    public void MremapMove_DataAtNewAddress_NoneAtOld()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 8);
        for (int page = 0; page < 8; page++)
        {
            Write(guest, At(page) + 100, (byte)(page + 1));
        }

        Assert.That(guest.Mremap(At(0), 8 * Page, 8 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(64), out ulong moved), Is.EqualTo(Errno.None));
        Assert.That(moved, Is.EqualTo(At(64)));
        for (int page = 0; page < 8; page++)
        {
            Assert.That(Read(guest, At(64 + page) + 100), Is.EqualTo((byte)(page + 1)), $"page {page} at the new address");
            Assert.That(guest.Translate(At(page), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped), $"page {page} at the old address");
        }

        // The old range is reservation again: mapped anew, it reads zero.
        MapReadWrite(guest, At(0), 8);
        Assert.That(Read(guest, At(3) + 100), Is.EqualTo(0));
    }

    [Test]
    public void MremapGrowWithMove_KeepsData_NewTailIsZero()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        MapReadWrite(guest, At(4), 1, Prot.Read);   // blocks growth in place
        Write(guest, At(2), 0x5A);

        Assert.That(guest.Mremap(At(0), 4 * Page, 12 * Page, MremapFlags.MayMove, 0, out ulong moved), Is.EqualTo(Errno.None));
        Assert.That(moved, Is.Not.EqualTo(At(0)));
        Assert.That(Read(guest, moved + (2 * Page)), Is.EqualTo(0x5A));
        Assert.That(Read(guest, moved + (10 * Page)), Is.EqualTo(0), "the grown tail");
        Assert.That(guest.Translate(At(2), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
    }

    [Test]
    public void MremapShrinkThenGrowInPlace_TailIsZero()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 8);
        Write(guest, At(1), 0x11);
        Write(guest, At(6), 0x66);

        Assert.That(guest.Mremap(At(0), 8 * Page, 4 * Page, MremapFlags.None, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(At(6), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(guest.Mremap(At(0), 4 * Page, 8 * Page, MremapFlags.None, 0, out ulong grown), Is.EqualTo(Errno.None));
        Assert.That(grown, Is.EqualTo(At(0)));
        Assert.That(Read(guest, At(1)), Is.EqualTo(0x11));
        Assert.That(Read(guest, At(6)), Is.EqualTo(0), "the page given up by the shrink");
    }

    [Test]
    public void MunmapThenMmap_ReadsZeroes()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        Write(guest, At(1) + 7, 0xEE);

        Assert.That(guest.Munmap(At(0), 4 * Page), Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(At(1), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        MapReadWrite(guest, At(0), 4);
        Assert.That(Read(guest, At(1) + 7), Is.EqualTo(0));
    }

    [Test]
    public void MmapFixedOverData_ReadsZeroes()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        Write(guest, At(2), 0x42);

        MapReadWrite(guest, At(2), 1);
        Assert.That(Read(guest, At(2)), Is.EqualTo(0));
    }

    [TestCase(DropAdvice.DontNeed)]
    [TestCase(DropAdvice.Free)]
    public void DropAdvice_ZeroFillsPrivateAnonymous(DropAdvice advice)
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        Write(guest, At(1), 0x33);
        Write(guest, At(3), 0x44);

        Assert.That(guest.Madvise(At(1), Page, advice), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, At(1)), Is.EqualTo(0));
        Assert.That(Read(guest, At(3)), Is.EqualTo(0x44), "a page outside the advice");
    }

    [Test]
    public void DropAdvice_Errors()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 2);
        Write(guest, At(0), 0x21);

        Assert.That(guest.Madvise(At(0) + 1, Page, DropAdvice.DontNeed), Is.EqualTo(Errno.EINVAL), "unaligned");
        Assert.That(guest.Madvise(At(0), Page, DropAdvice.Remove), Is.EqualTo(Errno.EINVAL), "remove on private memory");
        Assert.That(Read(guest, At(0)), Is.EqualTo(0x21), "nothing dropped by the refused advices");
        Assert.That(guest.Madvise(At(0), 4 * Page, DropAdvice.DontNeed), Is.EqualTo(Errno.ENOMEM), "a hole in the range");
        Assert.That(Read(guest, At(0)), Is.EqualTo(0), "the mapped part is dropped anyway");
        Assert.That(guest.Mlock(At(1), Page), Is.EqualTo(Errno.None));
        Assert.That(guest.Madvise(At(1), Page, DropAdvice.DontNeed), Is.EqualTo(Errno.EINVAL), "a locked VMA");
    }

    [Test]
    public void BrkGrowShrinkGrow_ReadsZeroes()
    {
        using GuestMemory guest = Create();
        ulong start = guest.Space.CurrentBrk;
        Assert.That(guest.Brk(start + (4 * Page), out ulong top), Is.EqualTo(Errno.None));
        Assert.That(top, Is.EqualTo(start + (4 * Page)));
        Write(guest, start + (3 * Page), 0x77);
        Assert.That(guest.Brk(start + Page, out _), Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(start + (3 * Page), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(guest.Brk(start + (4 * Page), out _), Is.EqualTo(Errno.None));
        Assert.That(Read(guest, start + (3 * Page)), Is.EqualTo(0));
    }
}
