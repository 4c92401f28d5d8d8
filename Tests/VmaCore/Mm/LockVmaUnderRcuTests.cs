using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using Tests.VmaCore.Locking;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;

namespace Tests.VmaCore.Mm;

/// <summary>
/// lock_vma_under_rcu over a SLAB_TYPESAFE_BY_RCU VMA cache: a pointer found in the tree may be freed and reused
/// before the reader locks it, and must then never be returned.
/// </summary>
[TestFixture]
public unsafe class LockVmaUnderRcuTests
{
    private const ulong Page = MmConstants.PageSize;

    [Test]
    public void ReturnsTheReadLockedVmaCoveringTheAddress()
    {
        using var space = new AddressSpace();
        VmArea* vma = TestVmas.Link(space, 0x100000, 0x104000);
        VmArea* got = space.LockVmaUnderRcu(0x103FFF);
        Assert.That(got == vma);
        Assert.That(vma->VmRefcnt, Is.EqualTo(2));
        AddressSpace.VmaEndRead(got);
        Assert.That(vma->VmRefcnt, Is.EqualTo(1));
        Assert.That(space.LockVmaUnderRcu(0x104000) == null, "end is exclusive");
        Assert.That(space.LockVmaUnderRcu(0xFFFFF) == null);
    }

    [Test]
    public void VmaFreedAndReusedForAnotherMmIsNotReturned()
    {
        using var a = new AddressSpace();
        using var b = new AddressSpace();
        VmArea* victim = TestVmas.Link(a, 0x100000, 0x104000);
        VmArea* reused = null;
        a.AfterTreeWalk = found =>
        {
            a.AfterTreeWalk = null;
            Assert.That((VmArea*)found == victim);
            TestVmas.Unlink(a, victim);
            reused = TestVmas.Link(b, 0x100000, 0x104000);
        };

        Assert.That(a.LockVmaUnderRcu(0x100000) == null, "the reused object belongs to another mm");
        Assume.That(reused == victim, "the cache handed the freed object straight back (LIFO), as the interleaving needs");
        Assert.That(victim->VmRefcnt, Is.EqualTo(1), "the reader dropped the reference it took on the reused VMA");
        Assert.That(b.LockVmaUnderRcu(0x100000) == victim, "the new owner can still lock it");
        AddressSpace.VmaEndRead(victim);
    }

    [Test]
    public void VmaFreedAndReusedForAnotherRangeIsNotReturned()
    {
        using var a = new AddressSpace();
        VmArea* victim = TestVmas.Link(a, 0x100000, 0x104000);
        VmArea* reused = null;
        a.AfterTreeWalk = found =>
        {
            a.AfterTreeWalk = null;
            TestVmas.Unlink(a, (VmArea*)found);
            reused = TestVmas.Link(a, 0x200000, 0x204000);
        };

        Assert.That(a.LockVmaUnderRcu(0x100000) == null, "the reused object no longer covers the address");
        Assume.That(reused == victim);
        Assert.That(victim->VmRefcnt, Is.EqualTo(1));
    }

    [Test]
    public void VmaDetachedUnderTheReaderMakesItWalkAgain()
    {
        using var a = new AddressSpace();
        VmArea* victim = TestVmas.Link(a, 0x100000, 0x104000);
        VmArea* replacement = null;
        int walks = 0;
        a.AfterTreeWalk = found =>
        {
            walks++;
            if (walks == 1)
            {
                // A writer replaces the VMA: the reader finds the old one detached and must walk again.
                a.MmapLock.WriteLock();
                VmaLock.StartWrite(victim);
                VmaLock.MarkDetached(victim);
                a.MmapLock.WriteUnlock();
                replacement = TestVmas.Link(a, 0x100000, 0x104000);
            }
        };

        VmArea* got = a.LockVmaUnderRcu(0x100000);
        Assert.That(walks, Is.EqualTo(2), "the detached VMA sent the reader back to the tree");
        Assert.That(got == replacement);
        AddressSpace.VmaEndRead(got);
        VmAreaCache.Free(victim);
    }

    /// <summary>
    /// Readers lock random addresses of one mm while a writer frees VMAs and reuses the objects for the same mm at
    /// other ranges and for a second mm. Every VMA a reader gets must cover its address, belong to its mm and stay
    /// stable while it holds it.
    /// </summary>
    [TestCase(1234, 2)]
    [TestCase(98765, 3)]
    public void RandomizedStaleReuseStress(int seed, int readers)
    {
        const int Slots = 64;
        const int WriterOperations = 20_000;
        const ulong SlotSize = 16 * Page;
        const int MinimumReaderIterations = 5_000;
        using var a = new AddressSpace();
        using var b = new AddressSpace();
        var inA = new Dictionary<int, nint>();
        var inB = new Dictionary<int, nint>();
        int stop = 0;
        string? failure = null;

        var readerTasks = new Task<long>[readers];
        for (int r = 0; r < readers; r++)
        {
            int readerSeed = seed * 31 + r;
            readerTasks[r] = Task.Factory.StartNew(() =>
            {
                var rng = new Random(readerSeed);
                long locked = 0;
                for (int iteration = 0; Volatile.Read(ref stop) == 0 || iteration < MinimumReaderIterations; iteration++)
                {
                    ulong address = (ulong)rng.Next(Slots) * SlotSize + (ulong)rng.Next(4) * Page + 0x1_0000_0000;
                    VmArea* vma = a.LockVmaUnderRcu(address);
                    if (vma == null)
                    {
                        continue;
                    }

                    locked++;
                    ulong start = vma->VmStart, end = vma->VmEnd;
                    MmStruct* mm = vma->VmMm;
                    Thread.SpinWait(20);
                    if (mm != a.Mm || address < start || address >= end
                        || vma->VmStart != start || vma->VmEnd != end || vma->VmMm != mm || vma->VmRefcnt < 2)
                    {
                        Interlocked.CompareExchange(ref failure, $"seed {seed}: reader got [{start:x}, {end:x}) of mm {(nint)mm:x} for {address:x}", null);
                    }

                    AddressSpace.VmaEndRead(vma);
                }

                return locked;
            }, TaskCreationOptions.LongRunning);
        }

        var rng = new Random(seed);
        for (int i = 0; i < WriterOperations; i++)
        {
            int slot = rng.Next(Slots);
            bool useA = rng.Next(2) == 0;
            AddressSpace target = useA ? a : b;
            Dictionary<int, nint> map = useA ? inA : inB;
            if (map.Remove(slot, out nint existing))
            {
                TestVmas.Unlink(target, (VmArea*)existing);
            }
            else
            {
                ulong start = (ulong)slot * SlotSize + 0x1_0000_0000 + (ulong)rng.Next(2) * Page;
                map[slot] = (nint)TestVmas.Link(target, start, start + (ulong)(1 + rng.Next(3)) * Page);
            }
        }

        Volatile.Write(ref stop, 1);
        Assert.That(Task.WaitAll(readerTasks, 60_000), Is.True, $"seed {seed}: readers hung");
        Assert.That(failure, Is.Null);
        long total = 0;
        foreach (Task<long> t in readerTasks)
        {
            total += t.Result;
        }

        if (inA.Count > 0)
        {
            Assert.That(total, Is.GreaterThan(0), $"seed {seed}: the readers locked at least one VMA");
        }
        Assert.That(a.MapCount, Is.EqualTo(inA.Count));
        Assert.That(b.MapCount, Is.EqualTo(inB.Count));
    }
}
