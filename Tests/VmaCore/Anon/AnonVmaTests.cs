using NUnit.Framework;
using Tests.VmaCore.Merge;
using VmaEngine.Vma;
using VmaEngine.Vma.Tree;
using static Tests.VmaCore.Merge.VmaTestMm;

namespace Tests.VmaCore.Anon;

/// <summary>The anon_vma model of <c>mm/rmap.c</c>: first faults, reuse of a neighbour's anon_vma, clone and unlink.</summary>
[TestFixture]
[NonParallelizable]
public unsafe class AnonVmaTests
{
    [Test]
    public void FirstFaultAllocatesARootAnonVma()
    {
        using var t = new VmaTestMm();
        VmArea* vma = t.AllocAndLinkVma(0x10000, 0x14000, 0x10);
        Assert.That(t.Mm.AnonVmaPrepare(vma), Is.EqualTo(Errno.None));
        AnonVma* anonVma = vma->AnonVma;
        Assert.That(anonVma != null);
        Assert.That(anonVma->Root == anonVma && anonVma->Parent == anonVma);
        Assert.That((anonVma->RefCount, anonVma->NumChildren, anonVma->NumActiveVmas, anonVma->ChainCount), Is.EqualTo((1, 1, 1, 1)));
        Assert.That(IsSinglyLinkedTo(vma, anonVma));

        // A second call finds it and changes nothing.
        Assert.That(t.Mm.AnonVmaPrepare(vma), Is.EqualTo(Errno.None));
        Assert.That(vma->AnonVma == anonVma && anonVma->ChainCount == 1);
        Assert.That(t.CleanupMm(), Is.EqualTo(1));
    }

    [Test]
    public void FirstFaultReusesTheNextVmasAnonVmaBeforeThePrevious()
    {
        using var t = new VmaTestMm();
        VmArea* prev = t.AllocAndLinkVma(0x10000, 0x12000, 0x10);
        VmArea* vma = t.AllocAndLinkVma(0x12000, 0x14000, 0x12);
        VmArea* next = t.AllocAndLinkVma(0x14000, 0x16000, 0x14);
        AnonVma* prevAnon = t.NewAnonVma(prev);
        AnonVma* nextAnon = t.NewAnonVma(next);
        Assert.That(t.Mm.AnonVmaPrepare(vma), Is.EqualTo(Errno.None));
        Assert.That(vma->AnonVma == nextAnon);
        Assert.That(nextAnon->NumActiveVmas, Is.EqualTo(2));
        Assert.That(prevAnon->NumActiveVmas, Is.EqualTo(1));
        MmSnapshot.AssertConsistent(t.Mm);
        Assert.That(t.CleanupMm(), Is.EqualTo(3));
    }

    [TestCase(VmFlags.Exec, 0x12UL, 0x12000UL, true, TestName = "Access flags may differ")]
    [TestCase(VmFlags.Locked, 0x12UL, 0x12000UL, false, TestName = "Other flags may not")]
    [TestCase(VmFlags.None, 0x13UL, 0x12000UL, false, TestName = "Page offsets must be contiguous")]
    [TestCase(VmFlags.None, 0x13UL, 0x13000UL, false, TestName = "The VMAs must be adjacent")]
    public void ReuseNeedsACompatibleNeighbour(VmFlags extra, ulong pgoff, ulong start, bool reused)
    {
        using var t = new VmaTestMm();
        VmArea* prev = t.AllocAndLinkVma(0x10000, 0x12000, 0x10);
        VmArea* vma = t.AllocAndLinkVma(start, start + 0x2000, pgoff, F | extra);
        AnonVma* prevAnon = t.NewAnonVma(prev);
        Assert.That(t.Mm.AnonVmaPrepare(vma), Is.EqualTo(Errno.None));
        Assert.That(vma->AnonVma == prevAnon, Is.EqualTo(reused));
        Assert.That(t.CleanupMm(), Is.EqualTo(2));
    }

    [Test]
    public void ANeighbourWithSeveralLinksIsNotReused()
    {
        using var t = new VmaTestMm();
        VmArea* prev = t.AllocAndLinkVma(0x10000, 0x12000, 0x10);
        VmArea* vma = t.AllocAndLinkVma(0x12000, 0x14000, 0x12);
        AnonVma* prevAnon = t.NewAnonVma(prev);
        AnonVma* parent = AnonVmaCache.AllocAnonVma(t.Mm.Faults);
        parent->NumChildren++;
        Rmap.ChainLink(prev, AnonVmaCache.AllocChain(t.Mm.Faults), parent);
        Assert.That(t.Mm.AnonVmaPrepare(vma), Is.EqualTo(Errno.None));
        Assert.That(vma->AnonVma != prevAnon && vma->AnonVma != parent);
        Assert.That(t.CleanupMm(), Is.EqualTo(2));
    }

    [Test]
    public void SplitPiecesShareTheAnonVmaUntilTheLastIsUnmapped()
    {
        string[] slabBefore = MmSnapshot.SlabCounts();
        using (var t = new VmaTestMm())
        {
            VmArea* vma = t.AllocAndLinkVma(0x10000, 0x14000, 0x10);
            AnonVma* anonVma = t.NewAnonVma(vma);
            t.Vmi.Set(0x10000);
            Assert.That(t.Mm.SplitVma(ref t.Vmi, vma, 0x12000, newBelow: false), Is.EqualTo(Errno.None));
            VmArea* upper = t.Mm.VmaLookup(0x12000);
            Assert.That(upper->AnonVma == anonVma && IsSinglyLinkedTo(upper, anonVma));
            Assert.That((anonVma->NumActiveVmas, anonVma->ChainCount), Is.EqualTo((2, 2)));

            var vmi = new VmaIterator(t.Mm, 0x10000);
            Assert.That(t.Mm.DoVmiMunmap(ref vmi, 0x10000, 0x2000), Is.EqualTo(Errno.None));
            Assert.That((anonVma->NumActiveVmas, anonVma->ChainCount, anonVma->RefCount), Is.EqualTo((1, 1, 1)));
            MmSnapshot.AssertConsistent(t.Mm);

            vmi = new VmaIterator(t.Mm, 0x12000);
            Assert.That(t.Mm.DoVmiMunmap(ref vmi, 0x12000, 0x2000), Is.EqualTo(Errno.None));
            Assert.That(t.Mm.MapCount, Is.EqualTo(0));
        }

        Assert.That(MmSnapshot.SlabCounts(), Is.EqualTo(slabBefore), "the anon_vma and its links were freed with the last VMA");
    }

    [Test]
    public void FaultsReuseSoAnMprotectLaterMerges()
    {
        // The oracle's note 2: mmap 0 4 rw; mmap 4 4 rwx; touch both; mprotect 4 4 rw -> one VMA.
        using var t = new VmaTestMm();
        VmArea* first = t.AllocAndLinkVma(0x10000, 0x14000, 0x10);
        VmArea* second = t.AllocAndLinkVma(0x14000, 0x18000, 0x14, F | VmFlags.Exec);
        Assert.That(t.Mm.AnonVmaPrepare(first), Is.EqualTo(Errno.None));
        Assert.That(t.Mm.AnonVmaPrepare(second), Is.EqualTo(Errno.None));
        Assert.That(second->AnonVma == first->AnonVma);

        t.Vmi.Set(0x14000);
        VmArea* vma = t.Mm.ModifyFlags(ref t.Vmi, first, second, 0x14000, 0x18000, F, out Errno error);
        Assert.That(error, Is.EqualTo(Errno.None));
        Assert.That(vma == first);
        KernelVmaTests.AssertRange(first, 0x10000, 0x18000, 0x10);
        Assert.That(t.Mm.MapCount, Is.EqualTo(1));
        MmSnapshot.AssertConsistent(t.Mm);
        Assert.That(t.CleanupMm(), Is.EqualTo(1));
    }
}
