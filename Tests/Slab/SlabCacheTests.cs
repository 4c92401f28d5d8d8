using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab;

[TestFixture]
public unsafe class SlabCacheTests
{
    private static SlabCacheOptions VmaOptions => new()
    {
        Alignment = 64,
        FreePointerOffset = 0,
        Flags = SlabFlags.TypesafeByRcu,
    };

    [Test]
    public void ThousandLiveVmasTakeAtMost48PagesIncludingMetadata()
    {
        using var cache = new SlabCache<Vma192>("vma_48_pages", VmaOptions);
        var objects = new nint[1000];
        for (int i = 0; i < objects.Length; i++)
        {
            objects[i] = (nint)cache.Alloc();
        }

        SlabInfo info = cache.Info;
        Assert.Multiple(() =>
        {
            Assert.That(info.CommittedBytes, Is.LessThanOrEqualTo(48 * 4096));
            Assert.That(info.Slabs, Is.EqualTo(24));
            Assert.That(info.ActiveObjects, Is.EqualTo(1000));
            Assert.That(info.TotalObjects, Is.EqualTo(24 * 42));
        });

        cache.FreeBulk(objects);
    }

    [Test]
    public void OffSlabMetadataIsCountedInCommittedBytes()
    {
        using var cache = new SlabCache<Vma192>("vma_off_slab", new SlabCacheOptions { Alignment = 64, Flags = SlabFlags.TypesafeByRcu });
        var objects = new nint[1000];
        cache.AllocBulk(objects);
        long table = (256 * sizeof(SlabHeader) + 4095) & ~4095; // a header per 8 KiB slab of the 2 MiB arena, in whole pages
        Assert.That(cache.Info.Slabs, Is.EqualTo(32));
        Assert.That(cache.Info.CommittedBytes, Is.EqualTo(32 * 8192 + table));
        cache.FreeBulk(objects);
    }

    [TestCase(SlabFlags.None, null)]
    [TestCase(SlabFlags.TypesafeByRcu, 0)]
    public void ContentsSurviveAMillionAllocFreeCycles(SlabFlags flags, int? freePointerOffset)
    {
        const int seed = 20250601;
        var random = new Random(seed);
        using var cache = new SlabCache<Vma192>("patterns", new SlabCacheOptions { Alignment = 64, Flags = flags, FreePointerOffset = freePointerOffset });
        var live = new List<(nint Obj, ulong Stamp)>();
        ulong stamp = 0;
        for (int op = 0; op < 1_000_000; op++)
        {
            if (live.Count < 2000 && (live.Count == 0 || random.Next(100) < 52))
            {
                Vma192* obj = cache.Alloc();
                stamp++;
                Fill(obj, stamp);
                live.Add(((nint)obj, stamp));
            }
            else
            {
                int victim = random.Next(live.Count);
                (nint obj, ulong expected) = live[victim];
                live[victim] = live[^1];
                live.RemoveAt(live.Count - 1);
                Assert.That(Check((Vma192*)obj, expected), Is.True, $"object 0x{obj:x} lost its pattern (seed {seed}, op {op})");
                cache.Free((Vma192*)obj);
            }
        }

        foreach ((nint obj, ulong expected) in live)
        {
            Assert.That(Check((Vma192*)obj, expected), Is.True, $"object 0x{obj:x} lost its pattern (seed {seed})");
            cache.Free((Vma192*)obj);
        }

        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    private static void Fill(Vma192* obj, ulong stamp)
    {
        ulong* words = (ulong*)obj;
        for (int i = 0; i < 24; i++)
        {
            words[i] = stamp * 0x9E3779B97F4A7C15UL + (ulong)i;
        }
    }

    private static bool Check(Vma192* obj, ulong stamp)
    {
        ulong* words = (ulong*)obj;
        for (int i = 0; i < 24; i++)
        {
            if (words[i] != stamp * 0x9E3779B97F4A7C15UL + (ulong)i)
            {
                return false;
            }
        }

        return true;
    }

    [Test]
    public void ConstructorRunsOncePerCarvedObjectNotOnEveryAlloc()
    {
        int constructed = 0;
        using var cache = new SlabCache<Vma192>("ctor", new SlabCacheOptions
        {
            Alignment = 64,
            Flags = SlabFlags.TypesafeByRcu,
            Constructor = obj =>
            {
                constructed++;
                ((Vma192*)obj)->Refcount = 0;
                ((Vma192*)obj)->Key = 77;
            },
        });

        Vma192* first = cache.Alloc();
        Assert.That(constructed, Is.EqualTo(cache.ObjectsPerSlab), "a fresh slab constructs each of its objects once");
        Assert.That(first->Key, Is.EqualTo(77));
        for (int i = 0; i < 1000; i++)
        {
            cache.Free(first);
            first = cache.Alloc();
            Assert.That(first->Key, Is.EqualTo(77), "the constructed state survives free and reuse");
        }

        Assert.That(constructed, Is.EqualTo(cache.ObjectsPerSlab));
        cache.Free(first);
    }

    [Test]
    public void AFreedObjectIsReusedAtOnceWithItsRefcountUntouched()
    {
        using var cache = new SlabCache<Vma192>("reuse", VmaOptions);
        Vma192* obj = cache.Alloc();
        obj->Refcount = 0;
        obj->Key = 5;
        cache.Free(obj);
        Vma192* again = cache.Alloc();
        Assert.That((nint)again, Is.EqualTo((nint)obj));
        Assert.That((again->Refcount, again->Key), Is.EqualTo((0, 5L)), "only the free pointer word (vm_start) may change");
        cache.Free(again);
    }

    [Test]
    public void BulkAllocGivesDistinctObjectsAndBulkFreeReturnsThem()
    {
        using var cache = new SlabCache<Vma192>("bulk", VmaOptions);
        var objects = new nint[500];
        Assert.That(cache.TryAllocBulk(objects), Is.True);
        Assert.That(objects.Distinct().Count(), Is.EqualTo(500));
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(500));
        cache.FreeBulk(objects);
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    [Test]
    public void BulkFreeWithANullFreesNothing()
    {
        using var cache = new SlabCache<Vma192>("bulk_null", VmaOptions);
        var objects = new nint[3];
        cache.AllocBulk(objects);
        nint[] withNull = [objects[0], 0, objects[1]];
        Assert.Throws<ArgumentNullException>(() => cache.FreeBulk(withNull));
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(3));
        cache.FreeBulk(objects);
    }

    [Test]
    public void ShrinkReturnsEveryEmptySlab()
    {
        using var cache = new SlabCache<Vma192>("shrink", new SlabCacheOptions { Alignment = 64 });
        var objects = new nint[42 * 30];
        cache.AllocBulk(objects);
        Vma192* kept = cache.Alloc();
        cache.FreeBulk(objects);
        cache.Shrink();
        SlabInfo info = cache.Info;
        Assert.Multiple(() =>
        {
            Assert.That(info.Slabs, Is.EqualTo(1), "only the slab of the live object stays");
            Assert.That(info.CommittedBytes, Is.EqualTo(8192));
            Assert.That(info.ActiveObjects, Is.EqualTo(1));
        });

        cache.Free(kept);
        cache.Shrink();
        Assert.That(cache.Info.CommittedBytes, Is.Zero);
        Assert.That(cache.ArenaCount, Is.Zero);
    }

    [Test]
    public void ShrinkReturnsTheObjectsTheRcuCallbackThreadFreedToItsMagazines()
    {
        using var cache = new SlabCache<Vma192>("shrink_rcu", new SlabCacheOptions { Alignment = 64 });
        var objects = new nint[42 * 30];
        cache.AllocBulk(objects);

        // Every other object, so the callback thread's two magazines hold objects of many slabs.
        for (int i = 0; i < objects.Length; i += 2)
        {
            cache.FreeRcu((Vma192*)objects[i]);
        }

        Rcu.Barrier();
        for (int i = 1; i < objects.Length; i += 2)
        {
            cache.Free((Vma192*)objects[i]);
        }

        cache.Shrink();
        SlabInfo info = cache.Info;
        Assert.Multiple(() =>
        {
            Assert.That(info.ActiveObjects, Is.Zero);
            Assert.That(info.Slabs, Is.Zero, "no slab stays behind objects in the callback thread's magazines");
            Assert.That(info.CommittedBytes, Is.Zero);
        });
    }

    [Test]
    public void EmptySlabsBeyondTheReserveGoBackToTheOsWithoutShrink()
    {
        // A debug cache has no magazines, so every free reaches its slab at once.
        using var cache = new SlabCache<Vma192>("reserve", new SlabCacheOptions { Alignment = 64, Flags = SlabFlags.Debug });
        long slabBytes = cache.PagesPerSlab * 4096L;
        int maxEmpty = cache.MaxEmptySlabs;
        var objects = new nint[cache.ObjectsPerSlab * (maxEmpty + 40)];
        cache.AllocBulk(objects);
        Assert.That(cache.Info.Slabs, Is.EqualTo(maxEmpty + 40));
        cache.FreeBulk(objects);
        Assert.That(cache.Info.Slabs, Is.EqualTo(maxEmpty), "beyond the surplus band, emptied slabs go back at once");
        Assert.That(cache.Info.CommittedBytes, Is.EqualTo(maxEmpty * slabBytes));

        // The surplus over the reserve decays without any further call into the cache.
        Assert.That(SpinWait.SpinUntil(() => cache.Info.Slabs == cache.MinEmptySlabs, TimeSpan.FromSeconds(30)), Is.True);
        Assert.That(cache.Info.CommittedBytes, Is.EqualTo(cache.MinEmptySlabs * slabBytes));
    }

    [Test]
    public void EmptySlabsUpToTwiceTheLiveOnesWaitForTheDecayThenGoBack()
    {
        // A debug cache has no magazines, so every free reaches its slab at once.
        using var cache = new SlabCache<Vma192>("fork_exit", new SlabCacheOptions { Alignment = 64, Flags = SlabFlags.Debug });
        int perSlab = cache.ObjectsPerSlab;
        int live = cache.MaxEmptySlabs;
        var parent = new nint[perSlab * live];
        var child = new nint[perSlab * ((2 * live) + 5)];
        cache.AllocBulk(parent);
        cache.AllocBulk(child);
        cache.FreeBulk(child);
        Assert.That(cache.Info.Slabs, Is.EqualTo(3 * live), "twice the live slabs stay committed; the 5 beyond go back at once");

        // Reused as they are: a second child of the same size needs no new slab and returns none.
        cache.AllocBulk(child.AsSpan(0, perSlab * 2 * live));
        Assert.That(cache.Info.Slabs, Is.EqualTo(3 * live));
        cache.FreeBulk(child.AsSpan(0, perSlab * 2 * live));

        // Idle, the surplus over the reserve decays; the live slabs stay.
        Assert.That(SpinWait.SpinUntil(() => cache.Info.Slabs == live + cache.MinEmptySlabs, TimeSpan.FromSeconds(30)), Is.True);
        cache.FreeBulk(parent);
    }

    [Test]
    public void DisposeWithLiveObjectsReportsThemWithoutThrowingAndKeepsThemUsable()
    {
        var cache = new SlabCache<Vma192>("leaky", VmaOptions);
        Vma192* a = cache.Alloc();
        Vma192* b = cache.Alloc();
        Vma192* c = cache.Alloc();
        Vma192* freed = cache.Alloc();
        cache.Free(freed);
        a->Key = 1;
        var trace = new RecordingTraceListener();
        Trace.Listeners.Add(trace);
        try
        {
            Assert.DoesNotThrow(cache.Dispose);
        }
        finally
        {
            Trace.Listeners.Remove(trace);
        }

        Assert.That(trace.Messages, Has.Some.Contains("leaky").And.Some.Contains("3 objects remaining"));
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(3));
        a->Key++;
        Assert.That(a->Key, Is.EqualTo(2), "a live object stays mapped after Dispose");
        Assert.Throws<ObjectDisposedException>(() => cache.Alloc());
        cache.Dispose();
        cache.Free(a);
        cache.Free(b);
        cache.Free(c);
        Rcu.Barrier();
        Assert.That(cache.Info.CommittedBytes, Is.Zero);
        Assert.That(cache.ArenaCount, Is.Zero);
    }

    [Test]
    public void DisposeReleasesTheSlabsOfFreedObjectsAndKeepsThoseOfLiveOnes()
    {
        var cache = new SlabCache<Vma192>("leaky_slabs", new SlabCacheOptions { Alignment = 64 });
        var objects = new nint[10 * cache.ObjectsPerSlab];
        cache.AllocBulk(objects);
        Vma192* live = (Vma192*)objects[^1];
        cache.FreeBulk(objects[..^1]);
        Assert.DoesNotThrow(cache.Dispose);
        SlabInfo info = cache.Info;
        Assert.Multiple(() =>
        {
            Assert.That(info.ActiveObjects, Is.EqualTo(1));
            Assert.That(info.Slabs, Is.EqualTo(1), "only the live object's slab stays");
            Assert.That(info.CommittedBytes, Is.EqualTo(cache.PagesPerSlab * 4096L));
        });

        live->Key = 5;
        cache.Free(live);
        Assert.That(cache.Info.CommittedBytes, Is.Zero);
        Assert.That(cache.ArenaCount, Is.Zero);
    }

    [Test]
    public void FreeOfNullIsRejected()
    {
        using var cache = new SlabCache<Vma192>("null", VmaOptions);
        Assert.Throws<ArgumentNullException>(() => cache.Free(null));
        Assert.Throws<ArgumentNullException>(() => cache.FreeRcu(null));
    }

    [Test]
    public void AQuarterMillionObjectsCostAHandfulOfHostMappings()
    {
        Assume.That(File.Exists("/proc/self/maps"), "needs Linux /proc/self/maps");
        using var cache = new SlabCache<Vma192>("mappings", VmaOptions);
        var objects = new nint[250_000];
        int before = File.ReadAllLines("/proc/self/maps").Length;
        cache.AllocBulk(objects);
        int after = File.ReadAllLines("/proc/self/maps").Length;
        int slabs = (int)cache.Info.Slabs;
        TestContext.Out.WriteLine($"{slabs} slabs in {cache.ArenaCount} arenas: {after - before} new mappings");
        Assert.That(cache.ArenaCount, Is.LessThanOrEqualTo(slabs * 8192 / (2 << 20) + 1));
        Assert.That(after - before, Is.LessThan(3 * cache.ArenaCount + 16), "one or two host mappings per 2 MiB arena, not one per slab");
        cache.FreeBulk(objects);
    }

    [Test]
    public void SlabInfoLineHasTheKernelsColumns()
    {
        using var cache = new SlabCache<Vma192>("vm_area_struct", VmaOptions);
        var objects = new nint[1000];
        cache.AllocBulk(objects);
        Assert.That(cache.ToString(), Is.EqualTo("vm_area_struct      1000   1008    192   42    2 : tunables    0    0    0 : slabdata     24     24      0"));
        cache.FreeBulk(objects);
    }
}
