using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;

namespace Tests.VmaCore.Locking;

/// <summary>The vm_refcnt protocol of Linux v6.15, step by step.</summary>
[TestFixture]
public unsafe class VmaLockTests
{
    /// <summary>Generous bound on joins, so that a protocol bug fails the test instead of hanging the run.</summary>
    private const int HangGuardMilliseconds = 30_000;

    private AddressSpace _space = null!;

    [SetUp]
    public void SetUp() => _space = new AddressSpace();

    [TearDown]
    public void TearDown() => _space.Dispose();

    [Test]
    public void NewVmaIsDetachedAndNeverLocked()
    {
        VmArea* vma = VmAreaCache.Alloc(_space.Mm, _space.Faults);
        Assert.That(vma->VmRefcnt, Is.Zero);
        Assert.That(vma->VmLockSeq, Is.EqualTo(VmaLock.NeverLocked));
        Assert.That(VmaLock.IsAttached(vma), Is.False);
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Detached), "a reader refuses a detached VMA");
        Assert.That(vma->VmRefcnt, Is.Zero, "a refused reader leaves no reference");
        VmAreaCache.Free(vma);
    }

    [Test]
    public void StateMachineStepByStep()
    {
        VmArea* vma = TestVmas.Link(_space, 0x10000, 0x20000);
        Assert.That(vma->VmRefcnt, Is.EqualTo(1), "attached, no readers");
        Assert.That(VmaLock.IsWriteLocked(vma), Is.False, "the write unlock released the VMA");

        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Locked));
        Assert.That(vma->VmRefcnt, Is.EqualTo(2), "one reader");
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Locked));
        Assert.That(vma->VmRefcnt, Is.EqualTo(3), "two readers");
        VmaLock.EndRead(vma);
        VmaLock.EndRead(vma);
        Assert.That(vma->VmRefcnt, Is.EqualTo(1));

        _space.MmapLock.WriteLock();
        uint seq = _space.Mm->MmLockSeq;
        Assert.That(seq & 1, Is.EqualTo(1u), "a write section has an odd sequence");
        VmaLock.StartWrite(vma);
        Assert.That(vma->VmLockSeq, Is.EqualTo(seq));
        Assert.That(VmaLock.IsWriteLocked(vma), Is.True);
        Assert.That(vma->VmRefcnt, Is.EqualTo(1), "the writer removed its offset once it owned the VMA");
        VmaLock.StartWrite(vma);
        Assert.That(vma->VmRefcnt, Is.EqualTo(1), "write-locking twice in one section is a no-op");
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Busy), "readers fail while write-locked");
        Assert.That(vma->VmRefcnt, Is.EqualTo(1));
        _space.MmapLock.WriteUnlock();

        Assert.That(_space.Mm->MmLockSeq, Is.EqualTo(seq + 1));
        Assert.That(VmaLock.IsWriteLocked(vma), Is.False, "mmap_write_unlock released every VMA write lock");
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Locked));
        VmaLock.EndRead(vma);

        _space.MmapLock.WriteLock();
        VmaLock.StartWrite(vma);
        VmaLock.MarkDetached(vma);
        Assert.That(vma->VmRefcnt, Is.Zero, "detached");
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Busy), "still write-locked in this section");
        Assert.That(_space.Tree.Preallocate(0x10000, 0x20000), Is.True);
        _space.Tree.Store(0x10000, 0x20000, null);
        _space.Mm->MapCount--;
        _space.MmapLock.WriteUnlock();
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Detached), "a reader racing with the removal sees it detached");
        Assert.That(vma->VmRefcnt, Is.Zero);
        VmAreaCache.Free(vma);
    }

    [Test]
    public void ReaderNeverBlocksOnAWriteLockedVma()
    {
        VmArea* vma = TestVmas.Link(_space, 0x10000, 0x20000);
        _space.MmapLock.WriteLock();
        VmaLock.StartWrite(vma);
        var reader = Task.Run(() => _space.LockVmaUnderRcu(0x10000) == null);
        Assert.That(reader.Wait(HangGuardMilliseconds), Is.True, "the reader returned instead of waiting");
        Assert.That(reader.Result, Is.True, "the reader fell back (null) instead of locking");
        _space.MmapLock.WriteUnlock();
    }

    [Test]
    public void WriterWaitsForAReaderAndProceedsWhenItLeaves()
    {
        VmArea* vma = TestVmas.Link(_space, 0x10000, 0x20000);
        VmArea* read = _space.LockVmaUnderRcu(0x10005);
        Assert.That(read == vma);

        var writerHoldsMmapLock = new ManualResetEventSlim();
        var writer = Task.Run(() =>
        {
            _space.MmapLock.WriteLock();
            writerHoldsMmapLock.Set();
            VmaLock.StartWrite(vma);
            bool locked = VmaLock.IsWriteLocked(vma);
            _space.MmapLock.WriteUnlock();
            return locked;
        });

        Assert.That(writerHoldsMmapLock.Wait(HangGuardMilliseconds), Is.True);
        SpinWait.SpinUntil(() => (Volatile.Read(ref vma->VmRefcnt) & VmaLock.LockOffset) != 0, HangGuardMilliseconds);
        Assert.That(vma->VmRefcnt, Is.EqualTo(VmaLock.LockOffset + 2), "the writer's claim, the attach count and our reader");
        Assert.That(writer.IsCompleted, Is.False, "the writer waits while the reader holds the VMA");
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Busy), "a new reader is refused while a writer waits");

        AddressSpace.VmaEndRead(read);
        Assert.That(writer.Wait(HangGuardMilliseconds), Is.True, "the last reader out woke the writer");
        Assert.That(writer.Result, Is.True);
        Assert.That(vma->VmRefcnt, Is.EqualTo(1));
    }

    [Test]
    public void DetachWaitsForAReaderThatRaisedTheCount()
    {
        VmArea* vma = TestVmas.Link(_space, 0x10000, 0x20000);
        _space.MmapLock.WriteLock();
        VmaLock.StartWrite(vma);

        // A reader that incremented before seeing the write lock: it holds a reference it is about to drop.
        Interlocked.Increment(ref vma->VmRefcnt);
        var detach = Task.Run(() => VmaLock.MarkDetached(vma));
        SpinWait.SpinUntil(() => (Volatile.Read(ref vma->VmRefcnt) & VmaLock.LockOffset) != 0, HangGuardMilliseconds);
        Assert.That(detach.IsCompleted, Is.False, "detach waits for the reader");
        VmaLock.EndRead(vma);
        Assert.That(detach.Wait(HangGuardMilliseconds), Is.True);
        Assert.That(vma->VmRefcnt, Is.Zero, "the count ends at 0");

        Assert.That(_space.Tree.Preallocate(0x10000, 0x20000), Is.True);
        _space.Tree.Store(0x10000, 0x20000, null);
        _space.Mm->MapCount--;
        VmAreaCache.Free(vma);
        _space.MmapLock.WriteUnlock();
    }

    [Test]
    public void ReadersFailAtTheLimitInsteadOfWrapping()
    {
        VmArea* vma = TestVmas.Link(_space, 0x10000, 0x20000);
        vma->VmRefcnt = VmaLock.RefLimit - 1;
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Locked), "the last reader within the limit");
        Assert.That(vma->VmRefcnt, Is.EqualTo(VmaLock.RefLimit));
        Assert.That(VmaLock.StartRead(_space.Mm, vma), Is.EqualTo(VmaReadResult.Busy), "one more would exceed the limit");
        Assert.That(vma->VmRefcnt, Is.EqualTo(VmaLock.RefLimit), "the refused reader left the count alone");
        Assert.That(_space.LockVmaUnderRcu(0x10000) == null, "lock_vma_under_rcu falls back to mmap_lock");
        vma->VmRefcnt = 1;
    }
}
