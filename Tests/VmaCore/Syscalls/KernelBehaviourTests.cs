using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// The real-kernel behaviours the syscall layer reproduces (the oracle's FORMAT.md example and NOTES.md findings),
/// each under the profile where the kernel shows it.
/// </summary>
public sealed class KernelBehaviourTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonPrivate = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    private static AddressSpace V615() => new(AddressSpaceOptions.ForProfile("v6.15"));

    private static AddressSpace Host() => new(AddressSpaceOptions.ForProfile("oracle-host"));

    private static void Map(AddressSpace space, ulong page, ulong pages, Prot prot, MapFlags extra = MapFlags.None)
    {
        Assert.That(space.Mmap(P(page), L(pages), prot, AnonPrivate | extra, out ulong mapped), Is.EqualTo(Errno.None));
        Assert.That(mapped, Is.EqualTo(P(page)));
    }

    [Test]
    public void FormatExample_MprotectSplitsThenFailsOnHole()
    {
        using AddressSpace space = Host();
        Map(space, 0, 12, Rw);
        Assert.That(space.Mprotect(P(4), L(4), Prot.Read), Is.EqualTo(Errno.None));
        const string Expected = "0-4 rw-p - - ac,me,mr,mw,rd,wr | 4-8 r--p - - me,mr,mw,rd | 8-12 rw-p - - ac,me,mr,mw,rd,wr";
        Assert.That(Of(space), Is.EqualTo(Expected));
        Assert.That(space.Mprotect(P(20), L(4), Prot.Read), Is.EqualTo(Errno.ENOMEM));
        Assert.That(Of(space), Is.EqualTo(Expected));
        Assert.That(space.MapCount, Is.EqualTo(3));
    }

    [Test]
    public void ReadOnlyPrivateIsNotAccounted_UntilMadeWritable()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Prot.Read);
        Map(space, 4, 4, Rw);
        Assert.That(space.MapCount, Is.EqualTo(2), "r and rw (ac) do not merge");
        Assert.That(space.Mprotect(P(0), L(4), Rw), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-8 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void MprotectReadOnly_DropsAccount_OnlyWhileUntouched()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Rw);
        Map(space, 4, 4, Prot.Read);
        Assert.That(space.Mprotect(P(0), L(4), Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-8 r--p - - me,mr,mw,rd"), "untouched: ac dropped, merges with r");

        using AddressSpace touched = V615();
        Map(touched, 0, 4, Rw);
        Map(touched, 4, 4, Prot.Read);
        Assert.That(touched.Touch(P(0), L(4)), Is.EqualTo(Errno.None));
        Assert.That(touched.Mprotect(P(0), L(4), Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(Of(touched), Is.EqualTo("0-4 r--p - - ac,me,mr,mw,rd | 4-8 r--p - - me,mr,mw,rd"));
    }

    [Test]
    public void PrivateFileKeepsAccount_WhenMadeReadOnly()
    {
        using var files = new FileRegistry();
        MappedFile file = files.Open("f", 262144);
        using AddressSpace space = V615();
        Assert.That(space.Mmap(P(0), L(4), Rw, MapFlags.Private | MapFlags.Fixed, file, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(P(0), L(4), Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 r--p 0 f ac,me,mr,mw,rd"));
    }

    [Test]
    public void FirstFaultReusesNeighboursAnonVma()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Rw);
        Map(space, 4, 4, Rw | Prot.Exec);
        Assert.That(space.Touch(P(0), L(4)), Is.EqualTo(Errno.None));
        Assert.That(space.Touch(P(4), L(4)), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(P(4), L(4), Rw), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-8 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void NeighbourDifferingInDontCopy_GetsItsOwnAnonVma()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Rw);
        Map(space, 4, 4, Rw | Prot.Exec);
        Assert.That(space.Madvise(P(4), L(4), Advice.DontFork), Is.EqualTo(Errno.None));
        Assert.That(space.Touch(P(0), L(8)), Is.EqualTo(Errno.None));
        Assert.That(space.Madvise(P(4), L(4), Advice.DoFork), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(P(4), L(4), Rw), Is.EqualTo(Errno.None));
        Assert.That(space.MapCount, Is.EqualTo(2), "distinct anon_vmas never merge");
    }

    [Test]
    public void NoZeroPage_ReadPopulateCreatesAnonVma()
    {
        // 20-24 is touched: the new 24-28 can join only one anon_vma.
        using AddressSpace host = Host();
        Map(host, 20, 4, Rw);
        Assert.That(host.Touch(P(20), L(4)), Is.EqualTo(Errno.None));
        Map(host, 28, 4, Prot.Read, MapFlags.Populate);
        Assert.That(host.Mprotect(P(28), L(4), Rw), Is.EqualTo(Errno.None));
        Map(host, 24, 4, Rw);
        Assert.That(Of(host), Is.EqualTo("20-28 rw-p - - ac,me,mr,mw,rd,wr | 28-32 rw-p - - ac,me,mr,mw,rd,wr"), "no zero page: 28-32 has its own anon_vma");

        using AddressSpace stock = V615();
        Map(stock, 20, 4, Rw);
        Assert.That(stock.Touch(P(20), L(4)), Is.EqualTo(Errno.None));
        Map(stock, 28, 4, Prot.Read, MapFlags.Populate);
        Assert.That(stock.Mprotect(P(28), L(4), Rw), Is.EqualTo(Errno.None));
        Map(stock, 24, 4, Rw);
        Assert.That(Of(stock), Is.EqualTo("20-32 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void Madvise_AcrossHole_ChangesEveryPart_ThenEnomem()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Rw);
        Map(space, 8, 4, Rw);
        Assert.That(space.Madvise(P(0), L(12), Advice.DontDump), Is.EqualTo(Errno.ENOMEM));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,dd,me,mr,mw,rd,wr | 8-12 rw-p - - ac,dd,me,mr,mw,rd,wr"));
    }

    [Test]
    public void MprotectAndMlock_StopAtHole()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Rw);
        Map(space, 8, 4, Rw);
        Assert.That(space.Mprotect(P(0), L(12), Prot.Read), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.Mlock(P(0), L(12)), Is.EqualTo(Errno.ENOMEM));
        Assert.That(Of(space), Is.EqualTo("0-4 r--p - - lo,me,mr,mw,rd | 8-12 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void MlockOfProtNone_IsEnomem_YetLocks()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Prot.None);
        Assert.That(space.Mlock(P(0), L(4)), Is.EqualTo(Errno.ENOMEM));
        Assert.That(Of(space), Is.EqualTo("0-4 ---p - - lo,me,mr,mw"));
    }

    [Test]
    public void MremapGrowInPlace_MergesWithNext_OnlyFromVmaEnd()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Rw);
        Map(space, 8, 4, Rw);
        Assert.That(space.Mprotect(P(2), L(2), Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(space.Mremap(P(0), L(2), L(3), MremapFlags.None, 0, out _), Is.EqualTo(Errno.ENOMEM), "range does not end at its VMA's end");
        Assert.That(space.Mprotect(P(2), L(2), Rw), Is.EqualTo(Errno.None));
        Assert.That(space.Mremap(P(0), L(4), L(8), MremapFlags.None, 0, out ulong result), Is.EqualTo(Errno.None));
        Assert.That(result, Is.EqualTo(P(0)));
        Assert.That(Of(space), Is.EqualTo("0-12 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void MremapMove_UntouchedMerges_TouchedKeepsPgoff_AndMergesBackHome()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Rw);
        Map(space, 4, 4, Rw);
        Map(space, 20, 4, Rw);
        Assert.That(space.Munmap(P(4), L(4)), Is.EqualTo(Errno.None));
        const MremapFlags Move = MremapFlags.MayMove | MremapFlags.Fixed;

        // Untouched: gets a new pgoff and merges at its destination.
        Assert.That(space.Mremap(P(20), L(4), L(4), Move, P(4), out _), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-8 rw-p - - ac,me,mr,mw,rd,wr"));

        // Touched: keeps its pgoff, so it does not merge away from home, and merges again when moved back.
        Assert.That(space.Touch(P(0), L(8)), Is.EqualTo(Errno.None));
        Assert.That(space.Mremap(P(4), L(4), L(4), Move, P(30), out _), Is.EqualTo(Errno.None));
        Map(space, 26, 4, Rw);
        Assert.That(space.Touch(P(26), L(4)), Is.EqualTo(Errno.None));
        Assert.That(space.MapCount, Is.EqualTo(3));
        Assert.That(space.Mremap(P(30), L(4), L(4), Move, P(4), out _), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-8 rw-p - - ac,me,mr,mw,rd,wr | 26-30 rw-p - - ac,me,mr,mw,rd,wr"));
    }

    [Test]
    public void MremapAcrossVmas_EfaultOnV615_MovesEachOnOracleHost()
    {
        const MremapFlags Move = MremapFlags.MayMove | MremapFlags.Fixed;
        using AddressSpace stock = V615();
        Map(stock, 0, 4, Rw);
        Map(stock, 4, 4, Prot.Read);
        Map(stock, 40, 4, Prot.Read);
        Assert.That(stock.Mremap(P(0), L(8), L(8), Move, P(40), out _), Is.EqualTo(Errno.EFAULT));
        Assert.That(Of(stock), Is.EqualTo("0-4 rw-p - - ac,me,mr,mw,rd,wr | 4-8 r--p - - me,mr,mw,rd"), "v6.15 unmapped the destination first");

        using AddressSpace host = Host();
        Map(host, 0, 4, Rw);
        Map(host, 6, 2, Prot.Read);
        Map(host, 40, 12, Prot.Read);
        Assert.That(host.Mremap(P(0), L(8), L(8), Move, P(40), out ulong result), Is.EqualTo(Errno.None));
        Assert.That(result, Is.EqualTo(P(40)));
        // The gap 4-6 is kept: 6-8 lands at 46-48 and, untouched, merges with the rest of the old 40-52.
        Assert.That(Of(host), Is.EqualTo("40-44 rw-p - - ac,me,mr,mw,rd,wr | 44-52 r--p - - me,mr,mw,rd"));
        Assert.That(host.Mremap(P(40), L(8), L(9), Move, P(0), out _), Is.EqualTo(Errno.EFAULT));
        Assert.That(host.MapCount, Is.EqualTo(2), "6.17 checks the source before unmapping anything");
    }

    [Test]
    public void MremapOldLengthZero_OnPrivate_IsEinval()
    {
        using AddressSpace space = V615();
        Map(space, 0, 4, Rw);
        Assert.That(space.Mremap(P(0), 0, L(4), MremapFlags.MayMove, 0, out _), Is.EqualTo(Errno.EINVAL));
    }

    [Test]
    public void Growsdown_ExpandsOnTouch_RespectsGuardGap_NeverMerges()
    {
        using AddressSpace space = V615();
        Map(space, 1000, 4, Rw, MapFlags.GrowsDown);
        Assert.That(space.Touch(P(990), L(1)), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("990-1004 rw-p - - ac,gd,me,mr,mw,rd,wr"));

        Map(space, 700, 4, Rw);
        Assert.That(space.Touch(P(900), L(1)), Is.EqualTo(Errno.EFAULT), "an accessible VMA within 256 pages below");
        Assert.That(space.Mprotect(P(700), L(4), Prot.None), Is.EqualTo(Errno.None));
        Assert.That(space.Touch(P(900), L(1)), Is.EqualTo(Errno.None), "PROT_NONE does not stop it");

        Map(space, 880, 4, Rw, MapFlags.GrowsDown);
        Assert.That(space.Touch(P(884), L(1)), Is.EqualTo(Errno.None), "runs into an identical growsdown VMA");
        Assert.That(Of(space), Does.Contain("880-884 rw-p - - ac,gd,me,mr,mw,rd,wr | 884-1004 rw-p - - ac,gd,me,mr,mw,rd,wr"));
    }

    [Test]
    public void SharedGrowsdown_IsEinval_AndSharedAnonObjectsNeverMerge()
    {
        using AddressSpace space = V615();
        Assert.That(space.Mmap(P(0), L(4), Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed | MapFlags.GrowsDown, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Mmap(P(0), L(4), Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(4), L(4), Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(P(2), L(4), Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(P(2), L(4), Rw), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-s 0 [anon_shared] me,mr,ms,mw,rd,sh,wr | 4-8 rw-s 0 [anon_shared] me,mr,ms,mw,rd,sh,wr"));
    }

    [Test]
    public void HugepageAdvice_NeverReturnsToNeither()
    {
        using AddressSpace space = V615();
        Map(space, 0, 8, Rw);
        Assert.That(space.Madvise(P(0), L(4), Advice.HugePage), Is.EqualTo(Errno.None));
        Assert.That(space.Madvise(P(0), L(4), Advice.NoHugePage), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,me,mr,mw,nh,rd,wr | 4-8 rw-p - - ac,me,mr,mw,rd,wr"));
        Assert.That(space.Madvise(P(0), L(8), Advice.WipeOnFork), Is.EqualTo(Errno.None));
    }

    [Test]
    public void TouchPastEndOfFile_FailsAtThatPage()
    {
        using var files = new FileRegistry();
        MappedFile file = files.Open("small", 6);
        using AddressSpace space = V615();
        Assert.That(space.Mmap(P(0), L(4), Rw, MapFlags.Shared | MapFlags.Fixed, file, L(2), out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mremap(P(0), L(4), L(8), MremapFlags.None, 0, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Touch(P(0), L(8)), Is.EqualTo(Errno.EFAULT));
        Assert.That(space.Fault(P(3), FaultAccess.Write), Is.EqualTo(FaultResult.Ok));
        Assert.That(space.Fault(P(4), FaultAccess.Read), Is.EqualTo(FaultResult.SigBus));
        Assert.That(space.Fault(P(9), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));
        Assert.That(Of(space), Is.EqualTo("0-8 rw-s 2 small me,mr,ms,mw,rd,sh,wr"));
    }

    [Test]
    public void AnonNames_MergeByText_AndAreEinvalWithoutConfig()
    {
        using AddressSpace space = V615();
        Map(space, 0, 8, Rw);
        Assert.That(space.SetAnonName(P(0), L(4), "heap"), Is.EqualTo(Errno.None));
        Assert.That(space.SetAnonName(P(4), L(4), "heap"), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-8 rw-p - [anon:heap] ac,me,mr,mw,rd,wr"));
        Assert.That(space.SetAnonName(P(2), L(2), null), Is.EqualTo(Errno.None));
        Assert.That(space.MapCount, Is.EqualTo(3));
        Assert.That(space.SetAnonName(P(0), L(1), "bad[name]"), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.SetAnonName(P(0), L(1), new string('x', 80)), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.SetAnonName(P(0), L(1), new string('x', 79)), Is.EqualTo(Errno.None));

        using AddressSpace host = Host();
        Map(host, 0, 8, Rw);
        Assert.That(host.SetAnonName(P(0), L(4), "heap"), Is.EqualTo(Errno.EINVAL));
    }

    [Test]
    public void FormatMaps_PrintsKernelLines()
    {
        using var files = new FileRegistry();
        using AddressSpace space = V615();
        Map(space, 0, 2, Rw);
        Assert.That(space.SetAnonName(P(0), L(2), "x"), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(4), L(1), Prot.Read, MapFlags.Private | MapFlags.Fixed, files.Open("lib.so", 16), L(3), out _), Is.EqualTo(Errno.None));
        string[] lines = space.FormatMaps().Split('\n');
        Assert.That(lines[0], Is.EqualTo("1000000000-1000002000 rw-p 00000000 00:00 0 ".PadRight(72) + " [anon:x]"));
        Assert.That(lines[1], Is.EqualTo("VmFlags: rd wr mr mw me ac sd "));
        Assert.That(lines[2], Does.StartWith("1000004000-1000005000 r--p 00003000 00:01 ").And.EndWith(" lib.so"));
        Assert.That(lines[2].IndexOf("lib.so", System.StringComparison.Ordinal), Is.EqualTo(73));
    }
}
