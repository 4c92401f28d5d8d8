using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using VmaEngine.Vma;

namespace Bench.VmaCore;

/// <summary>
/// The syscalls of issue 12's surface on a split-causing range, at 60k VMAs, against the same system calls of this
/// machine's kernel on a real layout of 60k mappings in this process. Both sides hold 3-page private anonymous VMAs
/// separated by 1-page holes, protections alternating read-write / read-only; each operation works on the middle
/// page of a read-write VMA, so it splits the VMA in three:
/// <list type="bullet">
/// <item><c>Mlock2SplitAndMerge</c>: mlock2(MLOCK_ONFAULT) of the page (split; on fault, so neither side faults a
/// page in), then munlock (merge back).</item>
/// <item><c>MadviseSplitAndMerge</c>: MADV_DONTFORK on the page (split), then MADV_DOFORK (merge back).</item>
/// </list>
/// mseal cannot be undone, so it has its own class, <see cref="VmaSealBenchmarks"/>. The kernel needs no
/// RLIMIT_MEMLOCK headroom for an on-fault lock of one page (and root has CAP_IPC_LOCK anyway).
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class VmaSurfaceBenchmarks
{
    private const int Vmas = 60_000;
    private const int MadvDontFork = 10;
    private const int MadvDoFork = 11;
    private const uint MlockOnFault = 1;

    private SurfaceLayout _layout = null!;
    private ulong _engineTarget;
    private IntPtr _kernelTarget;

    [GlobalSetup(Targets = [nameof(Mlock2SplitAndMerge), nameof(MadviseSplitAndMerge)])]
    public void SetUpEngine()
    {
        _layout = SurfaceLayout.Engine(Vmas);
        _engineTarget = _layout.EngineUnit(Vmas / 2) + SurfaceLayout.Page;
    }

    [GlobalSetup(Targets = [nameof(KernelMlock2SplitAndMerge), nameof(KernelMadviseSplitAndMerge)])]
    public void SetUpKernel()
    {
        _layout = SurfaceLayout.Kernel(Vmas);
        _kernelTarget = (IntPtr)(_layout.KernelUnit(Vmas / 2) + SurfaceLayout.Page);
    }

    [GlobalCleanup]
    public void CleanUp() => _layout.Dispose();

    [BenchmarkCategory("Mlock2SplitAndMerge"), Benchmark]
    public void Mlock2SplitAndMerge()
    {
        _layout.Space.Mlock2(_engineTarget, SurfaceLayout.Page, MlockFlags.OnFault);
        _layout.Space.Munlock(_engineTarget, SurfaceLayout.Page);
    }

    [BenchmarkCategory("Mlock2SplitAndMerge"), Benchmark(Baseline = true)]
    public void KernelMlock2SplitAndMerge()
    {
        KernelMm.Mlock2(_kernelTarget, SurfaceLayout.Page, MlockOnFault);
        KernelMm.Munlock(_kernelTarget, SurfaceLayout.Page);
    }

    [BenchmarkCategory("MadviseSplitAndMerge"), Benchmark]
    public void MadviseSplitAndMerge()
    {
        _layout.Space.Madvise(_engineTarget, SurfaceLayout.Page, Advice.DontFork);
        _layout.Space.Madvise(_engineTarget, SurfaceLayout.Page, Advice.DoFork);
    }

    [BenchmarkCategory("MadviseSplitAndMerge"), Benchmark(Baseline = true)]
    public void KernelMadviseSplitAndMerge()
    {
        KernelMm.Madvise(_kernelTarget, SurfaceLayout.Page, MadvDontFork);
        KernelMm.Madvise(_kernelTarget, SurfaceLayout.Page, MadvDoFork);
    }
}
