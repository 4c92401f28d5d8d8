using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;

namespace Tests.VmaCore.Statistics;

/// <summary>The VmaEngine.Vma meter, read through a <see cref="System.Diagnostics.Metrics.MeterListener"/>.</summary>
[TestFixture]
[NonParallelizable]
public unsafe class VmaMetricsTests
{
    private const ulong Page = 4096;
    private const int HangGuardMilliseconds = 10_000;

    [Test]
    public void FaultsAreCountedByResultAndPath()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(0, 4 * Page, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous, out ulong heap), Is.EqualTo(Errno.None));
        Assert.That(space.Mmap(0, Page, Prot.Read, MapFlags.Private | MapFlags.Anonymous, out ulong table), Is.EqualTo(Errno.None));
        using var readings = new MeterReadings(VmaMetrics.MeterName);

        Assert.That(space.Fault(heap, FaultAccess.Write), Is.EqualTo(FaultResult.Ok));             // needs an anon_vma: retry
        Assert.That(space.Fault(heap + Page, FaultAccess.Write), Is.EqualTo(FaultResult.Ok));      // has one now
        Assert.That(space.Fault(table, FaultAccess.Write), Is.EqualTo(FaultResult.SegvAccErr));
        Assert.That(space.Fault(table, FaultAccess.Read), Is.EqualTo(FaultResult.Ok));
        Assert.That(space.Fault(0x10000, FaultAccess.Read), Is.EqualTo(FaultResult.SegvMapErr));   // nothing mapped

        Assert.That(readings.Counted(), Is.EquivalentTo(new Dictionary<string, long>
        {
            ["vma.faults{path=retry,result=Ok}"] = 1,
            ["vma.faults{path=vma_lock,result=Ok}"] = 2,
            ["vma.faults{path=vma_lock,result=SegvAccErr}"] = 1,
            ["vma.faults{path=mmap_lock,result=SegvMapErr}"] = 1,
        }));
    }

    [Test]
    public void SystemCallsAreCountedByNameAndErrnoAndTheirMergesAndSplits()
    {
        using var space = new AddressSpace();
        using var readings = new MeterReadings(VmaMetrics.MeterName);

        Assert.That(space.Mmap(0, 16 * Page, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous, out ulong heap), Is.EqualTo(Errno.None));
        Assert.That(space.Mprotect(heap + 4 * Page, 4 * Page, Prot.Read), Is.EqualTo(Errno.None));                 // two splits
        Assert.That(space.Mprotect(heap + 4 * Page, 4 * Page, Prot.Read | Prot.Write), Is.EqualTo(Errno.None));    // one merge of three
        Assert.That(space.Mprotect(heap + 1, Page, Prot.Read), Is.EqualTo(Errno.EINVAL));
        Assert.That(space.Munmap(heap, 16 * Page), Is.EqualTo(Errno.None));

        Assert.That(readings.Counted(), Is.EquivalentTo(new Dictionary<string, long>
        {
            ["vma.syscalls{errno=None,syscall=mmap}"] = 1,
            ["vma.syscalls{errno=None,syscall=mprotect}"] = 2,
            ["vma.syscalls{errno=EINVAL,syscall=mprotect}"] = 1,
            ["vma.syscalls{errno=None,syscall=munmap}"] = 1,
            ["vma.splits"] = 2,
            ["vma.merges"] = 1,
        }));
    }

    [Test]
    public void TheGaugesFollowTheVmasAndAddressSpacesAlive()
    {
        using var readings = new MeterReadings(VmaMetrics.MeterName);
        Dictionary<string, long> before = readings.Observe();

        var space = new AddressSpace();
        for (int i = 0; i < 3; i++)
        {
            // PROT_NONE between read-write mappings, so that none merges.
            Prot prot = i % 2 == 0 ? Prot.Read | Prot.Write : Prot.None;
            Assert.That(space.Mmap(0, Page, prot, MapFlags.Private | MapFlags.Anonymous, out _), Is.EqualTo(Errno.None));
        }

        Assert.That(space.MapCount, Is.EqualTo(3));
        Dictionary<string, long> alive = readings.Observe();
        space.Dispose();
        Dictionary<string, long> after = readings.Observe();

        Assert.That(alive["vma.address_spaces"] - before["vma.address_spaces"], Is.EqualTo(1));
        Assert.That(alive["vma.count"] - before["vma.count"], Is.EqualTo(3));
        Assert.That(after, Is.EquivalentTo(before));
    }

    [Test]
    public void AWriterThatWaitsForAReaderIsCounted()
    {
        using var space = new AddressSpace();
        Assert.That(space.Mmap(0, 4 * Page, Prot.Read | Prot.Write, MapFlags.Private | MapFlags.Anonymous, out ulong heap), Is.EqualTo(Errno.None));
        using var readings = new MeterReadings(VmaMetrics.MeterName);

        // No reader inside: the writer does not wait.
        Assert.That(space.Mprotect(heap, 4 * Page, Prot.Read), Is.EqualTo(Errno.None));
        Assert.That(readings.Counted().GetValueOrDefault("vma.lock.writer_waits"), Is.Zero);

        VmArea* read = space.LockVmaUnderRcu(heap);
        Assert.That(read != null, "the VMA could not be read-locked");
        Task<Errno> writer = Task.Run(() => space.Mprotect(heap, 4 * Page, Prot.Read | Prot.Write));
        bool claimed = SpinWait.SpinUntil(() => (Volatile.Read(ref read->VmRefcnt) & VmaLock.LockOffset) != 0, HangGuardMilliseconds);
        Assert.That(claimed, Is.True, "the writer never claimed the VMA");
        AddressSpace.VmaEndRead(read);

        Assert.That(writer.Wait(HangGuardMilliseconds), Is.True, "the writer was not woken");
        Assert.That(writer.Result, Is.EqualTo(Errno.None));
        Assert.That(readings.Counted()["vma.lock.writer_waits"], Is.EqualTo(1));
    }
}
