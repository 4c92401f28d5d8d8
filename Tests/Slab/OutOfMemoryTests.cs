using System;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab;

/// <summary>The OS refusing memory, injected through <see cref="SlabCache{T}.FailNextOsRequests"/>.</summary>
[TestFixture]
public unsafe class OutOfMemoryTests
{
    private static SlabCacheOptions Options(SlabFlags flags) => new() { Alignment = 64, Flags = flags };

    [TestCase(SlabFlags.None)]
    [TestCase(SlabFlags.TypesafeByRcu)]
    [TestCase(SlabFlags.Debug)]
    public void TryAllocReturnsNullWhenTheFirstArenaIsRefused(SlabFlags flags)
    {
        using var cache = new SlabCache<Vma192>("oom_arena", Options(flags));
        SlabInfo before = cache.Info;
        cache.FailNextOsRequests = 1;
        Assert.That(cache.TryAlloc() == null, Is.True);
        Assert.That(cache.FailNextOsRequests, Is.Zero, "the arena reservation consumed the injected failure");
        Assert.That(cache.Info, Is.EqualTo(before));
        Assert.That(cache.ArenaCount, Is.Zero);
        AssertUsable(cache);
    }

    [TestCase(SlabFlags.None)]
    [TestCase(SlabFlags.TypesafeByRcu)]
    [TestCase(SlabFlags.Debug)]
    public void TryAllocReturnsNullWhenASlabCommitIsRefused(SlabFlags flags)
    {
        using var cache = new SlabCache<Vma192>("oom_commit", Options(flags));
        var live = new nint[cache.ObjectsPerSlab];
        for (int i = 0; i < live.Length; i++)
        {
            live[i] = (nint)cache.Alloc();
        }

        SlabInfo before = cache.Info;
        Assert.That(before.Slabs, Is.EqualTo(1), "the first slab is used up");
        cache.FailNextOsRequests = 1;
        Assert.That(cache.TryAlloc() == null, Is.True);
        Assert.That(cache.FailNextOsRequests, Is.Zero, "the slab commit consumed the injected failure");
        Assert.That(cache.Info, Is.EqualTo(before));
        Assert.That(cache.ArenaCount, Is.EqualTo(1));
        AssertUsable(cache);
        cache.FreeBulk(live);
    }

    [Test]
    public void AllocThrowsOutOfMemoryWithTheCacheName()
    {
        using var cache = new SlabCache<Vma192>("oom_named_cache", Options(SlabFlags.None));
        cache.FailNextOsRequests = 1;
        var e = Assert.Throws<OutOfMemoryException>(() => cache.Alloc());
        Assert.That(e!.Message, Does.Contain("oom_named_cache"));
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
        AssertUsable(cache);
    }

    [TestCase(SlabFlags.None)]
    [TestCase(SlabFlags.Debug)]
    public void TryAllocBulkReturnsFalseWithNothingAllocated(SlabFlags flags)
    {
        using var cache = new SlabCache<Vma192>("oom_bulk", Options(flags));
        Vma192* kept = cache.Alloc();
        SlabInfo before = cache.Info;

        // More objects than the first slab has left: the second slab's commit is refused half-way through.
        var objects = new nint[3 * cache.ObjectsPerSlab];
        cache.FailNextOsRequests = 1;
        Assert.That(cache.TryAllocBulk(objects), Is.False);
        Assert.That(objects, Is.All.EqualTo((nint)0), "nothing is handed out");
        Assert.That(cache.Info, Is.EqualTo(before));

        cache.FailNextOsRequests = 1;
        Assert.Throws<OutOfMemoryException>(() => cache.AllocBulk(objects));
        Assert.That(cache.Info, Is.EqualTo(before));

        Assert.That(cache.TryAllocBulk(objects), Is.True);
        Assert.That(objects, Is.Unique.And.All.Not.EqualTo((nint)0));
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(objects.Length + 1));
        cache.FreeBulk(objects);
        cache.Free(kept);
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    /// <summary>After a refusal the cache hands out, keeps and takes back objects as before.</summary>
    private static void AssertUsable(SlabCache<Vma192> cache)
    {
        long active = cache.Info.ActiveObjects;
        Vma192* obj = cache.Alloc();
        obj->Key = 42;
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(active + 1));
        Assert.That(obj->Key, Is.EqualTo(42));
        cache.Free(obj);
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(active));
    }
}
