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
/// <para>
/// Those fixed counts make about a thousand invocations in all, some 10 ms: too few and too short for tiered
/// compilation, whose call counting starts 100 ms after the last new method, so the engine's figure used to be
/// its unoptimised (tier-0) code against the kernel's compiled C. The engine's setup therefore first runs the same
/// calls on throwaway layouts for half a second and waits for the background compiler, so that both sides time
/// steady-state code; the timed work is unchanged (one mseal splitting a fresh VMA in three, per invocation).
/// </para>
/// <para>
/// Slab growth. Each invocation adds two VMAs, and the layout's VMA slabs are full, so the engine's
/// <c>vm_area_struct</c> cache carves a new slab every 21 invocations: a commit (<c>mprotect</c>) and the first
/// touch of its two pages. On the shared VM these benchmarks run on, a first touch costs 12 to 50 µs per page and
/// the <c>mprotect</c> 6 µs and more (a C loop, one call per page), so slab growth made up most of the engine's
/// figure: 0.55 to 0.7 µs per mseal with the slab's room already committed, 3 to 10 µs without (a Stopwatch loop).
/// The kernel's own mseal grows its slab too, but from pages it reaches without a fault. A real caller meets that
/// cost only when its address space reaches a new size (the slab keeps emptied slabs, and returns them only
/// gradually once idle), not on every seal. So <see cref="MsealSplit"/> times the system call with room for the
/// iteration's VMAs in the slab (its iteration setup maps and unmaps that many VMAs in a scratch address space, which
/// leaves them in the thread's magazines), and <see cref="MsealSplitGrowingSlab"/> keeps the old measurement, the
/// slab's growth included.
/// </para>
/// </remarks>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[WarmupCount(4)]
[IterationCount(12)]
[InvocationCount(VmaSealBenchmarks.InvocationsPerIteration, 16)]
public class VmaSealBenchmarks
{
    private const int Vmas = 60_000;

    private SurfaceLayout _layout = null!;
    private int _next;

    /// <summary>Read-write VMAs of each throwaway layout that warms the engine's mseal path up.</summary>
    private const int WarmUpUnits = 2048;

    /// <summary>Invocations per iteration, as <see cref="InvocationCountAttribute"/> sets them.</summary>
    internal const int InvocationsPerIteration = 64;

    [GlobalSetup(Targets = [nameof(MsealSplit), nameof(MsealSplitGrowingSlab)])]
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

    /// <summary>
    /// Leaves room in the VMA slab for the iteration's new VMAs (two per invocation), as a running process usually has:
    /// maps that many VMAs in a scratch address space and disposes it, which puts them in this thread's magazines.
    /// Then waits for the RCU callbacks of that disposal (the scratch mm and tree), so that they do not run on the
    /// other core during the short timed iteration.
    /// </summary>
    [IterationSetup(Target = nameof(MsealSplit))]
    public void MakeSlabRoom()
    {
        SurfaceLayout.Engine(2 * InvocationsPerIteration).Dispose();
        global::VmaEngine.Slab.Rcu.Barrier();
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

    [BenchmarkCategory("MsealSplit"), Benchmark]
    public void MsealSplitGrowingSlab() => MsealSplit();

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
