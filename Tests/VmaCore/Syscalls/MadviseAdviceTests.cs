using System;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// The madvise advices of v6.15 that act on pages (and mergeable/unmergeable): the per-VMA checks of
/// <c>mm/madvise.c</c> on each kind of VMA, the populate advices and the capability-checked ones.
/// </summary>
public sealed class MadviseAdviceTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const MapFlags SharedFixed = MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed;

    /// <summary>The kind of VMA each case advises at page 0 (4 pages).</summary>
    public enum Kind
    {
        AnonPrivate,
        SharedAnon,
        Locked,
        FilePrivate,
        FileShared,
    }

    private static AddressSpace Make(Kind kind, FileRegistry files)
    {
        var space = new AddressSpace();
        MappedFile file = files.Open("f", 1024);
        Errno errno = kind switch
        {
            Kind.AnonPrivate => space.Mmap(P(0), L(4), Rw, AnonFixed, out _),
            Kind.SharedAnon => space.Mmap(P(0), L(4), Rw, SharedFixed, out _),
            Kind.Locked => space.Mmap(P(0), L(4), Rw, AnonFixed | MapFlags.Locked, out _),
            Kind.FilePrivate => space.Mmap(P(0), L(4), Rw, MapFlags.Private | MapFlags.Fixed, file, 0, out _),
            _ => space.Mmap(P(0), L(4), Rw, MapFlags.Shared | MapFlags.Fixed, file, 0, out _),
        };
        Assert.That(errno, Is.EqualTo(Errno.None));
        return space;
    }

    // The expected results are the oracle's (Linux 6.18 on x86-64), which v6.15 shares for these checks.
    [TestCase(Kind.AnonPrivate, Advice.DontNeed, Errno.None)]
    [TestCase(Kind.AnonPrivate, Advice.Free, Errno.None)]
    [TestCase(Kind.AnonPrivate, Advice.Remove, Errno.EINVAL)]
    [TestCase(Kind.AnonPrivate, Advice.WillNeed, Errno.None)]
    [TestCase(Kind.AnonPrivate, Advice.Cold, Errno.None)]
    [TestCase(Kind.AnonPrivate, Advice.PageOut, Errno.None)]
    [TestCase(Kind.SharedAnon, Advice.DontNeed, Errno.None)]
    [TestCase(Kind.SharedAnon, Advice.Free, Errno.EINVAL)]
    [TestCase(Kind.SharedAnon, Advice.Remove, Errno.None)]
    [TestCase(Kind.SharedAnon, Advice.Cold, Errno.None)]
    [TestCase(Kind.Locked, Advice.DontNeed, Errno.EINVAL)]
    [TestCase(Kind.Locked, Advice.DontNeedLocked, Errno.None)]
    [TestCase(Kind.Locked, Advice.Free, Errno.EINVAL)]
    [TestCase(Kind.Locked, Advice.Cold, Errno.EINVAL)]
    [TestCase(Kind.Locked, Advice.PageOut, Errno.EINVAL)]
    [TestCase(Kind.Locked, Advice.Remove, Errno.EINVAL)]
    [TestCase(Kind.Locked, Advice.WillNeed, Errno.None)]
    [TestCase(Kind.FilePrivate, Advice.Remove, Errno.EACCES)]
    [TestCase(Kind.FilePrivate, Advice.Free, Errno.EINVAL)]
    [TestCase(Kind.FileShared, Advice.Remove, Errno.None)]
    [TestCase(Kind.FileShared, Advice.Free, Errno.EINVAL)]
    public void PageAdviceChecksTheVmaAndChangesNothing(Kind kind, Advice advice, Errno expected)
    {
        using var files = new FileRegistry();
        using AddressSpace space = Make(kind, files);
        string before = Of(space);
        Assert.That(space.Madvise(P(0), L(4), advice), Is.EqualTo(expected));
        Assert.That(Of(space), Is.EqualTo(before));
    }

    [TestCase(Kind.AnonPrivate, true)]
    [TestCase(Kind.Locked, true)]
    [TestCase(Kind.FilePrivate, true)]
    [TestCase(Kind.SharedAnon, false)]
    [TestCase(Kind.FileShared, false)]
    public void MergeableSetsMgOnlyWhereKsmWorks(Kind kind, bool set)
    {
        using var files = new FileRegistry();
        using AddressSpace space = Make(kind, files);
        Assert.That(space.Madvise(P(0), L(4), Advice.Mergeable), Is.EqualTo(Errno.None));
        Assert.That((space.Snapshot()[0].Flags & VmFlags.Mergeable) != 0, Is.EqualTo(set));
        Assert.That(space.Madvise(P(0), L(4), Advice.Unmergeable), Is.EqualTo(Errno.None));
        Assert.That(space.Snapshot()[0].Flags & VmFlags.Mergeable, Is.EqualTo(VmFlags.None));
    }

    [Test]
    public void PopulateWriteGivesAnAnonVmaAndPopulateReadDoesNotWithTheZeroPage()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        Assert.That(space.Madvise(P(0), L(4), Advice.PopulateRead), Is.EqualTo(Errno.None));
        Assert.That(space.Snapshot()[0].AnonVmaId, Is.EqualTo((nuint)0));
        Assert.That(space.Madvise(P(0), L(4), Advice.PopulateWrite), Is.EqualTo(Errno.None));
        Assert.That(space.Snapshot()[0].AnonVmaId, Is.Not.EqualTo((nuint)0));
    }

    [Test]
    public void PopulateNeedsTheAccessAndStopsAtAHole()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Prot.Read, AnonFixed, out _);
        space.Mmap(P(4), L(4), Prot.None, AnonFixed, out _);
        space.Mmap(P(10), L(4), Rw, AnonFixed, out _);
        Assert.Multiple(() =>
        {
            Assert.That(space.Madvise(P(0), L(4), Advice.PopulateWrite), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Madvise(P(4), L(4), Advice.PopulateRead), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Madvise(P(8), L(6), Advice.PopulateWrite), Is.EqualTo(Errno.ENOMEM));
        });
        Assert.That(space.Snapshot()[2].AnonVmaId, Is.EqualTo((nuint)0), "nothing populated before the hole");
        Assert.That(space.Madvise(P(10), L(6), Advice.PopulateWrite), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.Snapshot()[2].AnonVmaId, Is.Not.EqualTo((nuint)0), "the mapped start was populated");
    }

    [Test]
    public void PopulateBeyondTheFileIsEfault()
    {
        using var files = new FileRegistry();
        using var space = new AddressSpace();
        MappedFile file = files.Open("small", 2);
        space.Mmap(P(0), L(4), Rw, MapFlags.Shared | MapFlags.Fixed, file, 0, out _);
        Assert.That(space.Madvise(P(0), L(4), Advice.PopulateRead), Is.EqualTo(Errno.EFAULT));
    }

    [Test]
    public void PageAdviceOverAHoleVisitsEveryPartThenEnomem()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        space.Mmap(P(8), L(4), Rw, AnonFixed | MapFlags.Locked, out _);
        Assert.That(space.Madvise(P(0), L(12), Advice.WillNeed), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.Madvise(P(0), L(12), Advice.DontNeed), Is.EqualTo(Errno.EINVAL), "the locked part fails first");
    }

    [TestCase(Advice.HwPoison)]
    [TestCase(Advice.SoftOffline)]
    public void MemoryFailureAdvicesNeedCapSysAdminAndTheConfig(Advice advice)
    {
        using var root = new AddressSpace();
        root.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        Assert.That(root.Madvise(P(0), L(4), advice), Is.EqualTo(Errno.None));
        Assert.That(root.Madvise(P(8), L(1), advice), Is.EqualTo(Errno.EFAULT), "an unmapped page cannot be pinned");
        using var user = new AddressSpace(new AddressSpaceOptions { CapSysAdmin = false });
        Assert.That(user.Madvise(P(0), L(4), advice), Is.EqualTo(Errno.EPERM));
        using var host = new AddressSpace(AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost));
        Assert.That(host.Madvise(P(0), L(4), advice), Is.EqualTo(Errno.EINVAL), "no CONFIG_MEMORY_FAILURE");
    }

    [Test]
    public void CollapseNeedsAHugePageInTheVma()
    {
        const ulong hugePages = 512;
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        space.Mmap(P(hugePages), L(2 * hugePages), Rw, AnonFixed, out _);
        Assert.Multiple(() =>
        {
            Assert.That(space.Madvise(P(0), L(4), Advice.Collapse), Is.EqualTo(Errno.EINVAL), "too small");
            Assert.That(space.Madvise(P(hugePages), L(2 * hugePages), Advice.Collapse), Is.EqualTo(Errno.EINVAL), "nothing faulted");
        });
        space.Touch(P(hugePages), L(1));
        Assert.That(space.Madvise(P(hugePages), L(2 * hugePages), Advice.Collapse), Is.EqualTo(Errno.None));
        space.Madvise(P(hugePages), L(2 * hugePages), Advice.NoHugePage);
        Assert.That(space.Madvise(P(hugePages), L(2 * hugePages), Advice.Collapse), Is.EqualTo(Errno.EINVAL), "nohugepage");
    }

    [Test]
    public void EveryAdviceOfV615IsKnown()
    {
        int[] values = [0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 100, 101, 102, 103];
        Assert.That(Array.ConvertAll(Enum.GetValues<Advice>(), a => (int)a), Is.EquivalentTo(values));
        using var space = new AddressSpace();
        Assert.That(space.Madvise(P(0), L(1), (Advice)5), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Madvise(P(0), L(1), (Advice)26), Is.EqualTo(Errno.EINVAL));
    }
}
