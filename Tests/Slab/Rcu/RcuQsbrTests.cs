using System;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab;

[TestFixture]
public class RcuQsbrTests
{
    private static readonly TimeSpan s_guard = TimeSpan.FromSeconds(30);

    [Test]
    public void SynchronizeWaitsForAnOnlineThreadUntilItReportsAQuiescentState()
    {
        using var registered = new ManualResetEventSlim();
        using var report = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        var vcpu = new Thread(() =>
        {
            RcuQsbr.Register();
            registered.Set();
            report.Wait();
            RcuQsbr.QuiescentState();
            done.Wait();
            RcuQsbr.Unregister();
        });
        vcpu.Start();
        registered.Wait();

        Task synchronize = GracePeriods.Begin(() => RcuQsbr.GracePeriodWord, RcuQsbr.Synchronize);
        Assert.That(synchronize.Wait(100), Is.False, "an online thread that reported nothing holds the grace period");
        report.Set();
        Assert.That(synchronize.Wait(s_guard), Is.True);
        done.Set();
        vcpu.Join();
    }

    [Test]
    public void OfflineThreadsAreNotWaitedFor()
    {
        using var offline = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        var vcpu = new Thread(() =>
        {
            RcuQsbr.Register();
            RcuQsbr.Offline();
            offline.Set();
            done.Wait();
            RcuQsbr.Online();
            Assert.That(RcuQsbr.IsOnline, Is.True);
            RcuQsbr.Unregister();
        });
        vcpu.Start();
        offline.Wait();
        Assert.That(Task.Run(RcuQsbr.Synchronize).Wait(s_guard), Is.True);
        done.Set();
        vcpu.Join();
    }

    [Test]
    public void AThreadThatExitsWhileRegisteredDoesNotHangSynchronize()
    {
        var vcpu = new Thread(RcuQsbr.Register);
        vcpu.Start();
        vcpu.Join();
        Assert.That(Task.Run(RcuQsbr.Synchronize).Wait(s_guard), Is.True);
    }

    [Test]
    public void ARegisteredCallerGoesOfflineWhileItSynchronizes()
    {
        RcuQsbr.Register();
        try
        {
            RcuQsbr.Synchronize();
            int ran = 0;
            RcuQsbr.Call(() => ran = 1);
            RcuQsbr.Barrier();
            Assert.That(ran, Is.EqualTo(1));
            Assert.That(RcuQsbr.IsOnline, Is.True);
        }
        finally
        {
            RcuQsbr.Unregister();
        }
    }

    [Test]
    public void UnregisteredThreadsCannotReport()
    {
        Assert.That(RcuQsbr.IsRegistered, Is.False);
        Assert.Throws<InvalidOperationException>(RcuQsbr.QuiescentState);
        Assert.Throws<InvalidOperationException>(RcuQsbr.Offline);
        RcuQsbr.Register();
        try
        {
            Assert.Throws<InvalidOperationException>(RcuQsbr.Register);
        }
        finally
        {
            RcuQsbr.Unregister();
        }
    }
}
