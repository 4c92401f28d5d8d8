using System.Threading;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using VmaEngine.Slab;

namespace Bench.Slab;

/// <summary>
/// The RCU read side against locks (an uncontended <c>ReaderWriterLockSlim</c> read is the baseline), and the
/// latency of a grace period when no reader is inside a section (a registered idle reader thread exists, so the
/// process-wide barrier is paid; the barrier alone is the category's baseline).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PatientBuildConfig))]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class RcuBenchmarks
{
    private const string ReadSide = "Read side";
    private const string GracePeriod = "Grace period, no reader inside";

    private readonly object _monitor = new();
    private readonly ReaderWriterLockSlim _rwLock = new();
    private readonly ManualResetEventSlim _stop = new();
    private Thread? _idleReader;

    [GlobalSetup]
    public void Setup()
    {
        // A reader thread that registered (one section) and now sleeps outside any section.
        using var registered = new ManualResetEventSlim();
        _idleReader = new Thread(() =>
        {
            Rcu.ReadLock();
            Rcu.ReadUnlock();
            RcuQsbr.Register();
            RcuQsbr.Offline();
            registered.Set();
            _stop.Wait();
        })
        { IsBackground = true };
        _idleReader.Start();
        registered.Wait();
        Rcu.ReadLock();
        Rcu.ReadUnlock();
        RcuQsbr.Register();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Set();
        _idleReader?.Join();
        RcuQsbr.Unregister();
    }

    [Benchmark(Baseline = true, Description = "ReaderWriterLockSlim EnterReadLock+ExitReadLock")]
    [BenchmarkCategory(ReadSide)]
    public void ReaderWriterLockSlimRead()
    {
        _rwLock.EnterReadLock();
        _rwLock.ExitReadLock();
    }

    [Benchmark(Description = "lock (Monitor) enter+exit")]
    [BenchmarkCategory(ReadSide)]
    public void MonitorEnterExit()
    {
        lock (_monitor)
        {
        }
    }

    [Benchmark(Description = "Rcu.ReadLock+ReadUnlock")]
    [BenchmarkCategory(ReadSide)]
    public void RcuReadLockUnlock()
    {
        Rcu.ReadLock();
        Rcu.ReadUnlock();
    }

    [Benchmark(Description = "using (Rcu.Read())")]
    [BenchmarkCategory(ReadSide)]
    public void RcuReadScope()
    {
        using (Rcu.Read())
        {
        }
    }

    [Benchmark(Description = "RcuQsbr.QuiescentState")]
    [BenchmarkCategory(ReadSide)]
    public void QsbrQuiescentState() => RcuQsbr.QuiescentState();

    [Benchmark(Baseline = true, Description = "Interlocked.MemoryBarrierProcessWide")]
    [BenchmarkCategory(GracePeriod)]
    public void ProcessWideBarrier() => Interlocked.MemoryBarrierProcessWide();

    [Benchmark(Description = "Rcu.Synchronize")]
    [BenchmarkCategory(GracePeriod)]
    public void RcuSynchronize() => Rcu.Synchronize();

    [Benchmark(Description = "RcuQsbr.Synchronize")]
    [BenchmarkCategory(GracePeriod)]
    public void QsbrSynchronize() => RcuQsbr.Synchronize();
}
