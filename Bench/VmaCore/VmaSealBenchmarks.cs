using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using VmaEngine.Vma;

namespace Bench.VmaCore;

/// <summary>
/// mseal of the middle page of a read-write VMA at 60k VMAs (splitting it in three), against the kernel's mseal.
/// Sealing cannot be undone, so each invocation seals the next fresh VMA; the kernel's layout then grows by two
/// VMAs per invocation, so the iterations and invocations are fixed to stay below its vm.max_map_count of 65530.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[WarmupCount(4)]
[IterationCount(12)]
[InvocationCount(64, 16)]
public class VmaSealBenchmarks
{
    private const int Vmas = 60_000;

    private SurfaceLayout _layout = null!;
    private int _next;

    [GlobalSetup(Target = nameof(MsealSplit))]
    public void SetUpEngine() => _layout = SurfaceLayout.Engine(Vmas);

    [GlobalSetup(Target = nameof(KernelMsealSplit))]
    public void SetUpKernel() => _layout = SurfaceLayout.Kernel(Vmas);

    [GlobalCleanup]
    public void CleanUp() => _layout.Dispose();

    [BenchmarkCategory("MsealSplit"), Benchmark]
    public void MsealSplit()
    {
        ulong target = _layout.EngineUnit(NextReadWriteUnit()) + SurfaceLayout.Page;
        SurfaceLayout.Check(_layout.Space.Mseal(target, SurfaceLayout.Page, 0) == Errno.None, "engine mseal");
    }

    [BenchmarkCategory("MsealSplit"), Benchmark(Baseline = true)]
    public void KernelMsealSplit()
    {
        ulong target = _layout.KernelUnit(NextReadWriteUnit()) + SurfaceLayout.Page;
        SurfaceLayout.Check(KernelMm.Mseal((IntPtr)target, SurfaceLayout.Page) == 0, "kernel mseal");
    }

    /// <summary>The next read-write VMA not sealed yet, from the middle of the layout upwards, wrapping.</summary>
    private int NextReadWriteUnit()
    {
        int unit = ((Vmas / 2) + (2 * _next)) % Vmas;
        _next++;
        return unit;
    }
}
