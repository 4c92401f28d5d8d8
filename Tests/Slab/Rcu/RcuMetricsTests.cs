using System.Collections.Generic;
using System.Threading;
using NUnit.Framework;
using VmaEngine.Slab;

namespace Tests.Slab;

/// <summary>The VmaEngine.Rcu meter, read through a <see cref="System.Diagnostics.Metrics.MeterListener"/>.</summary>
[TestFixture]
[NonParallelizable]
public class RcuMetricsTests
{
    private const int HangGuardMilliseconds = 10_000;
    private const string GracePeriods = "rcu.grace_periods{flavour=memb}";
    private const string Queued = "rcu.callbacks.queued{flavour=memb}";
    private const string Backlog = "rcu.callbacks.backlog{flavour=memb}";

    [Test]
    public void EachSynchronizeIsAGracePeriod()
    {
        using var readings = new MeterReadings(RcuMetrics.MeterName);
        long before = readings.Observe()[GracePeriods];

        Rcu.Synchronize();
        Rcu.Synchronize();
        Rcu.Synchronize();

        Assert.That(readings.Observe()[GracePeriods] - before, Is.EqualTo(3));
    }

    [Test]
    public void CallbacksAreCountedWhenQueuedAndInTheBacklogUntilTheyRun()
    {
        Rcu.Barrier();
        using var readings = new MeterReadings(RcuMetrics.MeterName);
        Dictionary<string, long> before = readings.Observe();
        Assert.That(before[Backlog], Is.Zero, "callbacks left over after a barrier");

        using var running = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Rcu.Call(() =>
        {
            running.Set();
            release.Wait(HangGuardMilliseconds);
        });
        Rcu.Call(() => { });
        Assert.That(running.Wait(HangGuardMilliseconds), Is.True, "the first callback never ran");

        Dictionary<string, long> blocked = readings.Observe();
        release.Set();
        Rcu.Barrier();
        Dictionary<string, long> after = readings.Observe();

        Assert.That(blocked[Queued] - before[Queued], Is.EqualTo(2));
        Assert.That(blocked[Backlog], Is.EqualTo(2), "the running callback and the one behind it");
        Assert.That(after[Queued] - before[Queued], Is.EqualTo(2));
        Assert.That(after[Backlog], Is.Zero);
    }
}
