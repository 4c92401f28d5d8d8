using System;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab;

[TestFixture]
public unsafe class TypesafeByRcuTests
{
    private static readonly TimeSpan s_guard = TimeSpan.FromSeconds(30);

    private static SlabCache<Vma192> NewCache(string name) => new(name, new SlabCacheOptions
    {
        Alignment = 64,
        FreePointerOffset = 0,
        Flags = SlabFlags.TypesafeByRcu,
    });

    [Test]
    public void AReaderKeepsReadingAFreedObjectWhileItsSlabIsEmptiedAndTheMemoryIsReturnedOnlyAfterItLeaves()
    {
        using SlabCache<Vma192> cache = NewCache("typesafe");
        var objects = new nint[cache.ObjectsPerSlab];
        cache.AllocBulk(objects);
        for (int i = 0; i < objects.Length; i++)
        {
            ((Vma192*)objects[i])->Key = 1000 + i;
        }

        long slabBytes = cache.PagesPerSlab * 4096L;
        var held = (Vma192*)objects[5];
        using var inside = new ManualResetEventSlim();
        using var emptied = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        long seenWhileEmptied = 0;
        long seenAfterBarrierStarted = 0;
        var reader = new Thread(() =>
        {
            Rcu.ReadLock();
            inside.Set();
            emptied.Wait();
            seenWhileEmptied = held->Key;
            leave.Wait();
            seenAfterBarrierStarted = held->Key;
            Rcu.ReadUnlock();
        });
        reader.Start();
        inside.Wait();

        long before = Rcu.GracePeriodWord;
        cache.FreeBulk(objects);
        cache.Shrink();
        Assert.That(cache.Info.Slabs, Is.Zero, "the slab is empty and discarded");
        Assert.That(cache.Info.CommittedBytes, Is.EqualTo(slabBytes), "its memory waits for the grace period");
        emptied.Set();

        Task barrier = Task.Run(Rcu.Barrier);
        SpinWait.SpinUntil(() => Rcu.GracePeriodWord != before);
        Assert.That(barrier.Wait(100), Is.False);
        Assert.That(cache.Info.CommittedBytes, Is.EqualTo(slabBytes), "not returned while the reader is inside");
        leave.Set();
        Assert.That(barrier.Wait(s_guard), Is.True);
        reader.Join();

        Assert.That(seenWhileEmptied, Is.EqualTo(1005));
        Assert.That(seenAfterBarrierStarted, Is.EqualTo(1005), "the memory was still there and of the same type");
        Assert.That(cache.Info.CommittedBytes, Is.Zero, "returned after the grace period");
    }

    [Test]
    public void FreeRcuFreesAfterTheGracePeriod()
    {
        using SlabCache<Vma192> cache = NewCache("kfree_rcu");
        Vma192* obj = cache.Alloc();
        obj->Key = 7;
        using HeldReader reader = HeldReader.InRcuSection();
        cache.FreeRcu(obj);
        Assert.That(cache.Info.ActiveObjects, Is.EqualTo(1), "not freed while a reader may hold it");
        reader.Release();
        Rcu.Barrier();
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    [Test]
    public void ManyDeferredFreesFromInsideReadSectionsAllLand()
    {
        using SlabCache<Vma192> cache = NewCache("kfree_rcu_many");
        var objects = new nint[20_000];
        cache.AllocBulk(objects);
        foreach (nint obj in objects)
        {
            using (Rcu.Read())
            {
                cache.FreeRcu((Vma192*)obj);
            }
        }

        Rcu.Barrier();
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
    }

    [Test]
    public void DisposeWaitsForPendingDeferredFrees()
    {
        SlabCache<Vma192> cache = NewCache("kfree_rcu_dispose");
        cache.FreeRcu(cache.Alloc());
        Assert.DoesNotThrow(cache.Dispose);
        Rcu.Barrier();
        Assert.That(cache.Info.CommittedBytes, Is.Zero);
    }
}
