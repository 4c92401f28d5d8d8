using System;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;

namespace Tests.VmaCore.Mm;

/// <summary>The pointer-free host surface: <see cref="AddressSpace.TryGetVma"/> and <see cref="AddressSpace.ReadLockVma"/>.</summary>
[TestFixture]
public unsafe class VmaLookupTests
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong Base = 0x1000_0000;
    private const MapFlags FixedAnonymous = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const int HangGuardMilliseconds = 30_000;

    [Test]
    public void TryGetVmaCopiesTheVmaCoveringTheAddress()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read | Prot.Write, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(space.SetAnonName(Base, 4 * Page, "heap"), Is.EqualTo(Errno.None));

        Assert.That(space.TryGetVma(Base + (4 * Page) - 1, out VmaInfo info), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(info.Start, Is.EqualTo(Base));
            Assert.That(info.End, Is.EqualTo(Base + (4 * Page)));
            Assert.That(info.Length, Is.EqualTo(4 * Page));
            Assert.That(info.Flags & (VmFlags.Read | VmFlags.Write | VmFlags.Exec), Is.EqualTo(VmFlags.Read | VmFlags.Write));
            Assert.That(info.Backing, Is.EqualTo(VmaBacking.Anonymous));
            Assert.That(info.AnonName, Is.EqualTo("heap"));
            Assert.That(info, Is.EqualTo(space.Snapshot()[0]), "the same record as the snapshot");
        });

        Assert.That(space.TryGetVma(Base + (4 * Page), out VmaInfo none), Is.False);
        Assert.That(none, Is.EqualTo(default(VmaInfo)));
        Assert.That(space.TryGetVma(ulong.MaxValue, out _), Is.False);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void RawVmaShowsWhatTryGetVmaCopies(bool fileBacked)
    {
        using var files = new FileRegistry();
        using var space = new AddressSpace();
        MappedFile file = files.Open("data", 64);
        Errno mapped = fileBacked
            ? space.Mmap(Base, 4 * Page, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Fixed, file, 2 * Page, out _)
            : space.Mmap(Base, 4 * Page, Prot.Read | Prot.Write, FixedAnonymous, out _);
        Assert.That(mapped, Is.EqualTo(Errno.None));
        Assert.That(space.SetAnonName(Base, 4 * Page, "heap"), Is.EqualTo(fileBacked ? Errno.EBADF : Errno.None));
        Assert.That(space.Touch(Base, Page), Is.EqualTo(Errno.None));
        Assert.That(space.TryGetVma(Base, out VmaInfo info), Is.True);

        VmArea* vma = space.LockVmaUnderRcu(Base + Page);
        Assert.That(vma != null, "the VMA is read-locked");
        try
        {
            Assert.Multiple(() =>
            {
                Assert.That(vma->ToInfo(), Is.EqualTo(info));
                Assert.That((vma->Start, vma->End, vma->Flags, vma->Pgoff), Is.EqualTo((info.Start, info.End, info.Flags, info.Pgoff)));
                Assert.That((vma->Backing, vma->FileId, vma->FileName, vma->AnonName), Is.EqualTo((info.Backing, info.FileId, info.FileName, info.AnonName)));
                Assert.That(vma->Backing, Is.EqualTo(fileBacked ? VmaBacking.File : VmaBacking.Anonymous));
                Assert.That(vma->FileName, Is.EqualTo(fileBacked ? "data" : null));
                Assert.That(vma->Pgoff, Is.EqualTo(fileBacked ? 2UL : Base / Page));
                Assert.That(vma->AnonName, Is.EqualTo(fileBacked ? null : "heap"));
                Assert.That(vma->HasAnonVma, Is.True, "the write fault of Touch gave it an anon_vma");
                Assert.That(vma->AnonVmaId, Is.EqualTo(info.AnonVmaId).And.Not.EqualTo((nuint)0));
                Assert.That(vma->PageProt, Is.EqualTo((ulong)(VmFlags.Read | VmFlags.Write)));
            });
        }
        finally
        {
            AddressSpace.VmaEndRead(vma);
        }
    }

    [Test]
    public void RawVmaPageProtFollowsMprotect()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(Base, 4 * Page, Prot.Read | Prot.Exec), Is.EqualTo(Errno.None));
        VmArea* vma = space.LockVmaUnderRcu(Base);
        Assert.That(vma != null);
        (ulong pageProt, bool hasAnonVma, nuint anonVmaId) = (vma->PageProt, vma->HasAnonVma, vma->AnonVmaId);
        AddressSpace.VmaEndRead(vma);
        Assert.Multiple(() =>
        {
            Assert.That(pageProt, Is.EqualTo((ulong)(VmFlags.Read | VmFlags.Exec)));
            Assert.That(hasAnonVma, Is.False, "never written");
            Assert.That(anonVmaId, Is.EqualTo((nuint)0));
        });
    }

    [Test]
    public void VmaInfoPrintsAddressesInHex()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        Assert.That(space.TryGetVma(Base, out VmaInfo info), Is.True);
        Assert.That(info.ToString(), Does.StartWith("0x10000000-0x10004000 r--p pgoff 0x10000 Anonymous"));
        Assert.That(space.ToString(), Does.Contain("1 VMAs").And.Contain("brk 0x"));
    }

    [Test]
    public void ReadLockVmaHoldsTheVmaUntilDisposedAndReleasesOnce()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        VmArea* raw = space.Tree.Load(Base);

        VmaReadLock guard = space.ReadLockVma(Base + Page);
        Assert.Multiple(() =>
        {
            Assert.That(guard.HasValue && guard.IsLocked, Is.True);
            Assert.That(guard.Start, Is.EqualTo(Base));
            Assert.That(guard.End, Is.EqualTo(Base + (4 * Page)));
            Assert.That(guard.Backing, Is.EqualTo(VmaBacking.Anonymous));
            Assert.That(raw->VmRefcnt, Is.EqualTo(2), "one reader on the attached VMA");
            Assert.That(guard.ToString(), Does.Contain("locked 0x10000000-0x10004000"));
        });

        // A writer of the VMA waits for the guard.
        var munmap = Task.Run(() => space.Munmap(Base, Page));
        Thread.Sleep(20);
        Assert.That(munmap.IsCompleted, Is.False, "munmap waits for the read lock");
        guard.Dispose();
        Assert.That(munmap.Wait(HangGuardMilliseconds), Is.True);
        Assert.That(munmap.Result, Is.EqualTo(Errno.None));

        Assert.DoesNotThrow(guard.Dispose, "a second Dispose does nothing");
        Assert.That(guard.IsLocked, Is.False);
        Assert.That(guard.HasValue, Is.True);
        Assert.Throws<InvalidOperationException>(() => _ = guard.Start, "the fields are no longer guaranteed");
        using VmaReadLock after = space.ReadLockVma(Base + Page);
        Assert.That(after.Start, Is.EqualTo(Base + Page), "the layout changed after the release");
    }

    [Test]
    public void ReadLockVmaOfNothingIsAnEmptyGuard()
    {
        using var space = new AddressSpace();
        using VmaReadLock guard = space.ReadLockVma(Base);
        Assert.That(guard.HasValue, Is.False);
        Assert.That(guard.IsLocked, Is.False);
        Assert.Throws<InvalidOperationException>(() => _ = guard.Info);
        Assert.That(guard.ToString(), Does.Contain("no VMA"));
    }

    [Test]
    public void ReadLockVmaFallsBackToMmapLockWhenAWriterHoldsTheVma()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, 4 * Page, Prot.Read, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        VmArea* raw = space.Tree.Load(Base);

        // A writer holds mmap_lock and the VMA's write lock: the lock-free path fails, the fallback waits.
        space.MmapLock.WriteLock();
        VmaEngine.Vma.Locking.VmaLock.StartWrite(raw);
        Assert.That(space.LockVmaUnderRcu(Base) == null, "the lock-free path refuses a write-locked VMA");
        var reader = Task.Run(() =>
        {
            using VmaReadLock guard = space.ReadLockVma(Base);
            return guard.Info;
        });
        Thread.Sleep(20);
        Assert.That(reader.IsCompleted, Is.False, "the fallback waits for mmap_lock");
        space.MmapLock.WriteUnlock();
        Assert.That(reader.Wait(HangGuardMilliseconds), Is.True);
        Assert.That(reader.Result.Start, Is.EqualTo(Base));
        Assert.That(raw->VmRefcnt, Is.EqualTo(1), "the guard released its lock");
    }

    [Test]
    public void FaultWithAnUndefinedAccessIsArgumentOutOfRange()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(Base, Page, Prot.Read | Prot.Write, FixedAnonymous, out _), Is.EqualTo(Errno.None));
        var thrown = Assert.Throws<ArgumentOutOfRangeException>(() => space.Fault(Base, (FaultAccess)42));
        Assert.That(thrown!.ParamName, Is.EqualTo("access"));
        Assert.Throws<ArgumentOutOfRangeException>(() => space.Fault(Base, (FaultAccess)(-1)));
        Assert.That(space.Snapshot()[0].AnonVmaId, Is.EqualTo((nuint)0), "the refused fault prepared nothing");
    }
}
