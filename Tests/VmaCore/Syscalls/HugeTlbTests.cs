using NUnit.Framework;
using VmaEngine.Vma;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>
/// MAP_HUGETLB anonymous memory (v6.15 <c>ksys_mmap_pgoff</c>, <c>hugetlbfs_file_mmap</c>,
/// <c>hugetlb_get_unmapped_area</c>, <c>hugetlb_vm_op_split</c>, <c>mremap</c>'s <c>align_hugetlb</c>) on a kernel
/// whose hugetlb pools are empty. Every expectation here was measured on the oracle's machine (Linux
/// 6.18.44-fc-v1045, <c>/proc/sys/vm/nr_hugepages</c> 0, only <c>hugepages-2048kB</c>, no <c>pdpe1gb</c>) with a C
/// program calling the system calls directly; the facts are quoted at each test. The oracle's trace format has no
/// MAP_HUGETLB, so these are unit tests.
/// </summary>
public sealed class HugeTlbTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags Huge = MapFlags.Private | MapFlags.Anonymous | MapFlags.HugeTlb;
    private const MapFlags HugeNoReserve = Huge | MapFlags.NoReserve;

    /// <summary>Pages in a 2 MiB huge page.</summary>
    private const ulong H = 512;

    private const string HugeFlags = "de,ht,me,mr,mw,nr,rd,wr";

    private static AddressSpace Host() => new(AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost));

    private static string HugeVma(ulong startPage, ulong endPage, ulong pgoff, string perms = "rw-p", string flags = HugeFlags) =>
        $"{startPage}-{endPage} {perms} {pgoff} /anon_hugepage (deleted) {flags}";

    /// <summary>Measured: private and shared MAP_HUGETLB without MAP_NORESERVE are ENOMEM (the reservation fails).</summary>
    [Test]
    public void WithoutNoReserveTheReservationFails()
    {
        using AddressSpace space = Host();
        Assert.That(space.Mmap(0, 4096, Rw, Huge, out _), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.Mmap(0, 4096, Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.HugeTlb, out _), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.Mmap(P(0), 4096, Rw, Huge | MapFlags.Fixed, out _), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.MapCount, Is.Zero);
    }

    /// <summary>
    /// Measured: with MAP_NORESERVE a 4096-byte request maps one 2 MiB huge page at a 2 MiB-aligned address, a file
    /// VMA at offset 0 named <c>/anon_hugepage (deleted)</c> with VmFlags <c>rd wr mr mw me de nr ht</c> (no
    /// <c>ac</c>), and VmSize and VmData grow by 2048 kB.
    /// </summary>
    [Test]
    public void NoReserveMapsAWholeHugePage()
    {
        using AddressSpace space = Host();
        Assert.That(space.Mmap(0, 4096, Rw, HugeNoReserve, out ulong mapped), Is.EqualTo(Errno.None));
        Assert.That(mapped % (2UL << 20), Is.Zero);
        VmaInfo vma = space.Snapshot()[0];
        Assert.That(vma.End - vma.Start, Is.EqualTo(2UL << 20));
        Assert.That(vma.Backing, Is.EqualTo(VmaBacking.File));
        Assert.That(vma.FileName, Is.EqualTo("/anon_hugepage (deleted)"));
        Assert.That(vma.Pgoff, Is.Zero);
        Assert.That(vma.Flags & (VmFlags.HugeTlb | VmFlags.DontExpand | VmFlags.NoReserve | VmFlags.Account),
            Is.EqualTo(VmFlags.HugeTlb | VmFlags.DontExpand | VmFlags.NoReserve));
        Assert.That(space.Counters.TotalVm, Is.EqualTo(H));
        Assert.That(space.Counters.DataVm, Is.EqualTo(H));
    }

    /// <summary>
    /// Measured: MAP_HUGE_1GB is EINVAL with or without MAP_NORESERVE (no 1 GiB hstate without <c>pdpe1gb</c>), as
    /// is an unknown size (log2 22) and a zero length; MAP_HUGE_2MB is the default size.
    /// </summary>
    [Test]
    public void PageSizes()
    {
        using AddressSpace space = Host();
        Assert.Multiple(() =>
        {
            Assert.That(space.Mmap(0, 4096, Rw, HugeNoReserve | MapFlags.Huge1GB, out _), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Mmap(0, 4096, Rw, Huge | MapFlags.Huge1GB, out _), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Mmap(0, 4096, Rw, HugeNoReserve | (MapFlags)(22 << 26), out _), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Mmap(0, 0, Rw, HugeNoReserve, out _), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Mmap(0, 4096, Rw, HugeNoReserve | MapFlags.Huge2MB, out _), Is.EqualTo(Errno.None));
        });

        // With 1 GiB pages (a CPU with pdpe1gb, the default options) the mapping is one gigantic page.
        using var gigantic = new AddressSpace();
        Assert.That(gigantic.Mmap(0, 4096, Rw, HugeNoReserve | MapFlags.Huge1GB, out ulong mapped), Is.EqualTo(Errno.None));
        Assert.That(mapped % (1UL << 30), Is.Zero);
        Assert.That(gigantic.Snapshot()[0].End - mapped, Is.EqualTo(1UL << 30));
    }

    /// <summary>
    /// Measured: MAP_FIXED at base + 4096 is EINVAL; at base with length 4096 it maps base to base + 2 MiB; a hint of
    /// base + 4096 (nothing mapped there) maps at base + 2 MiB, the hint rounded up.
    /// </summary>
    [Test]
    public void AddressesAreHugePageAligned()
    {
        using AddressSpace space = Host();
        Assert.That(space.Mmap(P(1), 4096, Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Mmap(P(1), 4096, Rw, HugeNoReserve | MapFlags.FixedNoReplace, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.MapCount, Is.Zero);
        Assert.That(space.Mmap(P(4 * H) + 4096, 4096, Rw, HugeNoReserve, out ulong hinted), Is.EqualTo(Errno.None));
        Assert.That(hinted, Is.EqualTo(P(5 * H)));
        Assert.That(space.Mmap(P(0), 4096, Rw, HugeNoReserve | MapFlags.Fixed, out ulong fixedAt), Is.EqualTo(Errno.None));
        Assert.That(fixedAt, Is.EqualTo(P(0)));
        Assert.That(Of(space), Is.EqualTo(HugeVma(0, H, 0) + " | " + HugeVma(5 * H, 6 * H, 0)));
    }

    /// <summary>
    /// Measured, with a 2 MiB hugetlb VMA at base and a 6 MiB one right after it: the two do not merge; munmap of
    /// base+4K (4K), of base (4K), of base+2M+4K (2M) and of base+2M (2M+4K) are EINVAL; mprotect of 4K at base+2M
    /// and at base+2M+4K are EINVAL; mprotect of the 2 MiB at base+2M splits it (the rest at offset 0x200000), and
    /// mprotect back does not merge the pieces again; munmap of the last 2 MiB succeeds.
    /// </summary>
    [Test]
    public void NoMergesAndSplitsOnlyAtHugePageBoundaries()
    {
        using AddressSpace space = Host();
        Assert.That(space.Mmap(P(0), 4096, Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(H), L(3 * H), Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        string two = HugeVma(0, H, 0) + " | " + HugeVma(H, 4 * H, 0);
        Assert.That(Of(space), Is.EqualTo(two));
        Assert.Multiple(() =>
        {
            Assert.That(space.Munmap(P(1), L(1)), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Munmap(P(0), L(1)), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Munmap(P(H + 1), L(H)), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Munmap(P(H), L(H + 1)), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Mprotect(P(H), L(1), Prot.Read), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Mprotect(P(H + 1), L(1), Prot.Read), Is.EqualTo(Errno.EINVAL));
            Assert.That(space.Madvise(P(H), L(1), Advice.DontFork), Is.EqualTo(Errno.EINVAL));
        });
        Assert.That(Of(space), Is.EqualTo(two), "nothing changed");

        Assert.That(space.Mprotect(P(H), L(H), Prot.Read), Is.EqualTo(Errno.None));
        string three = HugeVma(0, H, 0) + " | " + HugeVma(H, 2 * H, 0, "r--p", "de,ht,me,mr,mw,nr,rd") + " | " + HugeVma(2 * H, 4 * H, H);
        Assert.That(Of(space), Is.EqualTo(three));
        Assert.That(space.Mprotect(P(H), L(H), Rw), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo(HugeVma(0, H, 0) + " | " + HugeVma(H, 2 * H, 0) + " | " + HugeVma(2 * H, 4 * H, H)), "VM_DONTEXPAND: no merge");
        Assert.That(space.Munmap(P(3 * H), L(H)), Is.EqualTo(Errno.None));
        Assert.That(space.Counters.TotalVm, Is.EqualTo(3 * H));
    }

    /// <summary>
    /// Measured: a store into the mapping kills a child with SIGBUS (7); MADV_POPULATE_WRITE is EFAULT; mlock of the
    /// 2 MiB is ENOMEM (its population fails) and leaves no <c>lo</c> and VmLck 0; MADV_DONTNEED of 4K or 2M is 0;
    /// MADV_DONTFORK and MADV_NOHUGEPAGE of 4K are EINVAL (the split).
    /// </summary>
    [Test]
    public void EveryFaultIsSigbusWithAnEmptyPool()
    {
        using AddressSpace space = Host();
        Assert.That(space.Mmap(P(0), L(H), Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Fault(P(0), FaultAccess.Write), Is.EqualTo(FaultResult.SigBus));
        Assert.That(space.Fault(P(7), FaultAccess.Read), Is.EqualTo(FaultResult.SigBus));
        Assert.That(space.Touch(P(0), L(1)), Is.EqualTo(Errno.EFAULT));
        Assert.That(space.Madvise(P(0), L(H), Advice.PopulateWrite), Is.EqualTo(Errno.EFAULT));
        Assert.That(space.Mlock(P(0), L(H)), Is.EqualTo(Errno.ENOMEM));
        Assert.That(space.Snapshot()[0].Flags & VmFlags.Locked, Is.EqualTo(VmFlags.None));
        Assert.That(space.Counters.LockedVm, Is.Zero);
        Assert.That(space.Madvise(P(0), L(1), Advice.DontNeed), Is.EqualTo(Errno.None));
        Assert.That(space.Madvise(P(0), L(H), Advice.DontNeed), Is.EqualTo(Errno.None));
        Assert.That(space.Madvise(P(0), L(1), Advice.NoHugePage), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.MapCount, Is.EqualTo(1));
    }

    /// <summary>
    /// Measured: mremap growing a 2 MiB hugetlb VMA in place is EINVAL; shrinking it to 4096 returns its address and
    /// changes nothing (both lengths round up to 2 MiB). From v6.15's <c>align_hugetlb</c>: an unaligned new address
    /// is EINVAL, an aligned fixed move works, and MREMAP_DONTUNMAP is EINVAL (VM_DONTEXPAND).
    /// </summary>
    [Test]
    public void Mremap()
    {
        using AddressSpace space = Host();
        Assert.That(space.Mmap(P(0), L(H), Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        string one = HugeVma(0, H, 0);
        Assert.That(space.Mremap(P(0), L(H), L(2 * H), MremapFlags.None, 0, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Mremap(P(0), L(H), L(1), MremapFlags.None, 0, out ulong shrunk), Is.EqualTo(Errno.None));
        Assert.That(shrunk, Is.EqualTo(P(0)));
        Assert.That(Of(space), Is.EqualTo(one));
        MremapFlags move = MremapFlags.MayMove | MremapFlags.Fixed;
        Assert.That(space.Mremap(P(0), L(H), L(H), move, P(10 * H) + 4096, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Mremap(P(0), L(H), L(H), move | MremapFlags.DontUnmap, P(10 * H), out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(Of(space), Is.EqualTo(one));
        Assert.That(space.Mremap(P(0), L(H), L(H), move, P(10 * H), out ulong moved), Is.EqualTo(Errno.None));
        Assert.That(moved, Is.EqualTo(P(10 * H)));
        Assert.That(Of(space), Is.EqualTo(HugeVma(10 * H, 11 * H, 0)));
    }

    /// <summary>
    /// Measured: shared MAP_HUGETLB|MAP_NORESERVE is <c>rw-s</c> with <c>sh ms</c> and counts in VmSize only, a
    /// read-only private one counts in VmSize only; MAP_DROPPABLE with MAP_HUGETLB is EINVAL.
    /// </summary>
    [Test]
    public void SharedReadOnlyAndDroppable()
    {
        using AddressSpace space = Host();
        Assert.That(space.Mmap(P(0), L(H), Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.HugeTlb | MapFlags.NoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(2 * H), L(H), Prot.Read, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(4 * H), L(H), Rw, MapFlags.Droppable | MapFlags.Anonymous | MapFlags.HugeTlb | MapFlags.NoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(Of(space), Is.EqualTo(HugeVma(0, H, 0, "rw-s", "de,ht,me,mr,ms,mw,nr,rd,sh,wr") + " | " + HugeVma(2 * H, 3 * H, 0, "r--p", "de,ht,me,mr,mw,nr,rd")));
        Assert.That(space.Counters.TotalVm, Is.EqualTo(2 * H));
        Assert.That(space.Counters.DataVm, Is.Zero);
    }

    /// <summary>
    /// v6.15's <c>__mmap_complete</c> drops VM_LOCKED from hugetlb mappings (MAP_LOCKED or <c>mlockall(MCL_FUTURE)</c>)
    /// without counting them, in both profiles.
    /// </summary>
    [TestCase(AddressSpaceOptions.ProfileV615)]
    [TestCase(AddressSpaceOptions.ProfileOracleHost)]
    public void NeverLockedAtMapTime(string profile)
    {
        using var space = new AddressSpace(AddressSpaceOptions.ForProfile(profile));
        Assert.That(space.Mmap(P(0), L(H), Rw, HugeNoReserve | MapFlags.Fixed | MapFlags.Locked, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mlockall(MlockallFlags.Future), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(2 * H), L(H), Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Snapshot()[0].Flags & VmFlags.Locked, Is.EqualTo(VmFlags.None));
        Assert.That(space.Snapshot()[1].Flags & VmFlags.Locked, Is.EqualTo(VmFlags.None));
        Assert.That(space.Counters.LockedVm, Is.Zero);
    }

    /// <summary>A failed hugetlb file allocation and a failed VMA allocation leave nothing mapped; fork shares the file.</summary>
    [Test]
    public void AllocationFailureAndFork()
    {
        using AddressSpace space = Host();
        space.Faults.FailAfter(0);
        Assert.That(space.Mmap(P(0), L(H), Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.ENOMEM));
        space.Faults.FailAfter(1);
        Assert.That(space.Mmap(P(0), L(H), Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.ENOMEM));
        space.Faults.FailAfter(-1);
        Assert.That(space.MapCount, Is.Zero);
        Assert.That(space.Mmap(P(0), L(H), Rw, HugeNoReserve | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Fork(out AddressSpace? child), Is.EqualTo(Errno.None));
        using (child)
        {
            Assert.That(Of(child!), Is.EqualTo(Of(space)));
            Assert.That(child!.Snapshot()[0].FileId, Is.EqualTo(space.Snapshot()[0].FileId));
        }
    }
}
