using System;
using NUnit.Framework;
using VmaEngine.Native;

namespace Tests.Native;

[TestFixture]
public unsafe class OsPagesTests
{
    private static readonly nuint s_page = OsPages.PageSize;

    [Test]
    public void PageSizeIsAPowerOfTwo()
    {
        Assert.That(s_page, Is.GreaterThanOrEqualTo((nuint)4096));
        Assert.That(s_page & (s_page - 1), Is.EqualTo((nuint)0));
    }

    [Test]
    public void ReservationIsAlignedForEveryAlignment([Values(1, 4096, 8192, 65536, 1 << 20, 2 << 20, 4 << 20, 1 << 30)] int alignment)
    {
        using PageRegion region = OsPages.Reserve(3 * s_page, (nuint)alignment);
        nuint effective = Math.Max((nuint)alignment, s_page);
        Assert.That((nuint)region.BaseAddress % effective, Is.EqualTo((nuint)0));
        Assert.That(region.Size, Is.EqualTo(3 * s_page));
    }

    [Test]
    public void FreshPagesReadAsZeroAndRoundTripWrites()
    {
        using PageRegion region = OsPages.Reserve(4 * s_page, 2 << 20);
        region.Commit(0, 4 * s_page);
        var bytes = new ReadOnlySpan<byte>(region.BaseAddress, (int)(4 * s_page));
        Assert.That(bytes.ContainsAnyExcept((byte)0), Is.False);

        for (int i = 0; i < (int)(4 * s_page); i += 97)
        {
            region.BaseAddress[i] = (byte)(i * 31);
        }

        for (int i = 0; i < (int)(4 * s_page); i += 97)
        {
            Assert.That(region.BaseAddress[i], Is.EqualTo((byte)(i * 31)));
        }
    }

    [Test]
    public void ProtectToReadOnlyAndBackKeepsContents()
    {
        using PageRegion region = OsPages.Reserve(2 * s_page, s_page);
        region.Commit(0, 2 * s_page);
        region.BaseAddress[5] = 42;
        region.Protect(0, 2 * s_page, PageProtection.Read);
        Assert.That(region.BaseAddress[5], Is.EqualTo((byte)42));
        region.Protect(0, 2 * s_page, PageProtection.ReadWrite);
        region.BaseAddress[5] = 43;
        Assert.That(region.BaseAddress[5], Is.EqualTo((byte)43));
    }

    [Test]
    public void DecommitThenCommitGivesZeroesAgain()
    {
        using PageRegion region = OsPages.Reserve(2 * s_page, s_page);
        region.Commit(0, 2 * s_page);
        region.BaseAddress[0] = 1;
        region.BaseAddress[s_page + 1] = 2;
        region.Decommit(s_page, s_page);
        region.Commit(s_page, s_page);
        Assert.That(region.BaseAddress[0], Is.EqualTo((byte)1), "the page outside the decommitted range keeps its contents");
        Assert.That(region.BaseAddress[s_page + 1], Is.EqualTo((byte)0));
    }

    [Test]
    public void AdviseDontNeedZeroesButKeepsAccess()
    {
        using PageRegion region = OsPages.Reserve(s_page, s_page);
        region.Commit(0, s_page);
        region.BaseAddress[7] = 9;
        region.AdviseDontNeed(0, s_page);
        Assert.That(region.BaseAddress[7], Is.EqualTo((byte)0));
        region.BaseAddress[7] = 10;
        Assert.That(region.BaseAddress[7], Is.EqualTo((byte)10));
    }

    [Test]
    public void ReleaseTwiceIsHarmless()
    {
        PageRegion region = OsPages.Reserve(s_page, s_page);
        region.Dispose();
        Assert.That(region.IsClosed, Is.True);
        Assert.DoesNotThrow(region.Dispose);
        Assert.Throws<ObjectDisposedException>(() => region.Commit(0, s_page));
    }

    [Test]
    public void BadReserveArgumentsAreRejected()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => OsPages.Reserve(0, s_page), Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo("size"));
            Assert.That(() => OsPages.Reserve(s_page + 1, s_page), Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo("size"));
            Assert.That(() => OsPages.Reserve(s_page, 0), Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo("alignment"));
            Assert.That(() => OsPages.Reserve(s_page, 3 * s_page), Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo("alignment"));
            Assert.That(() => OsPages.Reserve(nuint.MaxValue & ~(s_page - 1), 2 << 20), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("size"));
        });
    }

    [Test]
    public void BadRangeArgumentsAreRejected()
    {
        using PageRegion region = OsPages.Reserve(2 * s_page, s_page);
        Assert.Multiple(() =>
        {
            Assert.That(() => region.Commit(0, 0), Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo("length"));
            Assert.That(() => region.Commit(1, s_page), Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo("offset"));
            Assert.That(() => region.Commit(0, s_page + 5), Throws.InstanceOf<ArgumentException>().With.Property("ParamName").EqualTo("length"));
            Assert.That(() => region.Commit(s_page, 2 * s_page), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("length"));
            Assert.That(() => region.Decommit(2 * s_page, s_page), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => region.Protect(nuint.MaxValue & ~(s_page - 1), 2 * s_page, PageProtection.Read), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void HugeReservationFailsCleanlyNamingCallSizeAndErrno()
    {
        ulong onePebibyte = 1UL << 50;
        OsPagesException ex = Assert.Throws<OsPagesException>(() => OsPages.Reserve((nuint)onePebibyte, s_page))!;
        Assert.That(ex.Call, Is.EqualTo("mmap"));
        Assert.That(ex.Size, Is.EqualTo(onePebibyte));
        Assert.That(ex.Message, Does.Contain("mmap").And.Contain(onePebibyte.ToString()).And.Contain("ENOMEM"));

        // The failure leaked nothing: a normal reservation still works.
        using PageRegion region = OsPages.Reserve(s_page, s_page);
        Assert.That(region.IsInvalid, Is.False);
    }
}
