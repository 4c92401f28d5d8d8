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
/// <remarks>
/// Those fixed counts make about a thousand invocations in all, some 10 ms: too few and too short for tiered
/// compilation, whose call counting starts 100 ms after the last new method, so the engine's figure used to be
/// its unoptimised (tier-0) code against the kernel's compiled C. The engine's setup therefore first runs the same
/// calls on throwaway layouts for half a second and waits for the background compiler, so that both sides time
/// steady-state code; the timed work is unchanged (one mseal splitting a fresh VMA in three, per invocation).
/// </remarks>
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

    /// <summary>Read-write VMAs of each throwaway layout that warms the engine's mseal path up.</summary>
    private const int WarmUpUnits = 2048;

    [GlobalSetup(Target = nameof(MsealSplit))]
    public void SetUpEngine()
    {
        var warming = System.Diagnostics.Stopwatch.StartNew();
        while (warming.ElapsedMilliseconds < 500)
        {
            using SurfaceLayout scratch = SurfaceLayout.Engine(WarmUpUnits);
            for (int unit = 0; unit < WarmUpUnits; unit += 2)
            {
                SurfaceLayout.Check(scratch.Space.Mseal(scratch.EngineUnit(unit) + SurfaceLayout.Page, SurfaceLayout.Page, 0) == Errno.None, "engine warm-up mseal");
            }
        }

        // Tier-1 code is compiled in the background: give it time to be installed.
        System.Threading.Thread.Sleep(250);
        _layout = SurfaceLayout.Engine(Vmas);
    }

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
