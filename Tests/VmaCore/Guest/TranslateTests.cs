using NUnit.Framework;
using VmaEngine.Native;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>Each status of <see cref="GuestMemory.Translate"/>, and the first-write rule of issue 15 section 2.</summary>
public sealed class TranslateTests
{
    [Test]
    public void Unmapped_InsideAndOutsideTheRange()
    {
        using GuestMemory guest = Create();
        Assert.That(guest.Translate(At(0), FaultAccess.Read, out nint host), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(host, Is.EqualTo((nint)0));
        Assert.That(guest.Translate(Low - Page, FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(guest.Translate(High, FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.Unmapped));
        Assert.That(guest.Fault(At(0), FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));
    }

    [Test]
    public void FirstWrite_ThenOkAfterFault_ForTheWholeVma()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        Assert.That(guest.Translate(At(1) + 5, FaultAccess.Read, out nint host), Is.EqualTo(TranslateStatus.Ok), "reads use the zero page");
        Assert.That(host, Is.EqualTo(guest.HostAddressOf(At(1) + 5)));
        Assert.That(guest.Translate(At(1), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.FirstWrite));

        Assert.That(guest.Fault(At(1), FaultAccess.Write), Is.EqualTo(FaultResult.Ok));
        Assert.That(guest.Space.Snapshot()[0].AnonVmaId, Is.Not.EqualTo((nuint)0));
        for (int page = 0; page < 4; page++)
        {
            Assert.That(guest.Translate(At(page), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.Ok), $"page {page}");
        }
    }

    [Test]
    public void WithoutZeroPage_FirstReadNeedsTheFaultToo()
    {
        using GuestMemory guest = Create(zeroPage: false);
        MapReadWrite(guest, At(0), 2, Prot.Read);
        Assert.That(guest.Translate(At(0), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.FirstWrite));
        Assert.That(guest.Translate(At(0), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.NotPermitted));
        Assert.That(guest.Fault(At(0), FaultAccess.Read), Is.EqualTo(FaultResult.Ok));
        Assert.That(guest.Translate(At(1), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Ok));
    }

    [Test]
    public void NotPermitted_ForEachMissingRight()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 1, Prot.None);
        MapReadWrite(guest, At(2), 1, Prot.Read);
        MapReadWrite(guest, At(4), 1, Prot.Read | Prot.Write);
        Write(guest, At(4), 1);

        Assert.That(guest.Translate(At(0), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.NotPermitted));
        Assert.That(guest.Translate(At(2), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.NotPermitted));
        Assert.That(guest.Translate(At(4), FaultAccess.Execute, out _), Is.EqualTo(TranslateStatus.NotPermitted));
        Assert.That(guest.Fault(At(2), FaultAccess.Write), Is.EqualTo(FaultResult.SegvAccErr));
    }

    [Test]
    public void Mprotect_ClosesAndReopensTheTable()
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        Write(guest, At(0), 9);
        Assert.That(guest.Mprotect(At(1), Page, Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(At(1), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.NotPermitted));
        Assert.That(guest.Translate(At(2), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.Ok));
        Assert.That(guest.Mprotect(At(1), Page, Prot.Read | Prot.Write), Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(At(1), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.Ok));
    }

    [Test]
    public void GuardGap_BelowAStack_FaultGrowsIt()
    {
        using GuestMemory guest = Create();
        Errno error = guest.Mmap(At(100), 4 * Page, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed | MapFlags.GrowsDown, out _);
        Assert.That(error, Is.EqualTo(Errno.None));
        Assert.That(guest.Translate(At(99), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.GuardGap));
        Assert.That(guest.Translate(At(10), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.GuardGap), "any hole below the stack");

        Assert.That(guest.Fault(At(99), FaultAccess.Write), Is.EqualTo(FaultResult.Ok));
        Assert.That(guest.Space.Snapshot()[0].Start, Is.EqualTo(At(99)), "the stack grew");
        Write(guest, At(99), 3);
        Assert.That(Read(guest, At(99)), Is.EqualTo(3));
        Assert.That(guest.Translate(At(104), FaultAccess.Read, out _), Is.EqualTo(TranslateStatus.Unmapped), "above the stack");
    }

    [Test]
    public void HostProtectionMapping_DropsExecOnTheHostOnly()
    {
        using GuestMemory guest = Create(hostProtection: prot => (HostProtection)(int)(prot & (Prot.Read | Prot.Write)));
        MapReadWrite(guest, At(0), 1, Prot.Read | Prot.Exec);
        Assert.That(guest.Translate(At(0), FaultAccess.Execute, out _), Is.EqualTo(TranslateStatus.Ok), "the guest may execute");
        Assert.That(HostMaps.PermissionsAt(guest.HostAddressOf(At(0))), Is.EqualTo("r--"), "the host page is not executable");
    }

    [TestCase(3)]
    [TestCase(4)]
    [TestCase(67)]
    [TestCase(-1)]
    public void UndefinedAccess_ThrowsEvenOnACachedPage(int access)
    {
        using GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 1);
        Write(guest, At(0), 1);
        Assert.Throws<System.ArgumentOutOfRangeException>(() => guest.Translate(At(0), (FaultAccess)access, out _));
        Assert.Throws<System.ArgumentOutOfRangeException>(() => guest.Translate(At(7), (FaultAccess)access, out _), "an unmapped page");
    }

    [Test]
    public void Constructor_RejectsOptionsThatMapOutsideTheRange()
    {
        Assert.Throws<System.ArgumentException>(() => new GuestMemory(Low, High, new AddressSpaceOptions()));
        Assert.Throws<System.ArgumentException>(() => new GuestMemory(High, Low, OptionsFor(true)));
    }
}
