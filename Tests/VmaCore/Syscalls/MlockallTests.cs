using System.Linq;
using NUnit.Framework;
using VmaEngine.Vma;
using static Tests.VmaCore.Syscalls.Layout;

namespace Tests.VmaCore.Syscalls;

/// <summary>mlock2 with MLOCK_ONFAULT, mlockall and munlockall (v6.15 <c>mm/mlock.c</c>).</summary>
public sealed class MlockallTests
{
    private const Prot Rw = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    [Test]
    public void Mlock2OnFaultLocksWithoutPopulating()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        space.Mmap(P(4), L(4), Rw, AnonFixed, out _);
        Assert.That(space.Mlock2(P(4), L(4), MlockFlags.OnFault), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,me,mr,mw,rd,wr | 4-8 rw-p - - ac,lf,lo,me,mr,mw,rd,wr"));
        Assert.That(space.Snapshot()[1].AnonVmaId, Is.EqualTo((nuint)0), "nothing faulted in");
        space.Munlock(P(4), L(4));
        Assert.That(Of(space), Is.EqualTo("0-8 rw-p - - ac,me,mr,mw,rd,wr"), "unfaulted, so it merges back");
    }

    [Test]
    public void Mlock2WithoutOnFaultPopulatesAndUnknownFlagsAreEinval()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        Assert.That(space.Mlock2(P(0), L(4), (MlockFlags)2), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Mlock2(P(0), L(4), MlockFlags.None), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,lo,me,mr,mw,rd,wr"));
        Assert.That(space.Snapshot()[0].AnonVmaId, Is.Not.EqualTo((nuint)0), "populated");
    }

    [TestCase(MlockallFlags.None)]
    [TestCase(MlockallFlags.OnFault)]
    [TestCase((MlockallFlags)8)]
    public void MlockallRejectsBadFlags(MlockallFlags flags)
    {
        using var space = new AddressSpace();
        Assert.That(space.Mlockall(flags), Is.EqualTo(Errno.EINVAL));
    }

    [Test]
    public void CurrentLocksEveryVmaAndMunlockallUnlocks()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        space.Mmap(P(10), L(4), Prot.None, AnonFixed, out _);
        space.Mmap(P(20), L(4), Rw, MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed, out _);
        Assert.That(space.Mlockall(MlockallFlags.Current), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,lo,me,mr,mw,rd,wr | 10-14 ---p - - lo,me,mr,mw | 20-24 rw-s 0 [anon_shared] lo,me,mr,ms,mw,rd,sh,wr"));
        space.Mmap(P(30), L(4), Rw, AnonFixed, out _);
        Assert.That(Of(space), Does.EndWith("30-34 rw-p - - ac,me,mr,mw,rd,wr"), "current only: later mappings are not locked");
        Assert.That(space.Munlockall(), Is.EqualTo(Errno.None));
        Assert.That(Of(space), Does.Not.Contain("lo"));
    }

    [Test]
    public void FutureLocksLaterMappingsAndTheHeap()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        Assert.That(space.Mlockall(MlockallFlags.Future | MlockallFlags.OnFault), Is.EqualTo(Errno.None));
        space.Mmap(P(10), L(4), Rw, AnonFixed, out _);
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,me,mr,mw,rd,wr | 10-14 rw-p - - ac,lf,lo,me,mr,mw,rd,wr"));
        space.Mlockall(MlockallFlags.Future);
        space.Brk(space.Options.StartBrk + L(2), out _);
        VmaInfo heap = space.Snapshot().Single(v => v.Start == space.Options.StartBrk);
        Assert.That(heap.Flags & (VmFlags.Locked | VmFlags.LockOnFault), Is.EqualTo(VmFlags.Locked));
        Assert.That(heap.AnonVmaId, Is.Not.EqualTo((nuint)0), "the locked heap is populated");
        space.Munlockall();
        space.Mmap(P(20), L(4), Rw, AnonFixed, out _);
        Assert.That(Of(space), Does.Contain("20-24 rw-p - - ac,me,mr,mw,rd,wr"), "munlockall ends MCL_FUTURE");
    }

    [Test]
    public void CurrentOnFaultSetsLockOnFaultWithoutPopulating()
    {
        using var space = new AddressSpace();
        space.Mmap(P(0), L(4), Rw, AnonFixed, out _);
        space.Mlockall(MlockallFlags.Current | MlockallFlags.OnFault);
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,lf,lo,me,mr,mw,rd,wr"));
        Assert.That(space.Snapshot()[0].AnonVmaId, Is.EqualTo((nuint)0));
        space.Mlockall(MlockallFlags.Current);
        Assert.That(Of(space), Is.EqualTo("0-4 rw-p - - ac,lo,me,mr,mw,rd,wr"), "a later mlockall replaces the lock bits");
    }

    /// <summary>
    /// MAP_DROPPABLE under <c>mlockall(MCL_FUTURE)</c>. v6.15's <c>__mmap_complete</c> keeps the VM_LOCKED (and
    /// VM_LOCKONFAULT) of <c>def_flags</c> on a droppable mapping and counts it in <c>locked_vm</c>; 6.18.y drops
    /// both (<see cref="AddressSpaceOptions.DroppableNeverLocked"/>). Measured on 6.18.44 (a C program, 8 pages each):
    /// with MCL_FUTURE the droppable VMA shows <c>rd wr mr mw me nr wf dd dp</c>, Locked 0 kB, VmLck unchanged, and
    /// Rss 32 kB (do_mmap asked for population before the lock bits went); with MCL_FUTURE|MCL_ONFAULT the same
    /// flags and Rss 32 kB (the VMA lost VM_LOCKONFAULT, so populating is not skipped); a private mapping made
    /// alongside is <c>lo ac</c> with Locked 32 kB. munlockall changes neither kernel's droppable VMA.
    /// </summary>
    [TestCase(false, MlockallFlags.Future, "lo", true)]
    [TestCase(false, MlockallFlags.Future | MlockallFlags.OnFault, "lf,lo", false)]
    [TestCase(true, MlockallFlags.Future, "", true)]
    [TestCase(true, MlockallFlags.Future | MlockallFlags.OnFault, "", true)]
    public void DroppableUnderMlockallFuture(bool neverLocked, MlockallFlags flags, string lockFlags, bool populated)
    {
        using var space = new AddressSpace(new AddressSpaceOptions { DroppableNeverLocked = neverLocked });
        Assert.That(space.Mlockall(flags), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(P(0), L(8), Rw, MapFlags.Droppable | MapFlags.Anonymous | MapFlags.Fixed, out _), Is.EqualTo(Errno.None));
        string expected = string.Join(",", new[] { "dd", "dp", lockFlags, "me", "mr", "mw", "nr", "rd", "wf", "wr" }.Where(f => f.Length > 0).SelectMany(f => f.Split(',')).Order(System.StringComparer.Ordinal));
        Assert.That(Of(space), Is.EqualTo("0-8 rw-p - - " + expected));
        Assert.That(space.Counters.LockedVm, Is.EqualTo(neverLocked ? 0UL : 8UL));
        Assert.That(space.Snapshot()[0].AnonVmaId != 0, Is.EqualTo(populated), "populated");

        // mlock_fixup leaves droppable VMAs alone in both kernels, so munlockall cannot unlock what v6.15 locked.
        space.Munlockall();
        Assert.That(Of(space), Is.EqualTo("0-8 rw-p - - " + expected));
        Assert.That(space.Counters.LockedVm, Is.EqualTo(neverLocked ? 0UL : 8UL));
    }

    /// <summary>Both kernels leave a droppable VMA alone in mlock and mlockall(MCL_CURRENT) (mlock_fixup).</summary>
    [TestCase(false)]
    [TestCase(true)]
    public void DroppableIsNeverLockedByMlockOrMlockallCurrent(bool neverLocked)
    {
        using var space = new AddressSpace(new AddressSpaceOptions { DroppableNeverLocked = neverLocked });
        space.Mmap(P(0), L(8), Rw, MapFlags.Droppable | MapFlags.Anonymous | MapFlags.Fixed, out _);
        Assert.That(space.Mlock(P(0), L(1)), Is.EqualTo(Errno.None));
        Assert.That(space.Mlockall(MlockallFlags.Current), Is.EqualTo(Errno.None));
        Assert.That(space.Snapshot()[0].Flags & VmFlagBits.LockedMask, Is.EqualTo(VmFlags.None));
        Assert.That(space.Counters.LockedVm, Is.Zero);
    }
}
