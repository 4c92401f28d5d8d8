using NUnit.Framework;
using VmaEngine.Vma;
using VmaEngine.Vma.Merge;
using static Tests.VmaCore.Merge.KernelVmaTests;
using static Tests.VmaCore.Merge.VmaTestMm;

namespace Tests.VmaCore.Merge;

/// <summary>
/// v6.15's anon_vma merge rule against the 6.16 fix (<see cref="AddressSpaceOptions.AllowMergeOfFaultedWithUnfaulted"/>,
/// commit 879bca0a2c4f), with the merge state proposing the middle VMA's own anon_vma as the real callers do.
/// </summary>
[TestFixture]
[NonParallelizable]
public unsafe class FaultedMergeOptionTests
{
    [Test]
    public void FaultedMiddleBetweenUnfaultedNeighbours([Values] bool fixedRules)
    {
        // 0123456789
        // PPPVVVVNN   V faulted; changing all of V to P's attributes.
        using var t = new VmaTestMm(new AddressSpaceOptions { AllowMergeOfFaultedWithUnfaulted = fixedRules });
        VmArea* prev = t.AllocAndLinkVma(0, 0x3000, 0);
        VmArea* vma = t.AllocAndLinkVma(0x3000, 0x7000, 3);
        t.AllocAndLinkVma(0x7000, 0x9000, 7);
        AnonVma* anonVma = t.NewAnonVma(vma);
        t.Vmi.Set(0x3000);
        var vmg = new VmaMergeState(ref t.Vmi, prev, vma, 0x3000, 0x7000);
        Assert.That(vmg.AnonVma == anonVma);

        VmArea* merged = t.MergeExisting(ref vmg);
        if (!fixedRules)
        {
            // v6.15: the unfaulted neighbours have empty chains, so a faulted range never joins them.
            Assert.That(merged == null);
            Assert.That(vmg.State, Is.EqualTo(VmaMergeResult.NoMerge));
            Assert.That(t.CleanupMm(), Is.EqualTo(3));
            return;
        }

        Assert.That(merged == prev);
        Assert.That(vmg.State, Is.EqualTo(VmaMergeResult.Success));
        AssertRange(prev, 0, 0x9000, 0);
        Assert.That(prev->AnonVma == anonVma);
        Assert.That(IsSinglyLinkedTo(prev, anonVma));
        Assert.That(anonVma->NumActiveVmas, Is.EqualTo(1));
        MmSnapshot.AssertConsistent(t.Mm);
        Assert.That(t.CleanupMm(), Is.EqualTo(1));
    }

    [Test]
    public void UnfaultedMiddleNextToFaultedPrevMergesInBoth([Values] bool fixedRules)
    {
        using var t = new VmaTestMm(new AddressSpaceOptions { AllowMergeOfFaultedWithUnfaulted = fixedRules });
        VmArea* prev = t.AllocAndLinkVma(0, 0x3000, 0);
        VmArea* vma = t.AllocAndLinkVma(0x3000, 0x5000, 3, F | VmFlags.Exec);
        AnonVma* anonVma = t.NewAnonVma(prev);
        t.Vmi.Set(0x3000);
        var vmg = new VmaMergeState(ref t.Vmi, prev, vma, 0x3000, 0x5000) { Flags = F };

        Assert.That(t.MergeExisting(ref vmg) == prev);
        AssertRange(prev, 0, 0x5000, 0);
        Assert.That(prev->AnonVma == anonVma);
        MmSnapshot.AssertConsistent(t.Mm);
        Assert.That(t.CleanupMm(), Is.EqualTo(1));
    }

    [Test]
    public void ForkChildNeverJoinsAnUnfaultedVma()
    {
        // A VMA linked to a second (parent) anon_vma, as after fork, keeps its own VMA even under the 6.16 rules.
        using var t = new VmaTestMm(new AddressSpaceOptions { AllowMergeOfFaultedWithUnfaulted = true });
        VmArea* prev = t.AllocAndLinkVma(0, 0x3000, 0);
        VmArea* vma = t.AllocAndLinkVma(0x3000, 0x5000, 3);
        t.NewAnonVma(vma);
        AnonVma* parent = AnonVmaCache.AllocAnonVma(t.Mm.Faults);
        parent->NumChildren++;
        Rmap.ChainLink(vma, AnonVmaCache.AllocChain(t.Mm.Faults), parent);
        t.Vmi.Set(0x3000);
        var vmg = new VmaMergeState(ref t.Vmi, prev, vma, 0x3000, 0x5000);

        Assert.That(t.MergeExisting(ref vmg) == null);
        Assert.That(vmg.State, Is.EqualTo(VmaMergeResult.NoMerge));
        Assert.That(t.CleanupMm(), Is.EqualTo(2));
    }

    [Test]
    public void MremapCopyOfFaultedVmaNextToUnfaultedPrev([Values] bool fixedRules)
    {
        // P unfaulted at [0x10000, 0x12000) pg 0x10; the faulted source moves right after it with pgoff 0x12.
        using var t = new VmaTestMm(new AddressSpaceOptions { AllowMergeOfFaultedWithUnfaulted = fixedRules });
        VmArea* prev = t.AllocAndLinkVma(0x10000, 0x12000, 0x10);
        VmArea* source = t.AllocAndLinkVma(0x30000, 0x32000, 0x12);
        AnonVma* anonVma = t.NewAnonVma(source);

        VmArea* copy = t.Mm.CopyVma(ref source, 0x12000, 0x2000, 0x12, out bool needRmapLocks);
        if (fixedRules)
        {
            // 6.16+: prev grows over the range and takes the source's anon_vma (6.18.y's copied_from rule).
            Assert.That(copy == prev);
            AssertRange(prev, 0x10000, 0x14000, 0x10);
            Assert.That(prev->AnonVma == anonVma);
            Assert.That(needRmapLocks, "the destination's pgoff precedes the source's");
        }
        else
        {
            Assert.That(copy != prev);
            AssertRange(copy, 0x12000, 0x14000, 0x12);
            Assert.That(copy->AnonVma == anonVma);
            Assert.That(prev->AnonVma == null);
            Assert.That(needRmapLocks, Is.False);
        }

        MmSnapshot.AssertConsistent(t.Mm);
        Assert.That(t.CleanupMm(), Is.EqualTo(fixedRules ? 2 : 3));
    }
}
