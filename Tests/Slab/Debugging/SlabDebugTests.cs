using System;
using System.Runtime.InteropServices;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab.Debugging;

[TestFixture]
public unsafe class SlabDebugTests
{
    private static SlabCache<Vma192> NewCache(string name, SlabFlags extra = SlabFlags.None) =>
        new(name, new SlabCacheOptions { Alignment = 64, Flags = SlabFlags.Debug | extra });

    [Test]
    public void DebugIsOffByDefault()
    {
        using var cache = new SlabCache<Vma192>("plain", new SlabCacheOptions { Alignment = 64 });
        Assert.That(cache.SlotSize, Is.EqualTo(192));
        Assert.That(cache.Flags & SlabFlags.Debug, Is.EqualTo(SlabFlags.None));
    }

    [Test]
    public void AWriteAfterFreeIsCaughtOnTheNextAllocAndThePoisonIsRestored()
    {
        using SlabCache<Vma192> cache = NewCache("uaf");
        Vma192* obj = cache.Alloc();
        cache.Free(obj);
        ((byte*)obj)[10] = 0x42;
        var e = Assert.Throws<InvalidOperationException>(() => cache.Alloc());
        Assert.Multiple(() =>
        {
            Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.UseAfterFreeWrite));
            Assert.That(e.Data[SlabCorruption.AddressKey], Is.EqualTo((nint)obj));
            Assert.That(e.Message, Does.Contain("uaf").And.Contain($"0x{(nint)obj:x}").And.Contain("byte 10 is 0x42"));
            Assert.That(cache.Info.ActiveObjects, Is.Zero, "the failed alloc handed nothing out");
        });

        Vma192* again = cache.Alloc();
        Assert.That((nint)again, Is.EqualTo((nint)obj), "the object stays free and usable once repaired");
        cache.Free(again);
    }

    [Test]
    public void AnOverflowIntoTheRightRedZoneIsCaughtOnFree()
    {
        using SlabCache<Vma192> cache = NewCache("overflow");
        Vma192* obj = cache.Alloc();
        ((byte*)obj)[192] = 0;
        var e = Assert.Throws<InvalidOperationException>(() => cache.Free(obj));
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.RedZoneOverwritten));
        Assert.That(e.Message, Does.Contain("right red zone").And.Contain("offset 192").And.Contain("overflow"));
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(1), "the object stays allocated");
        ((byte*)obj)[192] = 0xcc;
        cache.Free(obj);
    }

    [Test]
    public void AnUnderflowIntoTheLeftRedZoneIsCaughtOnFree()
    {
        using SlabCache<Vma192> cache = NewCache("underflow");
        Vma192* obj = cache.Alloc();
        ((byte*)obj)[-1] = 0;
        var e = Assert.Throws<InvalidOperationException>(() => cache.Free(obj));
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.RedZoneOverwritten));
        Assert.That(e.Message, Does.Contain("left red zone").And.Contain("offset -1"));
        ((byte*)obj)[-1] = 0xcc;
        cache.Free(obj);
    }

    [TestCase(SlabFlags.None)]
    [TestCase(SlabFlags.TypesafeByRcu)]
    public void ADoubleFreeIsCaughtAndChangesNothing(SlabFlags extra)
    {
        using SlabCache<Vma192> cache = NewCache("double", extra);
        Vma192* obj = cache.Alloc();
        Vma192* other = cache.Alloc();
        cache.Free(obj);
        SlabInfo before = cache.Info;
        var e = Assert.Throws<InvalidOperationException>(() => cache.Free(obj));
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.DoubleFree));
        Assert.That(e.Message, Does.Contain("double free").And.Contain($"0x{(nint)obj:x}").And.Contain("double"));
        Assert.That(cache.Info, Is.EqualTo(before));
        Vma192* a = cache.Alloc();
        Vma192* b = cache.Alloc();
        Assert.That((nint)a, Is.Not.EqualTo((nint)b), "the free list was not corrupted into a cycle");
        cache.Free(a);
        cache.Free(b);
        cache.Free(other);
    }

    [TestCase(SlabFlags.None)]
    [TestCase(SlabFlags.TypesafeByRcu)]
    public void ADoubleFreeOfTheOnlyObjectInUseInItsSlabIsADoubleFree(SlabFlags extra)
    {
        using SlabCache<Vma192> cache = NewCache("only", extra);
        Vma192* obj = cache.Alloc();
        cache.Free(obj);
        SlabInfo before = cache.Info;
        AssertDoubleFree(cache, obj);
        Assert.That(cache.Info, Is.EqualTo(before));
    }

    [Test]
    public void ADoubleFreeIntoASlabReturnedToTheOsIsADoubleFree()
    {
        // After Dispose, an emptied slab goes back to the OS at once; the other slab keeps the arena.
        SlabCache<Vma192> cache = NewCache("returned");
        var objects = new nint[cache.ObjectsPerSlab + 1];
        cache.AllocBulk(objects);
        cache.Dispose();
        cache.FreeBulk(objects[..cache.ObjectsPerSlab]);
        Assert.That(cache.Info.Slabs, Is.EqualTo(1));
        AssertDoubleFree(cache, (Vma192*)objects[0]);
        cache.Free((Vma192*)objects[^1]);
    }

    [Test]
    public void ADoubleFreeAfterTheArenaWasReleasedIsADoubleFree()
    {
        SlabCache<Vma192> cache = NewCache("released");
        Vma192* obj = cache.Alloc();
        cache.Dispose();
        cache.Free(obj);
        Assert.That(cache.ArenaCount, Is.Zero, "the last free released the arena");
        AssertDoubleFree(cache, obj);
    }

    private static void AssertDoubleFree(SlabCache<Vma192> cache, Vma192* obj)
    {
        var e = Assert.Throws<InvalidOperationException>(() => cache.Free(obj));
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.DoubleFree), e.Message);
        Assert.That(e.Message, Does.Contain("double free").And.Contain($"0x{(nint)obj:x}").And.Contain(cache.Name));
    }

    [Test]
    public void PointersNotFromThisCacheAreRejected()
    {
        using SlabCache<Vma192> cache = NewCache("owner");
        using SlabCache<Vma192> otherCache = NewCache("stranger");
        Vma192* obj = cache.Alloc();
        Vma192* stranger = otherCache.Alloc();
        void* heap = NativeMemory.AlignedAlloc(192, 64);
        try
        {
            AssertForeign(cache, (Vma192*)heap, "none of the cache's arenas");
            AssertForeign(cache, stranger, "none of the cache's arenas");
            AssertForeign(cache, (Vma192*)((byte*)obj + 8), "8 bytes into object #0");
            AssertForeign(cache, (Vma192*)((byte*)obj + (4 << 20)), "none of the cache's arenas");
            AssertForeign(cache, (Vma192*)((byte*)obj + 16 * 8192), "no object in use");
            AssertForeign(cache, (Vma192*)((byte*)obj - 8), "outside every object");
            Assert.That(cache.Info.ActiveObjects, Is.EqualTo(1));
        }
        finally
        {
            NativeMemory.AlignedFree(heap);
            cache.Free(obj);
            otherCache.Free(stranger);
        }
    }

    private static void AssertForeign(SlabCache<Vma192> cache, Vma192* pointer, string why)
    {
        var e = Assert.Throws<InvalidOperationException>(() => cache.Free(pointer));
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.ForeignPointer));
        Assert.That(e.Message, Does.Contain("owner").And.Contain($"0x{(nint)pointer:x}").And.Contain(why));
    }

    [Test]
    public void ACorruptedFreePointerIsCaughtAndTheRestOfTheListWithheld()
    {
        SlabCache<Vma192> cache = NewCache("freelist");
        Vma192* a = cache.Alloc();
        Vma192* b = cache.Alloc();
        cache.Free(b);
        cache.Free(a);
        *(nint*)((byte*)a + cache.FreePointerOffset) = 0x1234;
        var e = Assert.Throws<InvalidOperationException>(() => cache.Alloc());
        Assert.That(SlabCorruption.KindOf(e!), Is.EqualTo(SlabCorruptionKind.FreelistCorrupted));
        Assert.That(e.Message, Does.Contain("0x1234"));
        Vma192* again = cache.Alloc();
        Assert.That((nint)again, Is.EqualTo((nint)a), "the first object is still good");
        Vma192* next = cache.Alloc();
        Assert.That((nint)next, Is.Not.EqualTo((nint)b), "nothing follows the bad link");
        cache.Free(again);
        cache.Free(next);
        int withheld = cache.ObjectsPerSlab - 1;
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(withheld), "the withheld objects count as in use");
        Assert.DoesNotThrow(cache.Dispose);
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(withheld), "Dispose keeps counting what remains");
    }

    [Test]
    public void TypesafeByRcuDebugCachesDoNotPoisonWhatReadersRead()
    {
        using SlabCache<Vma192> cache = NewCache("rcu_debug", SlabFlags.TypesafeByRcu);
        Vma192* obj = cache.Alloc();
        obj->Key = 99;
        cache.Free(obj);
        Assert.That(obj->Key, Is.EqualTo(99));
    }
}
