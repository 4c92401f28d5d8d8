using System;
using System.Collections.Concurrent;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab.FastPath;

[TestFixture]
public unsafe class CrossThreadTests
{
    [TestCase(2)]
    [TestCase(4)]
    public void ThreadsFreeEachOthersObjectsWithExactAccounting(int threads)
    {
        const int seed = 4242;
        const int perThread = 60_000;
        using var cache = new SlabCache<Vma192>($"cross{threads}", new SlabCacheOptions { Alignment = 64, FreePointerOffset = 0, Flags = SlabFlags.TypesafeByRcu });
        var mailboxes = new BlockingCollection<nint>[threads];
        for (int i = 0; i < threads; i++)
        {
            mailboxes[i] = new BlockingCollection<nint>(boundedCapacity: 4096);
        }

        var failures = new ConcurrentQueue<string>();
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int me = t;
            workers[t] = new Thread(() => Work(cache, mailboxes, me, perThread, seed, failures));
        }

        foreach (Thread worker in workers)
        {
            worker.Start();
        }

        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        Assert.That(failures, Is.Empty, $"seed {seed}");
        SlabInfo info = cache.Info;
        Assert.That(info.ActiveObjects, Is.Zero, $"every object was freed (seed {seed})");
        Assert.That(info.TotalObjects, Is.EqualTo(info.Slabs * 42));
        cache.Shrink();
        info = cache.Info;
        Assert.That((info.Slabs, info.ActiveObjects), Is.EqualTo((0L, 0L)), "the exited threads' magazines were adopted");
        Rcu.Barrier();
        Assert.That(cache.Info.CommittedBytes, Is.Zero);
    }

    /// <summary>Allocates, stamps and mails objects to the next thread; checks and frees what it receives.</summary>
    private static void Work(SlabCache<Vma192> cache, BlockingCollection<nint>[] mailboxes, int me, int count, int seed, ConcurrentQueue<string> failures)
    {
        var random = new Random(seed + me);
        BlockingCollection<nint> outbox = mailboxes[(me + 1) % mailboxes.Length];
        BlockingCollection<nint> inbox = mailboxes[me];
        int sent = 0;
        int received = 0;
        while (sent < count || received < count)
        {
            if (sent < count && (received == count || random.Next(2) == 0))
            {
                Vma192* obj = cache.Alloc();
                obj->Key = (me << 24) | sent;
                obj->End = (ulong)(nint)obj;
                outbox.Add((nint)obj);
                sent++;
            }
            else if (inbox.TryTake(out nint item, sent < count ? 0 : Timeout.Infinite))
            {
                var obj = (Vma192*)item;
                int from = (me + mailboxes.Length - 1) % mailboxes.Length;
                if (obj->Key >> 24 != from || obj->End != (ulong)item)
                {
                    failures.Enqueue($"thread {me}: object 0x{item:x} holds key {obj->Key:x} end {obj->End:x}");
                }

                cache.Free(obj);
                received++;
            }
        }
    }

    [Test]
    public void AnExitedThreadsMagazinesAreAdoptedByTheNextNewThread()
    {
        using var cache = new SlabCache<Vma192>("adopt", new SlabCacheOptions { Alignment = 64 });
        var objects = new nint[100];
        var first = new Thread(() =>
        {
            cache.AllocBulk(objects);
            cache.FreeBulk(objects);
        });
        first.Start();
        first.Join();
        Assert.That(cache.Info.ActiveObjects, Is.Zero);

        var second = new Thread(() => cache.Free(cache.Alloc()));
        second.Start();
        second.Join();
        Assert.That(cache.Info.ActiveObjects, Is.Zero);
        cache.Shrink();
        Assert.That(cache.Info.Slabs, Is.Zero);
    }
}
