using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab;

[TestFixture]
public class RcuTests
{
    /// <summary>A generous guard so that a broken implementation fails instead of hanging; not a timing assertion.</summary>
    private static readonly TimeSpan s_guard = TimeSpan.FromSeconds(30);

    [Test]
    public void SynchronizeWaitsForAReaderThatStartedBeforeIt()
    {
        using HeldReader reader = HeldReader.InRcuSection();
        Task synchronize = GracePeriods.BeginRcuSynchronize();
        Assert.That(synchronize.Wait(100), Is.False, "the grace period began and must wait for the reader");
        reader.Release();
        Assert.That(synchronize.Wait(s_guard), Is.True);
    }

    [Test]
    public void SynchronizeDoesNotWaitForAReaderThatStartedAfterIt()
    {
        using HeldReader early = HeldReader.InRcuSection();
        Task synchronize = GracePeriods.BeginRcuSynchronize();
        using HeldReader late = HeldReader.InRcuSection();
        early.Release();
        Assert.That(synchronize.Wait(s_guard), Is.True, "a reader that began after the grace period must not hold it up");
    }

    [Test]
    public void AThreadThatExitsInsideASectionDoesNotHangSynchronize()
    {
        var reader = new Thread(() => Rcu.ReadLock());
        reader.Start();
        reader.Join();
        Assert.That(Task.Run(Rcu.Synchronize).Wait(s_guard), Is.True);
    }

    [Test]
    public void SectionsNestAndTheUsingScopeEndsThem()
    {
        Rcu.ReadLock();
        using (Rcu.Read())
        {
            Assert.That(Rcu.IsInReadSection, Is.True);
        }

        Assert.That(Rcu.IsInReadSection, Is.True, "the outer section is still open");
        Rcu.ReadUnlock();
        Assert.That(Rcu.IsInReadSection, Is.False);
    }

    [Test]
    public void UnbalancedUnlockIsRejected()
    {
        var e = Assert.Throws<InvalidOperationException>(Rcu.ReadUnlock);
        Assert.That(e!.Message, Does.Contain("without a matching"));
    }

    [Test]
    public void UnlockOnAThreadThatNeverReadIsRejectedAndLeavesItUsable()
    {
        Exception? neverRead = null;
        Exception? afterASection = null;
        bool inSectionAfterwards = true;
        var thread = new Thread(() =>
        {
            neverRead = Caught.From(Rcu.ReadUnlock);
            Rcu.ReadLock();
            Rcu.ReadUnlock();
            afterASection = Caught.From(Rcu.ReadUnlock);
            inSectionAfterwards = Rcu.IsInReadSection;
        });
        thread.Start();
        thread.Join();
        Assert.That(neverRead, Is.TypeOf<InvalidOperationException>().With.Message.Contains("without a matching"));
        Assert.That(afterASection, Is.TypeOf<InvalidOperationException>().With.Message.Contains("without a matching"));
        Assert.That(inSectionAfterwards, Is.False);
    }

    [Test]
    public void AScopeNotMadeByReadIsRejected()
    {
        var e = Assert.Throws<InvalidOperationException>(() => default(RcuReadScope).Dispose());
        Assert.That(e!.Message, Does.Contain("not created by Rcu.Read()"));
    }

    [Test]
    public void ThreadsComingAndGoingNeverHoldUpGracePeriods()
    {
        // Each round's threads register, some die inside a section; their records are dropped by a later grace
        // period and their counters freed by the finalizer, while new threads keep registering.
        for (int round = 0; round < 8; round++)
        {
            var threads = new List<Thread>();
            for (int i = 0; i < 16; i++)
            {
                bool dieInside = i % 4 == 0;
                threads.Add(new Thread(() =>
                {
                    Rcu.ReadLock();
                    if (!dieInside)
                    {
                        Rcu.ReadUnlock();
                    }
                }));
            }

            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.That(Task.Run(Rcu.Synchronize).Wait(s_guard), Is.True, $"round {round}");
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        using (Rcu.Read())
        {
            Assert.That(Rcu.IsInReadSection, Is.True);
        }

        Assert.That(Task.Run(Rcu.Synchronize).Wait(s_guard), Is.True);
    }

    [Test]
    public void SynchronizeAndBarrierInsideASectionAreRejected()
    {
        Rcu.ReadLock();
        try
        {
            Assert.That(Assert.Throws<InvalidOperationException>(Rcu.Synchronize)!.Message, Does.Contain("read-side section"));
            Assert.That(Assert.Throws<InvalidOperationException>(Rcu.Barrier)!.Message, Does.Contain("read-side section"));
        }
        finally
        {
            Rcu.ReadUnlock();
        }
    }

    [Test]
    public void CallbacksRunAfterTheGracePeriodInQueueOrder()
    {
        var order = new List<int>();
        bool ranWhileReaderInside = false;
        using var reader = new HeldReader(Rcu.ReadLock, () =>
        {
            lock (order)
            {
                ranWhileReaderInside = order.Count != 0;
            }

            Rcu.ReadUnlock();
        });

        long before = Rcu.GracePeriodWord;
        for (int i = 0; i < 1000; i++)
        {
            int n = i;
            Rcu.Call(() =>
            {
                lock (order)
                {
                    order.Add(n);
                }
            });
        }

        Task barrier = Task.Run(Rcu.Barrier);
        SpinWait.SpinUntil(() => Rcu.GracePeriodWord != before);
        Assert.That(barrier.Wait(100), Is.False, "the callbacks wait for the reader");
        reader.Release();
        Assert.That(barrier.Wait(s_guard), Is.True);
        Assert.That(ranWhileReaderInside, Is.False);
        Assert.That(order, Is.EqualTo(Enumerate(1000)));
    }

    [Test]
    public void CallIsAllowedInsideASectionAndFromCallbacks()
    {
        int ran = 0;
        Rcu.ReadLock();
        Rcu.Call(() =>
        {
            Interlocked.Increment(ref ran);
            Rcu.Call(() => Interlocked.Increment(ref ran));
        });
        Rcu.ReadUnlock();
        Rcu.Barrier();
        Rcu.Barrier();
        Assert.That(ran, Is.EqualTo(2));
    }

    [Test]
    public void ACallbackThatThrowsIsReportedByTheNextBarrier()
    {
        int after = 0;
        Rcu.Call(() => throw new InvalidTimeZoneException("boom"));
        Rcu.Call(() => after = 1);
        var e = Assert.Throws<AggregateException>(Rcu.Barrier);
        Assert.That(e!.InnerExceptions, Has.Count.EqualTo(1));
        Assert.That(e.InnerException, Is.TypeOf<InvalidTimeZoneException>());
        Assert.That(after, Is.EqualTo(1), "the other callbacks still ran");
        Assert.DoesNotThrow(Rcu.Barrier);
    }

    [Test]
    public void BarrierInsideACallbackIsRejected()
    {
        Exception? seen = null;
        Rcu.Call(() =>
        {
            try
            {
                Rcu.Barrier();
            }
            catch (InvalidOperationException e)
            {
                seen = e;
            }
        });
        Rcu.Barrier();
        Assert.That(seen, Is.Not.Null);
    }

    private static List<int> Enumerate(int count)
    {
        var list = new List<int>(count);
        for (int i = 0; i < count; i++)
        {
            list.Add(i);
        }

        return list;
    }
}
