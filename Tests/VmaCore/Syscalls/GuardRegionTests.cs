using NUnit.Framework;
using VmaEngine.Vma;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>Guard regions (MADV_GUARD_INSTALL / MADV_GUARD_REMOVE of v6.15), modelled per page.</summary>
public sealed class GuardRegionTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    [Test]
    public void AGuardPageFaultsAndItsNeighboursDoNot()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(8), Rw, AnonFixed, out _);
        Assert.That(space.Madvise(P(2), L(1), Advice.GuardInstall), Is.EqualTo(Errno.None));
        Assert.Multiple(() =>
        {
            Assert.That(space.Fault(P(2), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));
            Assert.That(space.Fault(P(2) + 100, FaultAccess.Write), Is.EqualTo(FaultResult.SegvMapErr));
            Assert.That(space.Fault(P(1), FaultAccess.Write), Is.EqualTo(FaultResult.Ok));
            Assert.That(space.Fault(P(3), FaultAccess.Write), Is.EqualTo(FaultResult.Ok));
            Assert.That(space.Touch(P(0), L(2)), Is.EqualTo(Errno.None));
            Assert.That(space.Touch(P(0), L(4)), Is.EqualTo(Errno.EFAULT));
            Assert.That(space.Madvise(P(0), L(4), Advice.PopulateRead), Is.EqualTo(Errno.EFAULT));
            Assert.That(space.Mlock(P(0), L(4)), Is.EqualTo(Errno.ENOMEM), "mlock cannot fault the guard page in");
        });
        Assert.That(Of(space), Does.StartWith("0-4 rw-p - - ac,lo,"), "the VMA is unchanged but for the lock");
    }

    [Test]
    public void MarkersOnAHugeRangeCostOneEntryAndSplitWhereRemoved()
    {
        // 32 TiB of guard markers: one marker per page would be 2^33 entries; the set keeps ranges.
        const ulong huge = 1UL << 45;
        using var space = new AddressSpace();
        Assert.That(space.Mmap(0x1000_0000_0000, huge, Rw, AnonFixed | MapFlags.NoReserve, out ulong start), Is.EqualTo(Errno.None));
        Assert.That(space.Madvise(start, huge, Advice.GuardInstall), Is.EqualTo(Errno.None));
        ulong middle = start + (huge / 2);
        Assert.That(space.Madvise(middle, L(1), Advice.GuardRemove), Is.EqualTo(Errno.None));
        Assert.Multiple(() =>
        {
            Assert.That(space.Fault(start, FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));
            Assert.That(space.Fault(middle - L(1), FaultAccess.Write), Is.EqualTo(FaultResult.SegvMapErr));
            Assert.That(space.Fault(middle, FaultAccess.Write), Is.EqualTo(FaultResult.Ok));
            Assert.That(space.Fault(middle + L(1), FaultAccess.Write), Is.EqualTo(FaultResult.SegvMapErr));
            Assert.That(space.Fault(start + huge - 1, FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));
        });
        Assert.That(space.Munmap(start, huge), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(start, L(1), Rw, AnonFixed, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Fault(start, FaultAccess.Write), Is.EqualTo(FaultResult.Ok), "unmapping drops the markers");
    }

    [Test]
    public void InstallGivesAnAnonVmaAndMarkersSurviveDontNeedAndMprotect()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(8), Rw, AnonFixed, out _);
        space.Madvise(P(4), L(2), Advice.GuardInstall);
        Assert.That(space.Snapshot()[0].AnonVmaId, Is.Not.EqualTo((nuint)0));
        space.Madvise(P(0), L(8), Advice.DontNeed);
        space.Mprotect(P(0), L(8), Prot.Read);
        space.Mprotect(P(0), L(8), Rw);
        Assert.That(space.Fault(P(5), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));
        Assert.That(space.Madvise(P(0), L(8), Advice.GuardRemove), Is.EqualTo(Errno.None));
        Assert.That(space.Fault(P(5), FaultAccess.Read), Is.EqualTo(FaultResult.Ok));
    }

    [Test]
    public void UnmapRemovesMarkersAndMremapMovesThem()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(8), Rw, AnonFixed, out _);
        space.Madvise(P(1), L(1), Advice.GuardInstall);
        space.Mremap(P(0), L(4), L(4), MremapFlags.MayMove | MremapFlags.Fixed, P(100), out _);
        Assert.That(space.Fault(P(101), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr), "moved with the page tables");
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        Assert.That(space.Fault(P(1), FaultAccess.Read), Is.EqualTo(FaultResult.Ok), "nothing left behind");
        space.Munmap(P(100), L(4));
        space.Mmap(P(100), L(4), Rw, AnonFixed, out _);
        Assert.That(space.Fault(P(101), FaultAccess.Read), Is.EqualTo(FaultResult.Ok), "gone with the unmap");
    }

    [Test]
    public void LockedAndSpecialVmasRefuseInstallButLockedAllowsRemove()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed | MapFlags.Locked, out _);
        Assert.That(space.Madvise(P(0), L(4), Advice.GuardInstall), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Madvise(P(0), L(4), Advice.GuardRemove), Is.EqualTo(Errno.None));
    }

    [Test]
    public void MaybeGuardFlagMarksTheVmaOn618()
    {
        using var v615 = new AddressSpace();
        v615.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        v615.Madvise(P(0), L(1), Advice.GuardInstall);
        Assert.That(v615.Snapshot()[0].Flags & VmFlags.MaybeGuard, Is.EqualTo(VmFlags.None));
        using var host = new AddressSpace(AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost));
        host.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        host.Madvise(P(0), L(1), Advice.GuardInstall);
        host.Madvise(P(0), L(1), Advice.GuardRemove);
        Assert.That(Of(host), Is.EqualTo("0-4 rw-p - - ac,gu,me,mr,mw,rd,wr"), "the whole VMA, and it stays after removal");
    }
}
