using System;
using System.Collections.Generic;
using NUnit.Framework;
using VmaEngine.Slab;
using VmaEngine.Vma;
using VmaEngine.Vma.Tree;

namespace Tests.VmaCore.Tree;

/// <summary>
/// Behaviour of the maple-tree-like <see cref="VmaTree"/>: stores, lookups, gap searches, node accounting. Not run
/// alongside other tests: the node slab is shared by all trees and its counts are asserted here.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed unsafe class VmaTreeTests
{
    private const ulong Page = 4096;

    private FakeVmas _vmas = null!;
    private VmaTree _tree = null!;

    [SetUp]
    public void SetUp()
    {
        _vmas = new FakeVmas(64);
        _tree = new VmaTree();
    }

    [TearDown]
    public void TearDown()
    {
        _tree.Dispose();
        _vmas.Dispose();
    }

    [Test]
    public void EmptyTreeHasNoNodesAndIsAllFree()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_tree.Count, Is.Zero);
            Assert.That(_tree.Height, Is.Zero);
            Assert.That(_tree.NodeCount, Is.Zero);
            Assert.That(Id(_tree.Load(0x1000)), Is.EqualTo(-1));
            Assert.That(Id(_tree.FindAtOrAfter(0, ulong.MaxValue, out _, out _)), Is.EqualTo(-1));
            Assert.That(Id(_tree.FindBefore(ulong.MaxValue, 0, out _, out _)), Is.EqualTo(-1));
            Assert.That(_tree.FindEmptyArea(0x1000, 0x9000, 0x2000, out ulong low), Is.True);
            Assert.That(low, Is.EqualTo(0x1000UL));
            Assert.That(_tree.FindEmptyAreaRev(0x1000, 0x9000, 0x2000, out ulong high), Is.True);
            Assert.That(high, Is.EqualTo(0x7000UL));
        });
    }

    [Test]
    public void StoreThenLoadCoversExactlyTheRange()
    {
        Store(0x1000, 0x3000, 1);

        Assert.Multiple(() =>
        {
            Assert.That(Id(_tree.Load(0xfff)), Is.EqualTo(-1));
            Assert.That(Id(_tree.Load(0x1000)), Is.EqualTo(1));
            Assert.That(Id(_tree.Load(0x2fff)), Is.EqualTo(1));
            Assert.That(Id(_tree.Load(0x3000)), Is.EqualTo(-1));
            Assert.That(_tree.Count, Is.EqualTo(1));
            Assert.That(_tree.Height, Is.EqualTo(1));
        });
        _tree.Validate();
    }

    [Test]
    public void ErasingTheMiddleSplitsARange()
    {
        Store(0, 100 * Page, 1);
        Store(40 * Page, 60 * Page, -1);

        Assert.Multiple(() =>
        {
            Assert.That(_tree.Count, Is.EqualTo(2));
            Assert.That(Id(_tree.FindAtOrAfter(0, ulong.MaxValue, out ulong s1, out ulong e1)), Is.EqualTo(1));
            Assert.That((s1, e1), Is.EqualTo((0UL, 40 * Page)));
            Assert.That(Id(_tree.FindAtOrAfter(e1, ulong.MaxValue, out ulong s2, out ulong e2)), Is.EqualTo(1));
            Assert.That((s2, e2), Is.EqualTo((60 * Page, 100 * Page)));
            Assert.That(Id(_tree.Load(50 * Page)), Is.EqualTo(-1));
        });
        _tree.Validate();
    }

    [Test]
    public void ErasingEverythingFreesEveryNode()
    {
        long before = ActiveNodes();
        for (int i = 0; i < 2000; i++)
        {
            Store((ulong)i * 3 * Page, ((ulong)i * 3 * Page) + (2 * Page), i % 64);
        }

        Assert.That(_tree.Height, Is.GreaterThan(2));
        Store(0, ulong.MaxValue, -1);
        _tree.ReleasePreallocated();

        Assert.Multiple(() =>
        {
            Assert.That(_tree.Count, Is.Zero);
            Assert.That(_tree.Height, Is.Zero);
            Assert.That(_tree.NodeCount, Is.Zero);
            Assert.That(ActiveNodes(), Is.EqualTo(before));
        });
    }

    [Test]
    public void OverwriteSpanningManyLeavesClipsBothEnds()
    {
        for (int i = 0; i < 3000; i++)
        {
            Store((ulong)i * 4 * Page, ((ulong)i * 4 * Page) + (3 * Page), i % 60);
        }

        int height = _tree.Height;
        Store((100 * 4 * Page) + Page, 2900 * 4 * Page, 63);

        Assert.Multiple(() =>
        {
            Assert.That(_tree.Count, Is.EqualTo(100 + 1 + 1 + 100));
            Assert.That(Id(_tree.Load(100 * 4 * Page)), Is.EqualTo(100 % 60));
            Assert.That(Id(_tree.Load((100 * 4 * Page) + Page)), Is.EqualTo(63));
            Assert.That(Id(_tree.Load((2900 * 4 * Page) - 1)), Is.EqualTo(63));
            Assert.That(Id(_tree.Load(2900 * 4 * Page)), Is.EqualTo(2900 % 60));
            Assert.That(_tree.Height, Is.LessThan(height));
        });
        _tree.Validate();
    }

    [Test]
    public void SequentialInsertsFillTheLeaves()
    {
        // Ascending appends push slots into the left sibling before splitting, as mmap's top-down or bottom-up
        // placement produces them, so leaves end up nearly full rather than half full.
        const int ranges = 20000;
        StoreEveryOtherPage(_tree, ranges);

        _tree.Validate();
        int slots = (2 * ranges) + 1;
        Assert.That(_tree.NodeCount, Is.LessThan(slots * 1.15 / 14), "expected leaves about 14 of 16 slots full on average");
    }

    [Test]
    public void StoreReachesTheTopOfTheSpace()
    {
        Store(ulong.MaxValue - Page, ulong.MaxValue, 1);

        Assert.Multiple(() =>
        {
            Assert.That(Id(_tree.Load(ulong.MaxValue - 1)), Is.EqualTo(1));
            Assert.That(Id(_tree.Load(ulong.MaxValue)), Is.EqualTo(-1));
            Assert.That(Id(_tree.FindBefore(ulong.MaxValue, 0, out ulong start, out ulong end)), Is.EqualTo(1));
            Assert.That((start, end), Is.EqualTo((ulong.MaxValue - Page, ulong.MaxValue)));
            Assert.That(_tree.FindEmptyAreaRev(0, ulong.MaxValue, Page, out ulong rev), Is.True);
            Assert.That(rev, Is.EqualTo(ulong.MaxValue - (2 * Page)));
            Assert.That(_tree.FindEmptyArea(ulong.MaxValue - Page, ulong.MaxValue, 1, out _), Is.False);
        });
        _tree.Validate();
    }

    [Test]
    public void FindsRespectTheirLimits()
    {
        Store(0x10000, 0x20000, 1);
        Store(0x30000, 0x40000, 2);

        Assert.Multiple(() =>
        {
            Assert.That(Id(_tree.FindAtOrAfter(0x20000, 0x30000, out _, out _)), Is.EqualTo(-1));
            Assert.That(Id(_tree.FindAtOrAfter(0x20000, 0x30001, out ulong s, out _)), Is.EqualTo(2));
            Assert.That(s, Is.EqualTo(0x30000UL));
            Assert.That(Id(_tree.FindAtOrAfter(0x1ffff, 0x30000, out _, out _)), Is.EqualTo(1));
            Assert.That(Id(_tree.FindBefore(0x30000, 0x20000, out _, out _)), Is.EqualTo(-1));
            Assert.That(Id(_tree.FindBefore(0x30000, 0x1ffff, out _, out ulong e)), Is.EqualTo(1));
            Assert.That(e, Is.EqualTo(0x20000UL));
            Assert.That(Id(_tree.FindBefore(0x30001, 0, out _, out _)), Is.EqualTo(2));
            Assert.That(Id(_tree.FindBefore(0x10000, 0, out _, out _)), Is.EqualTo(-1));
            Assert.That(Id(_tree.FindBefore(0, 0, out _, out _)), Is.EqualTo(-1));
        });
    }

    [Test]
    public void EmptyAreaSearchesReturnTheLowestAndHighestFit()
    {
        // Free: [0, 0x10000) [0x11000, 0x13000) [0x14000, 0x18000) [0x20000, 2^64)
        Store(0x10000, 0x11000, 1);
        Store(0x13000, 0x14000, 2);
        Store(0x18000, 0x20000, 3);

        Assert.Multiple(() =>
        {
            Assert.That(_tree.FindEmptyArea(0x10000, 0x30000, 0x2000, out ulong a), Is.True);
            Assert.That(a, Is.EqualTo(0x11000UL));
            Assert.That(_tree.FindEmptyArea(0x10000, 0x30000, 0x3000, out ulong b), Is.True);
            Assert.That(b, Is.EqualTo(0x14000UL));
            Assert.That(_tree.FindEmptyArea(0x10000, 0x1a000, 0x5000, out _), Is.False);
            Assert.That(_tree.FindEmptyAreaRev(0x0, 0x1a000, 0x3000, out ulong c), Is.True);
            Assert.That(c, Is.EqualTo(0x15000UL));
            Assert.That(_tree.FindEmptyAreaRev(0x11800, 0x17000, 0x2000, out ulong d), Is.True);
            Assert.That(d, Is.EqualTo(0x15000UL));
            Assert.That(_tree.FindEmptyAreaRev(0x11800, 0x15800, 0x2000, out _), Is.False);
            Assert.That(_tree.FindEmptyAreaRev(0, 0x1000, 0x2000, out _), Is.False);
            Assert.That(_tree.FindEmptyArea(0x20000, 0x10000, 1, out _), Is.False);
        });
    }

    [Test]
    public void BadArgumentsThrowAndChangeNothing()
    {
        Store(0x1000, 0x2000, 1);

        Assert.Multiple(() =>
        {
            Assert.That(() => _tree.Preallocate(0x5000, 0x5000), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => _tree.Store(0x6000, 0x5000, _vmas[2]), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => _tree.FindEmptyArea(0, 0x10000, 0, out _), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
        _tree.ReleasePreallocated();
        Assert.That(() => _tree.Store(0x3000, 0x4000, _vmas[2]), Throws.InvalidOperationException.With.Message.Contains("Preallocate"));
        Assert.That(_tree.Count, Is.EqualTo(1));
        _tree.Validate();
    }

    [Test]
    public void FailedPreallocationChangesNothing()
    {
        var rng = new Random(7);
        for (int i = 0; i < 500; i++)
        {
            ulong start = (ulong)rng.Next(0, 100000) * Page;
            Store(start, start + ((ulong)rng.Next(1, 50) * Page), rng.Next(64));
        }

        _tree.ReleasePreallocated();
        List<ModelRange> contents = Contents();
        (int nodes, int height, int count, long active) = (_tree.NodeCount, _tree.Height, _tree.Count, ActiveNodes());

        _tree.FailNextPreallocations = 2;
        Assert.Multiple(() =>
        {
            Assert.That(_tree.Preallocate(0, 1000 * Page), Is.False);
            Assert.That(_tree.Preallocate(5 * Page, 6 * Page), Is.False);
            Assert.That(_tree.FailNextPreallocations, Is.Zero);
            Assert.That(Contents(), Is.EqualTo(contents));
            Assert.That((_tree.NodeCount, _tree.Height, _tree.Count), Is.EqualTo((nodes, height, count)));
            Assert.That(ActiveNodes(), Is.EqualTo(active), "slab accounting");
            Assert.That(_tree.PreallocatedNodes, Is.Zero);
            Assert.That(() => _tree.Store(0, 1000 * Page, null), Throws.InvalidOperationException);
        });
        Assert.That(_tree.Preallocate(0, 1000 * Page), Is.True);
        _tree.Store(0, 1000 * Page, null);
        _tree.Validate();
    }

    [Test]
    public void ThePoolKeepsTheWorstCaseAndReturnsTheRest()
    {
        long before = ActiveNodes();
        StoreEveryOtherPage(_tree, 3000);

        Assert.That(_tree.Preallocate(0, Page), Is.True);
        int worstCase = (3 * _tree.Height) + 1;
        Assert.That(_tree.PreallocatedNodes, Is.EqualTo(worstCase));

        // An exact overwrite swaps one slot in place and takes no node; the pool stays for the next store.
        _tree.Store(0, Page, _vmas[5]);
        Assert.That(_tree.PreallocatedNodes, Is.EqualTo(worstCase));

        // Once the tree is small again, the next preallocation returns the nodes it no longer needs.
        Store(Page, ulong.MaxValue, -1);
        Assert.That(_tree.Preallocate(0, Page), Is.True);
        Assert.That(_tree.PreallocatedNodes, Is.EqualTo((3 * _tree.Height) + 1));

        _tree.ReleasePreallocated();
        Assert.Multiple(() =>
        {
            Assert.That(_tree.PreallocatedNodes, Is.Zero);
            Assert.That(ActiveNodes(), Is.EqualTo(before + _tree.NodeCount));
            Assert.That(_tree.Count, Is.EqualTo(1));
        });
    }

    [Test]
    public void ReplacedNodesAreReusedAfterTheirGracePeriod()
    {
        long before = ActiveNodes();
        StoreEveryOtherPage(_tree, 3000);

        // After a grace period every replaced node can be reused: a store that rewrites one leaf (a range over the
        // end of one gap, a VMA and the start of the next gap) retires the old leaf into the ring, and the next
        // preallocation takes a node from the ring instead of the slab.
        Assert.That(_tree.Preallocate(0, Page), Is.True);
        long active = ActiveNodes();
        int recycling = _tree.RecyclingNodes;
        Assert.That(recycling, Is.GreaterThan(0));
        _tree.Store((199 * Page) + 512, (201 * Page) + 512, _vmas[7]);
        Assert.That(_tree.RecyclingNodes, Is.EqualTo(recycling + 1));
        Rcu.Barrier();
        Assert.That(_tree.Preallocate(0, Page), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(_tree.RecyclingNodes, Is.EqualTo(recycling));
            Assert.That(ActiveNodes(), Is.EqualTo(active));
            Assert.That(Id(_tree.Load(199 * Page)), Is.EqualTo(-1));
            Assert.That(Id(_tree.Load((199 * Page) + 512)), Is.EqualTo(7));
            Assert.That(Id(_tree.Load(201 * Page)), Is.EqualTo(7));
            Assert.That(Id(_tree.Load((201 * Page) + 512)), Is.EqualTo(-1));
        });

        _tree.ReleasePreallocated();
        Assert.Multiple(() =>
        {
            Assert.That(_tree.RecyclingNodes, Is.Zero);
            Assert.That(ActiveNodes(), Is.EqualTo(before + _tree.NodeCount));
        });
        _tree.Validate();
    }

    [TestCase(200UL * Page, (201UL * Page) + 512)]
    [TestCase((199UL * Page) + 512, 201UL * Page)]
    public void AStoreOverOneSlotAndPartOfTheNextMovesTheirBoundaryInPlace(ulong start, ulong end)
    {
        StoreEveryOtherPage(_tree, 3000);
        Assert.That(_tree.Preallocate(start, end), Is.True);
        int recycling = _tree.RecyclingNodes;
        int pool = _tree.PreallocatedNodes;
        int nodes = _tree.NodeCount;
        int count = _tree.Count;

        // A VMA's range grown over the start of the gap after it, or over the end of the gap before it: the leaf
        // keeps its slots, so no node is copied, taken or retired.
        _tree.Store(start, end, _vmas[7]);
        Assert.Multiple(() =>
        {
            Assert.That((_tree.RecyclingNodes, _tree.PreallocatedNodes, _tree.NodeCount), Is.EqualTo((recycling, pool, nodes)));
            Assert.That(_tree.Count, Is.EqualTo(count));
            Assert.That(Id(_tree.Load(start)), Is.EqualTo(7));
            Assert.That(Id(_tree.Load(end - 1)), Is.EqualTo(7));
            Assert.That(Id(_tree.Load(start - 1)), Is.EqualTo(-1));
            Assert.That(Id(_tree.Load(end)), Is.EqualTo(-1));
            Assert.That(Id(_tree.Load(202 * Page)), Is.EqualTo(101 % 64));
        });
        _tree.Validate();
    }

    [Test]
    public void DisposeFreesEveryNode()
    {
        long before = ActiveNodes();
        var tree = new VmaTree();
        StoreEveryOtherPage(tree, 20000);

        Assert.That(ActiveNodes(), Is.GreaterThan(before + tree.NodeCount - 1));
        tree.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(ActiveNodes(), Is.EqualTo(before));
            Assert.That(tree.Count, Is.Zero);
            Assert.That(Id(tree.Load(0)), Is.EqualTo(-1));
        });
    }

    private int Id(VmArea* vma) => _vmas.IdOf(vma);

    /// <summary>The nodes allocated from the slab once every pending RCU free has run.</summary>
    private static long ActiveNodes()
    {
        Rcu.Barrier();
        return VmaTree.NodeCacheInfo.ActiveObjects;
    }

    private void Store(ulong start, ulong end, int id) => Store(_tree, start, end, id);

    private void Store(VmaTree tree, ulong start, ulong end, int id)
    {
        Assert.That(tree.Preallocate(start, end), Is.True);
        tree.Store(start, end, _vmas[id]);
    }

    /// <summary>
    /// Stores <paramref name="ranges"/> one-page ranges from address 0, each followed by a one-page gap, their VMAs
    /// cycling through the 64 test VMAs.
    /// </summary>
    private void StoreEveryOtherPage(VmaTree tree, int ranges)
    {
        for (int i = 0; i < ranges; i++)
        {
            ulong start = (ulong)i * 2 * Page;
            Store(tree, start, start + Page, i % 64);
        }
    }

    private List<ModelRange> Contents()
    {
        var list = new List<ModelRange>();
        ulong address = 0;
        while (_tree.FindAtOrAfter(address, ulong.MaxValue, out ulong start, out ulong end) is var vma && vma != null)
        {
            list.Add(new ModelRange(start, end - 1, _vmas.IdOf(vma)));
            address = end;
        }

        return list;
    }
}
