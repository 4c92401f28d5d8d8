using System;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab.FastPath;

[TestFixture]
public unsafe class MagazineDepotTests
{
    [Test]
    public void TakeUnusedReturnsTheOldestMagazinesBelowTheLowWaterMark()
    {
        var depot = new MagazineDepot(8);
        for (int i = 1; i <= 5; i++)
        {
            Assert.That(depot.TryPush((byte*)(i * 64)), Is.True);
        }

        Assert.That(depot.TakeUnused(), Is.Empty, "no interval has passed: nothing is known to be unused");

        // This interval: the depot falls to 3, then refills to 4; the 3 at the bottom went unused.
        Assert.That((nint)depot.TryPop(), Is.EqualTo((nint)(5 * 64)));
        Assert.That((nint)depot.TryPop(), Is.EqualTo((nint)(4 * 64)));
        Assert.That(depot.TryPush((byte*)(6 * 64)), Is.True);
        Assert.That(depot.TakeUnused(), Is.EqualTo(new nint[] { 64, 2 * 64, 3 * 64 }));
        Assert.That(depot.Count, Is.EqualTo(1));

        // The next interval starts with the remaining magazine counted as unused.
        Assert.That(depot.TakeUnused(), Is.EqualTo(new nint[] { 6 * 64 }));
        Assert.That(depot.Count, Is.Zero);
        Assert.That(depot.TryPop() == null, Is.True);
    }

    [Test]
    public void TakeAllEmptiesTheDepotAndItsWorkingSet()
    {
        var depot = new MagazineDepot(2);
        Assert.That(depot.TryPush((byte*)64), Is.True);
        Assert.That(depot.TryPush((byte*)128), Is.True);
        Assert.That(depot.TryPush((byte*)192), Is.False, "a full depot refuses a magazine");
        Assert.That(depot.TakeUnused(), Is.Empty);
        Assert.That(depot.TakeAll(), Is.EqualTo(new nint[] { 64, 128 }));
        Assert.That(depot.TryPush((byte*)256), Is.True);
        Assert.That(depot.TakeUnused(), Is.Empty, "the working set restarts after TakeAll");
    }

    [Test]
    public void MagazinesParkedInTheDepotGoBackToTheOsWithoutShrink()
    {
        using var cache = new SlabCache<Vma192>("depot_reap", new SlabCacheOptions { Alignment = 64 });
        var objects = new nint[cache.ObjectsPerSlab * 30];
        cache.AllocBulk(objects);
        cache.FreeBulk(objects);
        Assert.That(cache.Info.ActiveObjects, Is.Zero);

        // The reap timer returns the unused magazines, then the emptied slabs decay; the calling thread keeps at
        // most its two magazines, whose objects lie in at most four slabs of 42.
        int bound = cache.MinEmptySlabs + 4;
        Assert.That(SpinWait.SpinUntil(() => cache.Info.Slabs <= bound, TimeSpan.FromSeconds(30)), Is.True,
            $"{cache.Info.Slabs} slabs left, expected at most {bound}");
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }
}
