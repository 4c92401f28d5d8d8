using System.Collections.Generic;
using NUnit.Framework;
using VmaEngine.Vma;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// System calls with 64-bit edge values (TASK_SIZE, 2^47, 2^63, the last page of the 64-bit space, lengths that
/// wrap): each gives the kernel's result, and nothing is ever mapped outside [mmap_min_addr, TASK_SIZE). The
/// expected errnos were confirmed against the Linux 6.18 x86-64 kernel of the development machine, one system call
/// per forked child, at addresses where the result does not depend on the process's own layout.
/// </summary>
[TestFixture]
public class SyscallEdgeValueTests
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong TaskSize = MmConstants.TaskSize;
    private const ulong LastPage = ulong.MaxValue - Page + 1;
    private const ulong Base = 0x1000_0000;
    private const MapFlags FixedAnonymous = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    /// <summary>Addresses at and beyond TASK_SIZE.</summary>
    private static readonly ulong[] s_beyondTaskSize = [TaskSize, TaskSize + Page, 1UL << 63, LastPage];

    private static IEnumerable<TestCaseData> BeyondTaskSize()
    {
        foreach (ulong address in s_beyondTaskSize)
        {
            // munmap: the range must lie below TASK_SIZE (EINVAL).
            yield return Case("munmap", address, s => s.Munmap(address, Page), Errno.EINVAL);

            // mprotect: nothing mapped there (ENOMEM); the last page wraps the end to 0 (ENOMEM too).
            yield return Case("mprotect", address, s => s.Mprotect(address, Page, Prot.Read), Errno.ENOMEM);

            // madvise, mlock, munlock: a hole is ENOMEM; a range that wraps is EINVAL.
            Errno wrapOrHole = address == LastPage ? Errno.EINVAL : Errno.ENOMEM;
            yield return Case("madvise", address, s => s.Madvise(address, Page, Advice.Normal), wrapOrHole);
            yield return Case("mlock", address, s => s.Mlock(address, Page), wrapOrHole);
            yield return Case("munlock", address, s => s.Munlock(address, Page), wrapOrHole);

            // mremap: no VMA at the old address (EFAULT).
            yield return Case("mremap", address, s => s.Mremap(address, Page, 2 * Page, MremapFlags.MayMove, 0, out _), Errno.EFAULT);

            // mmap with MAP_FIXED: the range does not fit below TASK_SIZE (ENOMEM).
            yield return Case("mmap fixed", address, s => s.Mmap(address, Page, Prot.Read, FixedAnonymous, out _), Errno.ENOMEM);
        }

        // Ranges crossing TASK_SIZE and lengths that wrap.
        yield return Case("munmap across TASK_SIZE", TaskSize - Page, s => s.Munmap(TaskSize - Page, 2 * Page), Errno.EINVAL);
        yield return Case("munmap of 2^64-1 bytes", 0x10000, s => s.Munmap(0x10000, ulong.MaxValue), Errno.EINVAL);
        yield return Case("mprotect of 2^64-1 bytes", 0x10000, s => s.Mprotect(0x10000, ulong.MaxValue, Prot.Read), Errno.ENOMEM);
        yield return Case("madvise of 2^64-1 bytes", 0x10000, s => s.Madvise(0x10000, ulong.MaxValue, Advice.Normal), Errno.EINVAL);

        // mlock's length rounded up to pages wraps to 0: nothing to do, success.
        yield return Case("mlock of 2^64-1 bytes", 0x10000, s => s.Mlock(0x10000, ulong.MaxValue), Errno.None);
        yield return Case("mmap of 2^64-1 bytes", 0, s => s.Mmap(0, ulong.MaxValue, Prot.Read, MapFlags.Private | MapFlags.Anonymous, out _), Errno.ENOMEM);
        yield return Case("mmap of 2^64-2 pages", 0, s => s.Mmap(0, ulong.MaxValue - (2 * Page), Prot.Read, MapFlags.Private | MapFlags.Anonymous, out _), Errno.ENOMEM);
    }

    private static TestCaseData Case(string name, ulong address, System.Func<AddressSpace, Errno> call, Errno expected) =>
        new TestCaseData(call, expected).SetArgDisplayNames($"{name} 0x{address:x}");

    [TestCaseSource(nameof(BeyondTaskSize))]
    public void EdgeValuesGiveTheKernelsErrno(System.Func<AddressSpace, Errno> call, Errno expected)
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(TaskSize - (4 * Page), 4 * Page, Prot.Read | Prot.Write, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        string before = space.FormatMaps();

        Assert.That(call(space), Is.EqualTo(expected));
        Assert.That(space.FormatMaps(), Is.EqualTo(before), "the layout is unchanged");
    }

    private static IEnumerable<TestCaseData> UndefinedEnumValues()
    {
        const MapFlags Anonymous = MapFlags.Private | MapFlags.Anonymous;
        const MapFlags SharedValidate = (MapFlags)0x03;

        // mmap ignores unknown prot bits and unknown flag bits, unless MAP_SHARED_VALIDATE asks for the check.
        yield return Enum("mmap prot 0x43", s => s.Mmap(0, Page, (Prot)0x43, Anonymous, out _), Errno.None);
        yield return Enum("mmap prot ~EXEC", s => s.Mmap(0, Page, (Prot)unchecked((int)0xFFFF_FFFB), Anonymous, out _), Errno.None);
        yield return Enum("mmap prot GROWSDOWN", s => s.Mmap(0, Page, Prot.GrowsDown | Prot.Read, Anonymous, out _), Errno.None);
        yield return Enum("mmap flag 0x40000000", s => s.Mmap(0, Page, Prot.Read, Anonymous | (MapFlags)0x4000_0000, out _), Errno.None);
        yield return Enum("mmap MAP_SHARED_VALIDATE with flag 0x40000000", s => s.Mmap(0, Page, Prot.Read, MapFlags.Anonymous | SharedValidate | (MapFlags)0x4000_0000, out _), Errno.EINVAL);
        yield return Enum("mmap without a type", s => s.Mmap(0, Page, Prot.Read, MapFlags.Anonymous, out _), Errno.EINVAL);

        // mprotect, madvise and mremap refuse what they do not know.
        yield return Enum("mprotect prot 0x40", s => s.Mprotect(Base, Page, (Prot)0x40), Errno.EINVAL);
        yield return Enum("mprotect PROT_SEM", s => s.Mprotect(Base, Page, (Prot)0x08 | Prot.Read), Errno.None);
        yield return Enum("mprotect GROWSDOWN|GROWSUP", s => s.Mprotect(Base, Page, Prot.GrowsDown | Prot.GrowsUp | Prot.Read), Errno.EINVAL);
        yield return Enum("madvise 1000", s => s.Madvise(Base, Page, (Advice)1000), Errno.EINVAL);
        yield return Enum("madvise -1", s => s.Madvise(Base, Page, (Advice)(-1)), Errno.EINVAL);
        yield return Enum("mremap flags 0x80", s => s.Mremap(Base, Page, Page, (MremapFlags)0x80, 0, out _), Errno.EINVAL);
        yield return Enum("mremap flags MAYMOVE|0x80", s => s.Mremap(Base, Page, 2 * Page, MremapFlags.MayMove | (MremapFlags)0x80, 0, out _), Errno.EINVAL);
    }

    private static TestCaseData Enum(string name, System.Func<AddressSpace, Errno> call, Errno expected) =>
        new TestCaseData(call, expected).SetArgDisplayNames(name);

    /// <summary>Enum arguments outside their defined values, on a two-page private mapping at <see cref="Base"/>.</summary>
    [TestCaseSource(nameof(UndefinedEnumValues))]
    public void UndefinedEnumValuesGiveTheKernelsResult(System.Func<AddressSpace, Errno> call, Errno expected)
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 2 * Page, Prot.Read | Prot.Write, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(call(space), Is.EqualTo(expected));
    }

    /// <summary>Break values the kernel refuses, returning the old break: beyond TASK_SIZE, or wrapping PAGE_ALIGN.</summary>
    [TestCase(0x8000_0000_0000UL)]
    [TestCase(0xFFFF_FFFF_FFFF_DFFFUL)]
    [TestCase(ulong.MaxValue)]
    [TestCase(LastPage)]
    [TestCase(1UL << 63)]
    [TestCase(TaskSize + 1)]
    [TestCase(0x1000UL)]
    [TestCase(0UL)]
    public void BrkRefusesABreakBeyondTaskSizeOrBelowItsStart(ulong newBrk)
    {
        using var space = new AddressSpace();
        ulong start = space.Options.StartBrk;
        Assert.That(space.Brk(start + (3 * Page), out ulong grown), Is.EqualTo(Errno.None));

        Assert.That(space.Brk(newBrk, out ulong result), Is.EqualTo(Errno.ENOMEM));
        Assert.Multiple(() =>
        {
            Assert.That(result, Is.EqualTo(grown), "the old break is returned");
            Assert.That(space.CurrentBrk, Is.EqualTo(grown));
            Assert.That(space.MapCount, Is.EqualTo(1));
            Assert.That(space.Snapshot()[0].End, Is.EqualTo(grown));
        });
    }

    [Test]
    public void BrkGrowsUpToTaskSizeExactlyAndNoFurther()
    {
        using var space = new AddressSpace();
        Assert.That(space.Brk(TaskSize, out ulong result), Is.EqualTo(Errno.None));
        Assert.That(result, Is.EqualTo(TaskSize));
        Assert.That(space.Snapshot()[0].End, Is.EqualTo(TaskSize));

        Assert.That(space.Brk(TaskSize + 1, out result), Is.EqualTo(Errno.ENOMEM));
        Assert.That(result, Is.EqualTo(TaskSize));
        Assert.That(space.Brk(space.Options.StartBrk, out result), Is.EqualTo(Errno.None), "shrinking back is allowed");
        Assert.That(space.MapCount, Is.Zero);
    }
}
