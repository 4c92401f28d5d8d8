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
        using GuestMemory guest = CreateGuarded(1, 2);
        Assert.That(HostMaps.Permissions(guest.HostAddressOf(At(0)), 3), Is.EqualTo(new[] { "rw-", "---", "rw-" }));
        Assert.That(guest.Translate(At(1) + 5, FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(guest.Fault(At(1) + 5, FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr), "a guard page faults");

        Assert.That(guest.Madvise(At(1), Page, Advice.GuardRemove), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.PermissionsAt(guest.HostAddressOf(At(1))), Is.EqualTo("rw-"));
        Assert.That(Read(guest, At(1) + 5), Is.Zero, "the install zapped the private page");
        Assert.That(Read(guest, At(2) + 5), Is.EqualTo(Mark(2)), "the neighbour keeps its data");
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
        using GuestMemory guest = CreateGuarded(3);

        Assert.That(guest.Mremap(At(0), 4 * Page, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(16), out _), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.Permissions(guest.HostAddressOf(At(16)), 4), Is.EqualTo(new[] { "rw-", "---", "rw-", "rw-" }));
        Assert.That(guest.Translate(At(17), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(Read(guest, At(19) + 5), Is.EqualTo(Mark(3)));

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
        using GuestMemory parent = CreateGuarded(2);

        Assert.That(parent.Fork(out GuestMemory? forked), Is.EqualTo(Errno.None));
        using GuestMemory child = forked!;
        Assert.That(HostMaps.Permissions(child.HostAddressOf(At(0)), 3), Is.EqualTo(new[] { "rw-", "---", "rw-" }));
        Assert.That(child.Translate(At(1), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(Read(child, At(2) + 5), Is.EqualTo(Mark(2)));

        Assert.That(child.Madvise(At(1), Page, Advice.GuardRemove), Is.EqualTo(Errno.None));
        Assert.That(HostMaps.PermissionsAt(child.HostAddressOf(At(1))), Is.EqualTo("rw-"));
        Assert.That(HostMaps.PermissionsAt(parent.HostAddressOf(At(1))), Is.EqualTo("---"), "the parent keeps its marker");
        Assert.That(Read(child, At(1)), Is.Zero);
    }

    /// <summary>The byte page i of <see cref="CreateGuarded"/>'s mapping holds when written.</summary>
    private static byte Mark(int page) => (byte)(0x50 + page);

    /// <summary>A space with four private read-write pages at window page 0, <paramref name="written"/> pages holding their <see cref="Mark"/> at byte 5, and a guard marker on page 1.</summary>
    private static GuestMemory CreateGuarded(params int[] written)
    {
        GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        foreach (int page in written)
        {
            Write(guest, At(page) + 5, Mark(page));
        }

        Assert.That(guest.Madvise(At(1), Page, Advice.GuardInstall), Is.EqualTo(Errno.None));
        return guest;
    }
}
