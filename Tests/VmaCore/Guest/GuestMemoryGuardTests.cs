using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// Guard pages on the host: a page with a guard marker is inaccessible in the host's own <c>/proc/self/maps</c>
/// (so a guest running on the host MMU traps there), and gets its VMA's protection back after
/// <c>MADV_GUARD_REMOVE</c>; the host follows the markers through mremap, munmap and fork.
/// </summary>
public sealed class GuestMemoryGuardTests
{
    private const Prot ReadWrite = Prot.Read | Prot.Write;

    [Test]
    public void GuardInstall_HostPageInaccessible_GuardRemove_PrivateReadsZero()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        Write(guest, At(1) + 5, 0x51);
        Write(guest, At(2) + 5, 0x52);

        Assert.That(guest.Madvise(At(1), Page, Advice.GuardInstall), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.Permissions(guest.HostAddressOf(At(0)), 3), Is.EqualTo(new[] { "rw-", "---", "rw-" }));
        Assert.That(guest.Translate(At(1) + 5, FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(guest.Fault(At(1) + 5, FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr), "a guard page faults");

        Assert.That(guest.Madvise(At(1), Page, Advice.GuardRemove), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.PermissionsAt(guest.HostAddressOf(At(1))), Is.EqualTo("rw-"));
        Assert.That(Read(guest, At(1) + 5), Is.Zero, "the install zapped the private page");
        Assert.That(Read(guest, At(2) + 5), Is.EqualTo(0x52), "the neighbour keeps its data");
    }

    [Test]
    public void GuardInstall_SharedObject_GuardRemove_ReadsItsContents()
    {
        using GuestMemory guest = Create();
        Assert.That(guest.Mmap(At(0), 2 * Page, ReadWrite, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        Write(guest, At(1) + 9, 0x77);

        Assert.That(guest.Madvise(At(1), Page, Advice.GuardInstall), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.PermissionsAt(guest.HostAddressOf(At(1))), Is.EqualTo("---"));
        Assert.That(guest.Madvise(At(1), Page, Advice.GuardRemove), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.PermissionsAt(guest.HostAddressOf(At(1))), Is.EqualTo("rw-"));
        Assert.That(Read(guest, At(1) + 9), Is.EqualTo(0x77), "the shared object keeps its contents");
    }

    [Test]
    public void GuardMovesWithMremap_OldPlaceHoldsNothing()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        Write(guest, At(3), 0x33);
        Assert.That(guest.Madvise(At(1), Page, Advice.GuardInstall), Is.EqualTo(Errno.None));

        Assert.That(guest.Mremap(At(0), 4 * Page, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(16), out _), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.Permissions(guest.HostAddressOf(At(16)), 4), Is.EqualTo(new[] { "rw-", "---", "rw-", "rw-" }));
        Assert.That(guest.Translate(At(17), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(Read(guest, At(19)), Is.EqualTo(0x33));

        // The old range is reservation: mapped again, no marker and no data is left there.
        MapReadWrite(guest, At(0), 4);
        Assert.That(HostMaps.PermissionsAt(guest.HostAddressOf(At(1))), Is.EqualTo("r--"), "readable, its first write still to trap");
        Assert.That(Read(guest, At(1)), Is.Zero);
    }

    [Test]
    public void MunmapDropsTheGuard_RemapReadsZero()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        Assert.That(guest.Madvise(At(0), 4 * Page, Advice.GuardInstall), Is.EqualTo(Errno.None));
        Assert.That(guest.Munmap(At(1), 2 * Page), Is.EqualTo(Errno.None));

        MapReadWrite(guest, At(1), 2);
        Assert.That(HostMaps.Permissions(guest.HostAddressOf(At(0)), 4), Is.EqualTo(new[] { "---", "rw-", "rw-", "---" }));
        Assert.That(Read(guest, At(2)), Is.Zero);
    }

    [Test]
    public void ForkChildInheritsTheGuard_OnTheHostToo()
    {
        using GuestMemory parent = Create();
        MapReadWrite(parent, At(0), 4);
        Write(parent, At(2), 0x22);
        Assert.That(parent.Madvise(At(1), Page, Advice.GuardInstall), Is.EqualTo(Errno.None));

        Assert.That(parent.Fork(out GuestMemory? forked), Is.EqualTo(Errno.None));
        using GuestMemory child = forked!;
        Assert.That(HostMaps.Permissions(child.HostAddressOf(At(0)), 3), Is.EqualTo(new[] { "rw-", "---", "rw-" }));
        Assert.That(child.Translate(At(1), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(Read(child, At(2)), Is.EqualTo(0x22));

        Assert.That(child.Madvise(At(1), Page, Advice.GuardRemove), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.PermissionsAt(child.HostAddressOf(At(1))), Is.EqualTo("rw-"));
        Assert.That(HostMaps.PermissionsAt(parent.HostAddressOf(At(1))), Is.EqualTo("---"), "the parent keeps its marker");
        Assert.That(Read(child, At(1)), Is.Zero);
    }
}
