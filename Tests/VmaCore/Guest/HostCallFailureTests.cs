using System;
using System.IO;
using Microsoft.Win32.SafeHandles;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;
using VmaEngine.Vma.Guest;
using static Tests.VmaCore.Guest.GuestMemoryFixture;

namespace Tests.VmaCore.Guest;

/// <summary>
/// Every operation of a backed space with each of its host calls failing in turn (the 1st, the 2nd, ... until the
/// operation makes no more): the operation returns the errno its documentation gives, the translation table and the
/// host's <c>/proc/self/maps</c> agree page by page with the engine's VMAs, and the data that should survive does.
/// </summary>
public sealed class HostCallFailureTests
{
    private const Prot ReadWrite = Prot.Read | Prot.Write;
    private const MapFlags PrivateFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const MapFlags SharedFixed = MapFlags.Shared | MapFlags.Anonymous | MapFlags.Fixed;

    /// <summary>The byte page i of the data mapping holds.</summary>
    private static byte Mark(int page) => (byte)(0x40 + page);

    [Test]
    public void Mmap_FailsWithEnomem_NothingNewMapped() => FailEachHostCall(
        guest => guest.Mmap(At(8), 4 * Page, ReadWrite, PrivateFixed, out _),
        (guest, error) =>
        {
            ExpectData(guest, 0, 4);
            ExpectMapped(guest, At(8), error == Errno.None);
        });

    [Test]
    public void MmapFixedOverData_FailsWithEnomem_RangeUnmapped_RestIntact() => FailEachHostCall(
        guest => guest.Mmap(At(2), 2 * Page, ReadWrite, PrivateFixed, out _),
        (guest, error) =>
        {
            ExpectData(guest, 0, 2);
            ExpectMapped(guest, At(2), error == Errno.None);
            if (error == Errno.None)
            {
                Assert.That(Read(guest, At(2)), Is.Zero);
            }
        });

    [Test]
    public void MmapSharedAnonymous_FailsWithEnomem_NoObjectLeft() => FailEachHostCall(
        guest => guest.Mmap(At(8), 2 * Page, ReadWrite, SharedFixed, out _),
        (guest, error) =>
        {
            ExpectData(guest, 0, 4);
            ExpectMapped(guest, At(8), error == Errno.None);
        });

    [Test]
    public void MmapFile_FailsWithEnomem_NothingNewMapped()
    {
        string path = Path.Combine(Path.GetTempPath(), $"guest-fail-{Guid.NewGuid():N}");
        File.WriteAllBytes(path, new byte[2 * Page]);
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            using MappedFile file = FileRegistry.OpenHost("data", handle, canRead: true, canWrite: true);
            FailEachHostCall(
                guest => guest.Mmap(At(8), 2 * Page, ReadWrite, MapFlags.Shared | MapFlags.Fixed, file, 0, out _),
                (guest, error) =>
                {
                    ExpectData(guest, 0, 4);
                    ExpectMapped(guest, At(8), error == Errno.None);
                });
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Munmap_Succeeds_RestIntact() => FailEachHostCall(
        guest => guest.Munmap(At(1), Page),
        (guest, error) =>
        {
            Assert.That(error, Is.EqualTo(Errno.None), "munmap is atomic in the kernel: the engine's unmap stands");
            ExpectMapped(guest, At(1), false);
            ExpectData(guest, 0, 1);
            ExpectData(guest, 2, 2);
        });

    [Test]
    public void Mprotect_FailsWithEnomem_ProtectionsBack_DataIntact() => FailEachHostCall(
        guest => guest.Mprotect(At(1), 2 * Page, Prot.Read),
        (guest, error) =>
        {
            Assert.That(guest.Space.TryGetVma(At(1), out VmaInfo vma), Is.True);
            Assert.That(vma.Flags & VmFlags.Write, error == Errno.None ? Is.EqualTo(VmFlags.None) : Is.EqualTo(VmFlags.Write));
            ExpectData(guest, 0, 4);
        });

    [Test]
    public void MlockPopulating_Succeeds_DataIntact() => FailEachHostCall(
        guest => guest.Mlock(At(8), 2 * Page),
        (guest, error) =>
        {
            Assert.That(error, Is.EqualTo(Errno.None), "the engine's population stands");
            Assert.That(guest.Translate(At(9), FaultAccess.Write, out _), Is.EqualTo(TranslateStatus.Ok), "populated: the VMA has its anon_vma");
            ExpectData(guest, 0, 4);
        },
        guest => Assert.That(guest.Mmap(At(8), 2 * Page, ReadWrite, PrivateFixed, out _), Is.EqualTo(Errno.None)));

    [Test]
    public void MremapMove_FailsWithEnomem_DataAtOld_ElseAtNew() => FailEachHostCall(
        guest => guest.Mremap(At(0), 4 * Page, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(16), out _),
        (guest, error) =>
        {
            ExpectData(guest, 0, 4, shift: error == Errno.None ? 16 : 0);
            ExpectMapped(guest, error == Errno.None ? At(0) : At(16), false);
        });

    [Test]
    public void MremapMoveAndGrow_FailsWithEnomem_DataAtOld_ElseAtNew() => FailEachHostCall(
        guest => guest.Mremap(At(0), 4 * Page, 6 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(16), out _),
        (guest, error) =>
        {
            ExpectData(guest, 0, 4, shift: error == Errno.None ? 16 : 0);
            ExpectMapped(guest, error == Errno.None ? At(0) : At(16), false);
            ExpectMapped(guest, At(21), error == Errno.None);
        });

    [Test]
    public void MremapDontUnmap_FailsWithEnomem_DataAtOld_ElseAtNew() => FailEachHostCall(
        guest => guest.Mremap(At(0), 4 * Page, 4 * Page, MremapFlags.MayMove | MremapFlags.Fixed | MremapFlags.DontUnmap, At(16), out _),
        (guest, error) =>
        {
            ExpectData(guest, 0, 4, shift: error == Errno.None ? 16 : 0);
            ExpectMapped(guest, At(0), true);
            ExpectMapped(guest, At(16), error == Errno.None);
        });

    [Test]
    public void MremapGrowInPlace_FailsWithEnomem_OldLength() => FailEachHostCall(
        guest => guest.Mremap(At(0), 4 * Page, 8 * Page, MremapFlags.None, 0, out _),
        (guest, error) =>
        {
            ExpectData(guest, 0, 4);
            ExpectMapped(guest, At(6), error == Errno.None);
        });

    [Test]
    public void MremapSharedOldLengthZero_FailsWithEnomem_NoSecondMapping() => FailEachHostCall(
        guest => guest.Mremap(At(8), 0, 2 * Page, MremapFlags.MayMove | MremapFlags.Fixed, At(16), out _),
        (guest, error) =>
        {
            ExpectMapped(guest, At(16), error == Errno.None);
            Assert.That(Read(guest, At(8)), Is.EqualTo(0x5E));
            if (error == Errno.None)
            {
                Assert.That(Read(guest, At(16)), Is.EqualTo(0x5E), "the second mapping shares the object");
            }
        },
        guest =>
        {
            Assert.That(guest.Mmap(At(8), 2 * Page, ReadWrite, SharedFixed, out _), Is.EqualTo(Errno.None));
            Write(guest, At(8), 0x5E);
        });

    [Test]
    public void BrkGrow_FailsWithEnomem_BreakUnchanged()
    {
        ulong start = OptionsFor(zeroPage: true).StartBrk;
        FailEachHostCall(
            guest => guest.Brk(start + (4 * Page), out _),
            (guest, error) =>
            {
                Assert.That(guest.Space.CurrentBrk, Is.EqualTo(error == Errno.None ? start + (4 * Page) : start));
                GuestExpectations.CheckTable(guest, true, "brk", start, 8);
                GuestExpectations.CheckHostMaps(guest, true, "brk", start, 8);
                ExpectData(guest, 0, 4);
            });
    }

    [Test]
    public void MadviseDontNeed_FailsWithEnomem_PageKept_ElseZero() => FailEachHostCall(
        guest => guest.Madvise(At(1), Page, DropAdvice.DontNeed),
        (guest, error) =>
        {
            ExpectData(guest, 0, 1);
            ExpectData(guest, 2, 2);
            Assert.That(Read(guest, At(1) + 11), Is.EqualTo(error == Errno.None ? 0 : Mark(1)));
        });

    /// <summary>
    /// Fault with each of its host calls failing in turn, on a first write (one host mprotect) and on a write below
    /// a stack, which grows it (one per page run the growth changes): an injected failure gives OutOfMemory, the table
    /// allows no more than the host, and the next fault opens the pages so that table and host follow the engine.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    public void Fault_HostRefuses_OutOfMemory_NextFaultOpens(bool growStack)
    {
        for (int failAt = 0; failAt < 100; failAt++)
        {
            using GuestMemory guest = CreateWithData();

            // A stack far enough above the data for its guard gap; written once, so only the growth opens pages.
            ulong start = growStack ? At(1024) : At(16);
            MapFlags flags = PrivateFixed | (growStack ? MapFlags.GrowsDown : MapFlags.None);
            Assert.That(guest.Mmap(start, 4 * Page, ReadWrite, flags, out _), Is.EqualTo(Errno.None));
            if (growStack)
            {
                Write(guest, start + Page, 0x17);
            }

            ulong target = growStack ? start - (3 * Page) + 3 : start + (2 * Page) + 3;
            ulong checkedStart = start - (8 * Page);

            guest.HostCalls.FailAfter = failAt;
            FaultResult result = guest.Fault(target, FaultAccess.Write);
            bool injected = guest.HostCalls.Failed;
            guest.HostCalls.FailAfter = -1;
            string context = $"host call {failAt} failing (injected: {injected}), result {result}";
            TestContext.Out.WriteLine(context);
            Assert.That(result, Is.EqualTo(injected ? FaultResult.OutOfMemory : FaultResult.Ok), context);
            GuestExpectations.CheckTableWithinHost(guest, context, checkedStart, 16);
            ExpectData(guest, 0, 4);

            Assert.That(guest.Fault(target, FaultAccess.Write), Is.EqualTo(FaultResult.Ok), $"{context}: the next fault");
            GuestExpectations.CheckTable(guest, true, context, checkedStart, 16);
            GuestExpectations.CheckHostMaps(guest, true, context, checkedStart, 16);
            Write(guest, target, 0x99);
            Assert.That(Read(guest, target), Is.EqualTo(0x99));
            Assert.That(Read(guest, start + Page), Is.EqualTo(growStack ? 0x17 : 0), "the old data of the VMA");
            if (!injected)
            {
                Assert.That(failAt, Is.GreaterThan(0), "the fault made no host call");
                return;
            }
        }

        Assert.Fail("the fault still made host calls after 100 injected failures");
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on a fresh space (four written pages at window page 0, plus
    /// <paramref name="setup"/>) with host call 0, 1, 2, ... failing, until a run makes fewer calls than the one
    /// asked to fail; after each run checks the table and the host maps against the engine, that an injected
    /// failure gives ENOMEM or the engine's own result, then <paramref name="check"/>.
    /// </summary>
    private static void FailEachHostCall(Func<GuestMemory, Errno> operation, Action<GuestMemory, Errno> check, Action<GuestMemory>? setup = null)
    {
        for (int failAt = 0; failAt < 100; failAt++)
        {
            using GuestMemory guest = CreateWithData();
            setup?.Invoke(guest);
            guest.HostCalls.FailAfter = failAt;
            Errno error = operation(guest);
            bool injected = guest.HostCalls.Failed;
            guest.HostCalls.FailAfter = -1;
            string context = $"host call {failAt} failing (injected: {injected}), result {error}";
            GuestExpectations.CheckTable(guest, true, context, Window, 64);
            GuestExpectations.CheckHostMaps(guest, true, context, Window, 64);
            TestContext.Out.WriteLine(context);
            check(guest, error);
            if (!injected)
            {
                Assert.That(failAt, Is.GreaterThan(0), "the operation made no host call");
                return;
            }
        }

        Assert.Fail("the operation still made host calls after 100 injected failures");
    }

    /// <summary>A fresh space with four private pages at window page 0, page i holding <see cref="Mark"/>(i) at byte 11.</summary>
    private static GuestMemory CreateWithData()
    {
        GuestMemory guest = Create();
        MapReadWrite(guest, At(0), 4);
        for (int page = 0; page < 4; page++)
        {
            Write(guest, At(page) + 11, Mark(page));
        }

        return guest;
    }

    /// <summary>The marks of data pages [<paramref name="first"/>, +<paramref name="count"/>) are <paramref name="shift"/> window pages further.</summary>
    private static void ExpectData(GuestMemory guest, int first, int count, int shift = 0)
    {
        for (int page = first; page < first + count; page++)
        {
            Assert.That(Read(guest, At(page + shift) + 11), Is.EqualTo(Mark(page)), $"the data of page {page} at window page {page + shift}");
        }
    }

    /// <summary>Whether a VMA covers <paramref name="address"/>.</summary>
    private static void ExpectMapped(GuestMemory guest, ulong address, bool mapped) =>
        Assert.That(guest.Space.TryGetVma(address, out _), Is.EqualTo(mapped), $"a VMA at {address:x}");
}
