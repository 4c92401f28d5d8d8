using NUnit.Framework;
using VmaEngine.Slab;
using VmaEngine.Vma;
using VmaEngine.Vma.Tree;
using static Tests.VmaCore.Merge.KernelVmaTests;
using static Tests.VmaCore.Merge.VmaTestMm;

namespace Tests.VmaCore.Merge;

/// <summary>Unmapping, mapping over, map-count limits and teardown of the merge engine.</summary>
[TestFixture]
[NonParallelizable]
public unsafe class LifecycleTests
{
    [TestCase(0x10001UL, 0x1000UL, TestName = "Unaligned start")]
    [TestCase(0x10000UL, 0UL, TestName = "Empty range")]
    [TestCase(0x7FFF_FFFF_F000UL, 0x2000UL, TestName = "Beyond TASK_SIZE")]
    public void MunmapRejectsBadRanges(ulong start, ulong length)
    {
        using var t = new VmaTestMm();
        t.AllocAndLinkVma(0x10000, 0x14000, 0x10);
        string[] before = MmSnapshot.Take(t.Mm);
        t.Vmi.Set(start);
        Assert.That(t.Mm.DoVmiMunmap(ref t.Vmi, start, length), Is.EqualTo(Errno.EINVAL));
        Assert.That(MmSnapshot.Take(t.Mm), Is.EqualTo(before));
        t.CleanupMm();
    }

    [Test]
    public void MunmapOfAHoleSucceedsAndChangesNothing()
    {
        using var t = new VmaTestMm();
        t.AllocAndLinkVma(0x10000, 0x14000, 0x10);
        string[] before = MmSnapshot.Take(t.Mm);
        t.Vmi.Set(0x20000);
        Assert.That(t.Mm.DoVmiMunmap(ref t.Vmi, 0x20000, 0x1000), Is.EqualTo(Errno.None));
        Assert.That(MmSnapshot.Take(t.Mm), Is.EqualTo(before));
        t.CleanupMm();
    }

    [Test]
    public void MunmapInTheMiddleSplitsUnlessTheMapCountLimitIsReached()
    {
        using var t = new VmaTestMm(new AddressSpaceOptions { MaxMapCount = 2 });
        t.AllocAndLinkVma(0x10000, 0x16000, 0x10);
        t.AllocAndLinkVma(0x20000, 0x22000, 0x20);
        string[] before = MmSnapshot.Take(t.Mm);

        // Punching a hole would leave 3 VMAs: ENOMEM, nothing changed.
        t.Vmi.Set(0x12000);
        Assert.That(t.Mm.DoVmiMunmap(ref t.Vmi, 0x12000, 0x2000), Is.EqualTo(Errno.ENOMEM));
        Assert.That(MmSnapshot.Take(t.Mm), Is.EqualTo(before));

        // Trimming an end only splits temporarily: allowed.
        t.Vmi.Set(0x14000);
        Assert.That(t.Mm.DoVmiMunmap(ref t.Vmi, 0x14000, 0x2000), Is.EqualTo(Errno.None));
        AssertRange(t.Mm.VmaLookup(0x10000), 0x10000, 0x14000, 0x10);
        Assert.That(t.Mm.MapCount, Is.EqualTo(2));
        MmSnapshot.AssertConsistent(t.Mm);
        Assert.That(t.CleanupMm(), Is.EqualTo(2));
    }

    [Test]
    public void SplitAndModifyRefuseAtTheMapCountLimit()
    {
        using var t = new VmaTestMm(new AddressSpaceOptions { MaxMapCount = 1 });
        VmArea* vma = t.AllocAndLinkVma(0x10000, 0x16000, 0x10);
        t.Vmi.Set(0x10000);
        Assert.That(t.Mm.SplitVma(ref t.Vmi, vma, 0x12000, newBelow: true), Is.EqualTo(Errno.ENOMEM));
        t.Vmi.Set(0x12000);
        Assert.That(t.Mm.ModifyFlags(ref t.Vmi, vma, vma, 0x12000, 0x14000, VmFlags.Read, out Errno error) == null);
        Assert.That(error, Is.EqualTo(Errno.ENOMEM));
        AssertRange(vma, 0x10000, 0x16000, 0x10);
        Assert.That(t.CleanupMm(), Is.EqualTo(1));
    }

    [Test]
    public void MmapRegionReplacesWhatIsThereAndMergesAcross()
    {
        using var t = new VmaTestMm(new AddressSpaceOptions { SoftDirty = false });
        const VmFlags anon = F | VmFlags.Account;
        Assert.That(t.Mm.MmapRegion(null, 0x10000, 0x6000, anon, 0x10, out _), Is.EqualTo(Errno.None));
        VmArea* vma = t.Mm.VmaLookup(0x10000);
        Assert.That(t.Mm.AnonVmaPrepare(vma), Is.EqualTo(Errno.None));
        AnonVma* anonVma = vma->AnonVma;

        // A read-only piece in the middle: three VMAs. (The original VMA object held the middle and is freed.)
        Assert.That(t.Mm.MmapRegion(null, 0x12000, 0x2000, VmFlags.Read | VmFlags.MayRead, 0x12, out _), Is.EqualTo(Errno.None));
        Assert.That(t.Mm.MapCount, Is.EqualTo(3));
        Assert.That(t.Mm.VmaLookup(0x12000)->AnonVma == null, "a new mapping has no pages yet");
        Assert.That(t.Mm.VmaLookup(0x10000)->AnonVma == anonVma, "the split-off head keeps the anon_vma");
        Assert.That(t.Mm.VmaLookup(0x14000)->AnonVma == anonVma, "the split-off tail keeps the anon_vma");

        // Mapping the first attributes over it again: the new range proposes no anon_vma and both neighbours are
        // linked once to the same anon_vma, so all three merge.
        Assert.That(t.Mm.MmapRegion(null, 0x12000, 0x2000, anon, 0x12, out _), Is.EqualTo(Errno.None));
        Assert.That(t.Mm.MapCount, Is.EqualTo(1));
        vma = t.Mm.VmaLookup(0x10000);
        AssertRange(vma, 0x10000, 0x16000, 0x10);
        Assert.That(vma->AnonVma == anonVma);
        Assert.That(vma->VmFlags, Is.EqualTo(anon));
        MmSnapshot.AssertConsistent(t.Mm);
        Assert.That(t.CleanupMm(), Is.EqualTo(1));
    }

    [Test]
    public void MmapRegionDropsLockedFromSpecialMappings()
    {
        using var t = new VmaTestMm();
        Assert.That(t.Mm.MmapRegion(null, 0x10000, 0x2000, F | VmFlags.Locked | VmFlags.Io, 0x10, out _), Is.EqualTo(Errno.None));
        Assert.That(t.Mm.VmaLookup(0x10000)->VmFlags & (VmFlags.Locked | VmFlags.LockOnFault), Is.EqualTo(VmFlags.None));
        Assert.That(t.CleanupMm(), Is.EqualTo(1));
    }

    [Test]
    public void DisposeFreesEveryVmaAndReference()
    {
        string[] slabBefore = MmSnapshot.SlabCounts();
        MemPolicy* policy = MemPolicy.Create(2, 1);
        AnonVmaName* name = AnonVmaName.Create(3);
        var mm = new AddressSpace();
        mm.MmapLock.WriteLock();
        for (ulong i = 0; i < 64; i++)
        {
            ulong start = 0x100000 + (i * 0x3000);
            Assert.That(mm.MmapRegion(null, start, 0x2000, F | (i % 2 == 0 ? VmFlags.None : VmFlags.Exec), start >> 12, out _), Is.EqualTo(Errno.None));
            VmArea* vma = mm.VmaLookup(start);
            vma->VmPolicy = MemPolicy.Get(policy);
            vma->AnonVmaName = AnonVmaName.Get(name);
            if (i % 3 == 0)
            {
                Assert.That(mm.AnonVmaPrepare(vma), Is.EqualTo(Errno.None));
            }
        }

        var vmi = new VmaIterator(mm, 0x100000 + 0x1000);
        Assert.That(mm.SplitVma(ref vmi, mm.VmaLookup(0x100000), 0x101000, newBelow: false), Is.EqualTo(Errno.None));
        Assert.That(mm.MapCount, Is.EqualTo(65));
        mm.MmapLock.WriteUnlock();
        mm.Dispose();
        Rcu.Barrier();

        Assert.That(MmSnapshot.SlabCounts(), Is.EqualTo(slabBefore));
        Assert.That(policy->RefCount, Is.EqualTo(1));
        Assert.That(name->RefCount, Is.EqualTo(1));
        MemPolicy.Put(policy);
        AnonVmaName.Put(name);
    }
}
