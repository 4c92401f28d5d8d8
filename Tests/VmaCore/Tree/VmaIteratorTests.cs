using NUnit.Framework;
using Tests.VmaCore.Merge;
using VmaEngine.Vma;
using VmaEngine.Vma.Tree;

namespace Tests.VmaCore.Tree;

/// <summary>The maple-state positions of <see cref="VmaIterator"/> that the merge engine relies on.</summary>
[TestFixture]
[NonParallelizable]
public unsafe class VmaIteratorTests
{
    [Test]
    public void WalksEntriesAndGaps()
    {
        using var t = new VmaTestMm();
        VmArea* a = t.AllocAndLinkVma(0x1000, 0x2000, 1);
        VmArea* b = t.AllocAndLinkVma(0x4000, 0x5000, 4);
        var vmi = new VmaIterator(t.Mm, 0x3000);

        // From a gap: next skips to b, prev comes back to a, the next range is the gap between them.
        Assert.That(vmi.NextRewind(out VmArea* prev) == b);
        Assert.That(prev == a);
        Assert.That((vmi.Address, vmi.End), Is.EqualTo((0x2000UL, 0x4000UL)));

        // Ranges one by one: b, then the gap to the top; back: b, the gap, a, the bottom gap, then underflow.
        Assert.That(vmi.NextRange() == b);
        Assert.That(vmi.NextRange() == null);
        Assert.That((vmi.Address, vmi.End), Is.EqualTo((0x5000UL, VmaIterator.Top)));
        Assert.That(vmi.PrevRange() == b);
        Assert.That(vmi.PrevRange() == null);
        Assert.That(vmi.PrevRange() == a);
        Assert.That(vmi.PrevRange() == null);
        Assert.That((vmi.Address, vmi.End), Is.EqualTo((0UL, 0x1000UL)));
        Assert.That(vmi.PrevRange() == null);

        // Limited find stops before b; after overflow, next finds it and prev comes back to it.
        vmi.Set(0x1000);
        Assert.That(vmi.Find(0x4000) == a);
        Assert.That(vmi.Find(0x4000) == null);
        Assert.That(vmi.Prev() == a);
        Assert.That(vmi.Next() == b);
        Assert.That(vmi.Next() == null);
        Assert.That(vmi.Prev() == b);

        // With nothing below, prev underflows and leaves the iterator at the bottom, from where find starts again.
        vmi.Set(0x1000);
        Assert.That(vmi.Load() == a);
        Assert.That(vmi.Prev() == null);
        Assert.That(vmi.Address, Is.EqualTo(0UL));
        Assert.That(vmi.Next() == a);
        Assert.That(t.CleanupMm(), Is.EqualTo(2));
    }

    [Test]
    public void LookupsAfterAStoreSeeTheNewLeaf([Values(2, 200)] int vmas)
    {
        // Enough VMAs for a root leaf, or for leaves under an inner node (where a store inside one leaf replaces it).
        using var t = new VmaTestMm();
        for (int i = 0; i < vmas; i++)
        {
            t.AllocAndLinkVma(0x10000 + ((ulong)i * 0x4000), 0x11000 + ((ulong)i * 0x4000), (ulong)i);
        }

        ulong here = 0x10000 + ((ulong)(vmas / 2) * 0x4000);
        var vmi = new VmaIterator(t.Mm, here);
        VmArea* vma = vmi.Load();
        Assert.That(vma != null && vma->VmStart == here);

        // A store through another iterator replaces the leaf this one looked at last; its next lookups must find
        // the new VMA, not walk the old leaf.
        VmArea* added = t.AllocAndLinkVma(here + 0x2000, here + 0x3000, 0);
        Assert.That(vmi.Next() == added);
        Assert.That(vmi.Prev() == vma);
        Assert.That(vmi.NextRange() == null);
        Assert.That((vmi.Address, vmi.End), Is.EqualTo((here + 0x1000, here + 0x2000)));
        Assert.That(t.CleanupMm(), Is.EqualTo(vmas + 1));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void StepsBackAfterStepsForwardSeeTheCurrentTree(bool storeBetween)
    {
        // Enough VMAs for many leaves: some steps forward cross into the next leaf, and the steps back then start
        // from the leaf left behind, unless a store replaced it in between.
        const int vmas = 200;
        using var t = new VmaTestMm();
        for (int i = 0; i < vmas; i++)
        {
            t.AllocAndLinkVma(VmaStart(i), VmaStart(i) + 0x1000, (ulong)i);
        }

        var vmi = new VmaIterator(t.Mm, VmaStart(0));
        VmArea* first = vmi.Next();
        Assert.That(first != null && first->VmStart == VmaStart(0));
        for (int i = 1; i < vmas; i++)
        {
            VmArea* vma = vmi.Next();
            Assert.That(vma != null && vma->VmStart == VmaStart(i), $"next of VMA {i - 1}");
            ulong below = VmaStart(i - 1) + 0x1000;
            if (storeBetween)
            {
                // Through another iterator: a VMA in the middle of the hole before this one.
                t.AllocAndLinkVma(VmaStart(i) - 0x2000, VmaStart(i) - 0x1000, 0);
                below = VmaStart(i) - 0x1000;
            }

            Assert.That(vmi.PrevRange() == null, $"the hole before VMA {i}");
            Assert.That((vmi.Address, vmi.End), Is.EqualTo((below, VmaStart(i))));
            VmArea* before = vmi.PrevRange();
            Assert.That(before != null && before->VmEnd == below, $"the VMA before the hole before VMA {i}");
            Assert.That(vmi.NextRange() == null);
            Assert.That(vmi.NextRange() == vma);
        }

        Assert.That(t.CleanupMm(), Is.EqualTo(storeBetween ? (2 * vmas) - 1 : vmas));
    }

    private static ulong VmaStart(int i) => 0x10000 + ((ulong)i * 0x4000);
}
