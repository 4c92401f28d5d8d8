using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab.Ownership;

/// <summary>
/// The ownership check of a cache without <see cref="SlabFlags.Debug"/>: every pointer given to Free that is not an
/// object of the cache in use, and every immediate double free, throws an <see cref="ArgumentException"/> naming
/// the cache, the address and the reason, before anything changes.
/// </summary>
[TestFixture]
public unsafe class FreeCheckTests
{
    /// <summary>A vm_area_struct-like cache: on-slab metadata (42 x 192 bytes + a header in 8 KiB).</summary>
    private static readonly SlabCacheOptions s_vmaLike = new() { Alignment = 64, FreePointerOffset = 0, Flags = SlabFlags.TypesafeByRcu };

    /// <summary>A cache whose free pointer sits after the object: 256-byte slots, off-slab header table.</summary>
    private static readonly SlabCacheOptions s_offSlab = new() { Alignment = 64, Flags = SlabFlags.TypesafeByRcu };

    /// <summary>A plain cache: the free pointer in the middle of the object.</summary>
    private static readonly SlabCacheOptions s_plain = new() { Alignment = 64 };

    private static IEnumerable<TestCaseData> Layouts()
    {
        yield return new TestCaseData(s_vmaLike).SetArgDisplayNames("vma-like");
        yield return new TestCaseData(s_offSlab).SetArgDisplayNames("off-slab");
        yield return new TestCaseData(s_plain).SetArgDisplayNames("plain");
    }

    [TestCaseSource(nameof(Layouts))]
    public void HeapAndOtherCachesPointersAreRejected(SlabCacheOptions options)
    {
        using var cache = new SlabCache<Vma192>("owner", options);
        using var stranger = new SlabCache<Vma192>("stranger", options);
        Vma192* obj = cache.Alloc();
        Vma192* theirs = stranger.Alloc();
        void* heap = NativeMemory.AlignedAlloc(192, 64);
        try
        {
            AssertRejected(cache, (Vma192*)heap, SlabCorruptionKind.ForeignPointer, "none of the cache's arenas");
            AssertRejected(cache, theirs, SlabCorruptionKind.ForeignPointer, "none of the cache's arenas");
            AssertRejected(cache, (Vma192*)((byte*)obj + (64 << 20)), SlabCorruptionKind.ForeignPointer, "none of the cache's arenas");
            AssertNothingHandedOutTwice(cache, obj, (Vma192*)heap, theirs);
        }
        finally
        {
            NativeMemory.AlignedFree(heap);
            cache.Free(obj);
            stranger.Free(theirs);
        }
    }

    [TestCaseSource(nameof(Layouts))]
    public void AStackPointerIsRejectedAndNeverHandedOut(SlabCacheOptions options)
    {
        using var cache = new SlabCache<Vma192>("stack", options);
        Vma192* obj = cache.Alloc();
        Vma192 local = default;
        local.Key = 7;
        AssertRejected(cache, &local, SlabCorruptionKind.ForeignPointer, "none of the cache's arenas");
        Assert.That(local.Key, Is.EqualTo(7), "nothing was written through the stack pointer");
        Assert.That(local.Start, Is.Zero, "nothing was written through the stack pointer");
        AssertNothingHandedOutTwice(cache, obj, &local);
        cache.Free(obj);
    }

    [TestCaseSource(nameof(Layouts))]
    public void InteriorPointersAreRejected(SlabCacheOptions options)
    {
        using var cache = new SlabCache<Vma192>("interior", options);
        Vma192* obj = cache.Alloc();
        int slot = cache.SlotSize;
        AssertRejected(cache, (Vma192*)((byte*)obj + 8), SlabCorruptionKind.ForeignPointer, "8 bytes into object #");
        AssertRejected(cache, (Vma192*)((byte*)obj + 1), SlabCorruptionKind.ForeignPointer, "1 bytes into object #");
        AssertRejected(cache, (Vma192*)((byte*)obj + slot - 8), SlabCorruptionKind.ForeignPointer, $"{slot - 8} bytes into object #");
        AssertNothingHandedOutTwice(cache, obj, (Vma192*)((byte*)obj + 8), (Vma192*)((byte*)obj + slot - 8));
        cache.Free(obj);
    }

    [Test]
    public void APointerIntoTheSlabsOwnMetadataIsRejected()
    {
        using var cache = new SlabCache<Vma192>("metadata", s_vmaLike);
        Assert.That(cache.OnSlabMetadata, Is.True);
        Vma192* obj = cache.Alloc();
        byte* header = SlabBase(cache, obj) + cache.ObjectsPerSlab * cache.SlotSize;
        AssertRejected(cache, (Vma192*)header, SlabCorruptionKind.ForeignPointer, "outside every object");
        AssertNothingHandedOutTwice(cache, obj, (Vma192*)header);
        cache.Free(obj);
    }

    [Test]
    public void APointerIntoTheArenasHeaderTableIsRejected()
    {
        using var cache = new SlabCache<Vma192>("header_table", s_offSlab);
        Assert.That(cache.OnSlabMetadata, Is.False);
        Vma192* obj = cache.Alloc();
        var table = (Vma192*)((nint)obj & ~((2 << 20) - 1));
        AssertRejected(cache, table, SlabCorruptionKind.ForeignPointer, "header table");
        cache.Free(obj);
    }

    [TestCaseSource(nameof(Layouts))]
    public void APointerIntoASlabNeverCarvedIsRejectedWithoutTouchingIt(SlabCacheOptions options)
    {
        // The slab 16 slabs further on is reserved but inaccessible: a write through the pointer would crash.
        using var cache = new SlabCache<Vma192>("uncarved", options);
        Vma192* obj = cache.Alloc();
        var far = (Vma192*)((byte*)obj + 16 * cache.PagesPerSlab * 4096);
        Assume.That((nint)far & ~((2 << 20) - 1), Is.EqualTo((nint)obj & ~((2 << 20) - 1)), "the slab is in the same arena");
        AssertRejected(cache, far, SlabCorruptionKind.ForeignPointer, "no object in use");
        cache.Free(obj);
    }

    [TestCaseSource(nameof(Layouts))]
    public void AnImmediateDoubleFreeIsRejected(SlabCacheOptions options)
    {
        using var cache = new SlabCache<Vma192>("double", options);
        Vma192* obj = cache.Alloc();
        Vma192* other = cache.Alloc();
        cache.Free(obj);
        AssertRejected(cache, obj, SlabCorruptionKind.DoubleFree, "most recently freed");
        Vma192* a = cache.Alloc();
        Vma192* b = cache.Alloc();
        Assert.That((nint)a, Is.Not.EqualTo((nint)b), "the double free did not put the object on the magazine twice");
        cache.Free(a);
        cache.Free(b);
        cache.Free(other);
    }

    [TestCaseSource(nameof(Layouts))]
    public void EveryImmediateDoubleFreeIsRejectedAcrossMagazineSwapsAndTheDepot(SlabCacheOptions options)
    {
        using var cache = new SlabCache<Vma192>("double_many", options);
        var objects = new nint[4 * cache.MagazineSize + 3];
        cache.AllocBulk(objects);
        foreach (nint obj in objects)
        {
            cache.Free((Vma192*)obj);
            var e = Assert.Throws<ArgumentException>(() => cache.Free((Vma192*)obj));
            Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.DoubleFree));
        }

        Assert.That(cache.Info.ActiveObjects, Is.Zero);
        var again = new nint[objects.Length];
        cache.AllocBulk(again);
        Assert.That(new HashSet<nint>(again), Has.Count.EqualTo(again.Length), "no object was handed out twice");
        cache.FreeBulk(again);
    }

    [Test]
    public void AFreeIntoASlabWhoseObjectsAreAllFreeIsADoubleFree()
    {
        using var cache = new SlabCache<Vma192>("emptied", s_plain);
        var objects = new nint[4 * cache.ObjectsPerSlab];
        cache.AllocBulk(objects);
        Vma192* kept = cache.Alloc();
        cache.FreeBulk(objects);
        cache.Shrink();
        Assert.That(cache.Info.Slabs, Is.EqualTo(1), "only the kept object's slab stays; the others went back to the OS");
        nint keptSlab = (nint)SlabBase(cache, kept);
        nint stale = Array.Find(objects, obj => (nint)SlabBase(cache, (Vma192*)obj) != keptSlab);
        AssertRejected(cache, (Vma192*)stale, SlabCorruptionKind.DoubleFree, "is free");
        cache.Free(kept);
    }

    [Test]
    public void ABatchWithABadPointerIsRejectedWholeBeforeAnythingIsFreed()
    {
        using var cache = new SlabCache<Vma192>("bulk", s_vmaLike);
        var objects = new nint[10];
        cache.AllocBulk(objects);
        Vma192 local = default;
        nint[] withStack = [.. objects[..5], (nint)(&local), .. objects[5..]];
        var e = Assert.Throws<ArgumentException>(() => cache.FreeBulk(withStack));
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.ForeignPointer));
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(10), "nothing was freed");

        nint[] twice = [.. objects[..5], objects[4], .. objects[5..]];
        e = Assert.Throws<ArgumentException>(() => cache.FreeBulk(twice));
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.DoubleFree));
        Assert.That(e.Message, Does.Contain("twice in a row"));
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(10), "nothing was freed");

        cache.FreeBulk(objects);
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    [Test]
    public void FreeRcuChecksThePointerOnTheCallersThread()
    {
        using var cache = new SlabCache<Vma192>("rcu_check", s_vmaLike);
        Vma192* obj = cache.Alloc();
        var e = Assert.Throws<ArgumentException>(() => cache.FreeRcu((Vma192*)((byte*)obj + 64)));
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.ForeignPointer));
        cache.FreeRcu(obj);
        Rcu.Barrier();
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    [Test]
    public void AnotherThreadsFreesAreCheckedToo()
    {
        using var cache = new SlabCache<Vma192>("remote", s_vmaLike);
        Vma192* obj = cache.Alloc();
        Vma192* kept = cache.Alloc();
        Exception? foreign = null, twice = null;
        var remote = new Thread(() =>
        {
            foreign = Caught.From(() => cache.Free((Vma192*)((byte*)obj + 16)));
            cache.Free(obj);
            twice = Caught.From(() => cache.Free(obj));
        });
        remote.Start();
        remote.Join();
        Assert.That(foreign, Is.InstanceOf<ArgumentException>());
        Assert.That(SlabCorruption.KindOf(foreign!), Is.EqualTo(SlabCorruptionKind.ForeignPointer));
        Assert.That(twice, Is.InstanceOf<ArgumentException>());
        Assert.That(SlabCorruption.KindOf(twice!), Is.EqualTo(SlabCorruptionKind.DoubleFree));
        cache.Free(kept);
        cache.Shrink();
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    [Test]
    public void ObjectsOfManyArenasFreedInRandomOrderByAnotherThreadAllGoBack()
    {
        // 40,000 objects span several 2 MiB arenas: the freeing thread's remembered arena keeps changing.
        const int seed = 1311;
        using var cache = new SlabCache<Vma192>("arenas", s_vmaLike);
        var objects = new nint[40_000];
        cache.AllocBulk(objects);
        Assert.That(cache.ArenaCount, Is.GreaterThan(2));
        new Random(seed).Shuffle(objects);
        Exception? failure = null;
        var remote = new Thread(() => failure = Caught.From(() =>
        {
            foreach (nint obj in objects)
            {
                cache.Free((Vma192*)obj);
            }
        }));
        remote.Start();
        remote.Join();
        Assert.That(failure, Is.Null, $"seed {seed}");
        cache.Shrink();
        Assert.That(cache.Info.ActiveObjects, Is.Zero, $"seed {seed}");
    }

    [Test]
    public void FreesAfterDisposeAreCheckedToo()
    {
        var cache = new SlabCache<Vma192>("disposed_check", s_vmaLike);
        Vma192* a = cache.Alloc();
        Vma192* b = cache.Alloc();
        cache.Dispose();
        AssertRejected(cache, (Vma192*)((byte*)a + 8), SlabCorruptionKind.ForeignPointer, "8 bytes into object #");
        cache.Free(a);
        AssertRejected(cache, a, SlabCorruptionKind.DoubleFree, "first object of its slab's free list");
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(1));
        cache.Free(b);
        Rcu.Barrier();
        Assert.That(cache.Info.CommittedBytes, Is.Zero);
        Assert.That(cache.ArenaCount, Is.Zero);
    }

    /// <summary>Checks that Free rejects <paramref name="pointer"/> with an <see cref="ArgumentException"/> of <paramref name="kind"/> and changes nothing.</summary>
    private static void AssertRejected(SlabCache<Vma192> cache, Vma192* pointer, SlabCorruptionKind kind, string why)
    {
        SlabInfo before = cache.Info;
        var e = Assert.Throws<ArgumentException>(() => cache.Free(pointer));
        Assert.Multiple(() =>
        {
            Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(kind));
            Assert.That(e!.Data[SlabCorruption.CacheKey], Is.EqualTo(cache.Name));
            Assert.That(e.Data[SlabCorruption.AddressKey], Is.EqualTo((nint)pointer));
            Assert.That(e.Message, Does.Contain($"'{cache.Name}'").And.Contain($"0x{(nint)pointer:x}").And.Contain(why));
            Assert.That(cache.Info, Is.EqualTo(before), "a rejected free changes nothing");
        });
    }

    /// <summary>Allocates two magazines' worth of objects and checks that none of them is a rejected pointer or <paramref name="live"/>.</summary>
    private static void AssertNothingHandedOutTwice(SlabCache<Vma192> cache, Vma192* live, params Vma192*[] rejected)
    {
        var objects = new nint[2 * cache.MagazineSize + 1];
        cache.AllocBulk(objects);
        var seen = new HashSet<nint>(objects);
        Assert.That(seen, Has.Count.EqualTo(objects.Length), "no object was handed out twice");
        Assert.That(seen, Does.Not.Contain((nint)live), "the live object was not handed out");
        foreach (Vma192* pointer in rejected)
        {
            Assert.That(seen, Does.Not.Contain((nint)pointer), "a rejected pointer was handed out");
        }

        cache.FreeBulk(objects);
    }

    private static byte* SlabBase(SlabCache<Vma192> cache, Vma192* obj) => (byte*)((nint)obj & ~((nint)cache.PagesPerSlab * 4096 - 1));
}
