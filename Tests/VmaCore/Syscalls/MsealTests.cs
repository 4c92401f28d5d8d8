using NUnit.Framework;
using VmaEngine.Vma;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>mseal and the seal checks of the other system calls (v6.15 <c>mm/mseal.c</c>, <c>can_modify_vma</c>).</summary>
public sealed class MsealTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    private static AddressSpace ThreeVmas()
    {
        var space = new AddressSpace();
        Assert.That(space.Mmap(P(0), L(4), Rw, AnonFixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(4), L(4), Prot.Read, AnonFixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(8), L(4), Rw, AnonFixed, out _), Is.EqualTo(Errno.None));
        return space;
    }

    [Test]
    public void SealSplitsAndMarksTheRange()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(12), Rw, AnonFixed, out _);
        Assert.That(space.Mseal(P(4), L(4), 0), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,me,mr,mw,rd,wr | 4-8 rw-p - - ac,me,mr,mw,rd,sl,wr | 8-12 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void SealedNeighboursOfEqualFlagsMerge()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(8), Rw, AnonFixed, out _);
        space.Mseal(P(0), L(2), 0);
        space.Mseal(P(2), L(2), 0);
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,me,mr,mw,rd,sl,wr | 4-8 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void ArgumentErrors()
    {
        using var space = ThreeVmas();
        Assert.Multiple(() =>
        {
            Assert.That(space.Mseal(P(0), L(4), 1), Is.EqualTo(Errno.EINVAL), "flags");
            Assert.That(space.Mseal(P(0) + 1, L(4), 0), Is.EqualTo(Errno.EINVAL), "unaligned");
            Assert.That(space.Mseal(P(0), ulong.MaxValue, 0), Is.EqualTo(Errno.EINVAL), "length rounds to 0");
            Assert.That(space.Mseal(P(20), 0, 0), Is.EqualTo(Errno.None), "zero length");
        });
    }

    [Test]
    public void AHoleIsEnomemAndNothingIsSealed()
    {
        using var space = ThreeVmas();
        space.Munmap(P(4), L(4));
        string before = Of(space);
        Assert.That(space.Mseal(P(0), L(12), 0), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.Mseal(P(2), L(12), 0), Is.EqualTo(Errno.ENOMEM), "past the last VMA");
        Assert.That(Of(space), Is.EqualTo(before));
    }

    [Test]
    public void MunmapOfSealedIsEpermAndKeepsTheSplitBeforeIt()
    {
        using var space = ThreeVmas();
        space.Mseal(P(4), L(4), 0);
        Assert.That(space.Munmap(P(4), L(4)), Is.EqualTo(Errno.EPERM));
        Assert.That(space.Munmap(P(2), L(4)), Is.EqualTo(Errno.EPERM));
        Assert.That(Of(space), Does.StartWith("0-2 rw-p - - ac,me,mr,mw,rd,wr | 2-4 rw-p - - ac,me,mr,mw,rd,wr | 4-8 r--p - - me,mr,mw,rd,sl"));
    }

    [Test]
    public void MapFixedOverSealedIsEperm()
    {
        using var space = ThreeVmas();
        space.Mseal(P(4), L(4), 0);
        string before = Of(space);
        Assert.That(space.Mmap(P(4), L(2), Rw, AnonFixed, out _), Is.EqualTo(Errno.EPERM));
        Assert.That(Of(space), Is.EqualTo(before));
    }

    [Test]
    public void MremapOfOrOntoSealedIsEperm()
    {
        using var space = ThreeVmas();
        space.Mseal(P(4), L(4), 0);
        string before = Of(space);
        Assert.Multiple(() =>
        {
            Assert.That(space.Mremap(P(4), L(4), L(4), MremapFlags.MayMove | MremapFlags.Fixed, P(20), out _), Is.EqualTo(Errno.EPERM));
            Assert.That(space.Mremap(P(4), L(4), L(2), MremapFlags.None, 0, out _), Is.EqualTo(Errno.EPERM), "shrink");
            Assert.That(space.Mremap(P(0), L(4), L(4), MremapFlags.MayMove | MremapFlags.Fixed, P(4), out _), Is.EqualTo(Errno.EPERM), "onto");
        });
        Assert.That(Of(space), Is.EqualTo(before));
    }

    [Test]
    public void MprotectStopsAtTheFirstSealedVma()
    {
        using var space = ThreeVmas();
        space.Mseal(P(4), L(4), 0);
        Assert.That(space.Mprotect(P(0), L(12), Prot.Read), Is.EqualTo(Errno.EPERM));
        Assert.That(space.Mprotect(P(4), L(4), Prot.Read), Is.EqualTo(Errno.EPERM), "even without a change");
        Assert.That(Of(space), Is.EqualTo("0-4 r--p - - me,mr,mw,rd | 4-8 r--p - - me,mr,mw,rd,sl | 8-12 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [TestCase(Advice.DontNeed)]
    [TestCase(Advice.Free)]
    [TestCase(Advice.Remove)]
    [TestCase(Advice.DontFork)]
    [TestCase(Advice.WipeOnFork)]
    [TestCase(Advice.GuardInstall)]
    [TestCase(Advice.DontNeedLocked)]
    public void DestructiveAdviceOnSealedReadOnlyAnonymousIsEperm(Advice advice)
    {
        using var space = ThreeVmas();
        space.Mseal(P(0), L(12), 0);
        Assert.That(space.Madvise(P(4), L(4), advice), Is.EqualTo(Errno.EPERM), "read-only");
        Assert.That(space.Madvise(P(0), L(4), advice) != Errno.EPERM, Is.True, "writable memory is not protected by the seal");
    }

    [Test]
    public void FlagAdvicesAndMlockStillChangeASealedVma()
    {
        using var space = ThreeVmas();
        space.Mseal(P(4), L(4), 0);
        Assert.That(space.Madvise(P(4), L(4), Advice.HugePage), Is.EqualTo(Errno.None));
        Assert.That(space.Madvise(P(4), L(4), Advice.Mergeable), Is.EqualTo(Errno.None));
        Assert.That(space.Mlock(P(4), L(4)), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Does.Contain("4-8 r--p - - hg,lo,me,mg,mr,mw,rd,sl"));
    }
}
