using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Mono.Unix.Native;
using VmaEngine.Vma;

namespace Bench.VmaCore;

/// <summary>
/// The merge and split paths of the syscall layer against the same system calls on this machine's kernel. Both
/// sides hold a layout of 3-page private anonymous VMAs separated by 1-page holes, protections alternating
/// read-only / read-write; the operations work on a read-write VMA in the middle:
/// <list type="bullet">
/// <item><c>MmapMergeWithPrev</c>: mmap the hole after it read-write (it expands the VMA), then munmap it again.</item>
/// <item><c>MprotectSplitAndMerge</c>: mprotect its middle page read-only (split into 3), then back (merge into 1).</item>
/// <item><c>MunmapMiddleRemap</c>: munmap its middle page (split into 2), then mmap it back (merge into 1).</item>
/// </list>
/// The engine runs at 1k, 60k and 1M VMAs; the kernel (the baseline of each category, through Mono.Posix) always at
/// 60k VMAs, under the host's vm.max_map_count of 65530.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class VmaMergeBenchmarks
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong UnitPages = 4;
    private const int KernelVmas = 60_000;
    private const MapFlags EngineFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;
    private const MmapFlags KernelFixed = MmapFlags.MAP_PRIVATE | MmapFlags.MAP_ANONYMOUS | MmapFlags.MAP_FIXED;
    private const MmapProts KernelRw = MmapProts.PROT_READ | MmapProts.PROT_WRITE;

    private AddressSpace _space = null!;
    private ulong _engineTarget;
    private IntPtr _kernelRegion;
    private ulong _kernelTarget;

    /// <summary>How many VMAs the engine's layout holds.</summary>
    [Params(1_000, 60_000, 1_000_000)]
    public int Vmas { get; set; }

    [GlobalSetup(Targets = [nameof(MmapMergeWithPrev), nameof(MprotectSplitAndMerge), nameof(MunmapMiddleRemap)])]
    public void SetUpEngine()
    {
        _space = new AddressSpace(new AddressSpaceOptions { MaxMapCount = 2 * Vmas });
        const ulong Base = 0x1000_0000_0000;
        for (int i = 0; i < Vmas; i++)
        {
            Prot prot = i % 2 == 0 ? Prot.Read | Prot.Write : Prot.Read;
            Check(_space.Mmap(Base + ((ulong)i * UnitPages * Page), 3 * Page, prot, EngineFixed, out _) == global::VmaEngine.Vma.Errno.None, "engine layout");
        }

        _engineTarget = Base + ((ulong)(Vmas / 2 & ~1) * UnitPages * Page);
        Check(_space.MapCount == Vmas, "engine VMA count");
    }

    [GlobalSetup(Targets = [nameof(KernelMmapMergeWithPrev), nameof(KernelMprotectSplitAndMerge), nameof(KernelMunmapMiddleRemap)])]
    public void SetUpKernel()
    {
        ulong length = KernelVmas * UnitPages * Page;
        _kernelRegion = Syscall.mmap(IntPtr.Zero, length, KernelRw, MmapFlags.MAP_PRIVATE | MmapFlags.MAP_ANONYMOUS | MmapFlags.MAP_NORESERVE, -1, 0);
        Check(_kernelRegion != Syscall.MAP_FAILED, "kernel region");
        ulong start = (ulong)_kernelRegion;
        for (int i = 0; i < KernelVmas; i++)
        {
            ulong unit = start + ((ulong)i * UnitPages * Page);
            Check(Syscall.munmap((IntPtr)(unit + (3 * Page)), Page) == 0, "kernel hole");
            if (i % 2 != 0)
            {
                Check(Syscall.mprotect((IntPtr)unit, 3 * Page, MmapProts.PROT_READ) == 0, "kernel protection");
            }
        }

        _kernelTarget = start + ((ulong)(KernelVmas / 2) * UnitPages * Page);
    }

    [GlobalCleanup(Targets = [nameof(MmapMergeWithPrev), nameof(MprotectSplitAndMerge), nameof(MunmapMiddleRemap)])]
    public void CleanUpEngine() => _space.Dispose();

    [GlobalCleanup(Targets = [nameof(KernelMmapMergeWithPrev), nameof(KernelMprotectSplitAndMerge), nameof(KernelMunmapMiddleRemap)])]
    public void CleanUpKernel() => Syscall.munmap(_kernelRegion, KernelVmas * UnitPages * Page);

    [BenchmarkCategory("MmapMergeWithPrev"), Benchmark]
    public void MmapMergeWithPrev()
    {
        _space.Mmap(_engineTarget + (3 * Page), Page, Prot.Read | Prot.Write, EngineFixed, out _);
        _space.Munmap(_engineTarget + (3 * Page), Page);
    }

    [BenchmarkCategory("MmapMergeWithPrev"), Benchmark(Baseline = true)]
    public void KernelMmapMergeWithPrev()
    {
        Syscall.mmap((IntPtr)(_kernelTarget + (3 * Page)), Page, KernelRw, KernelFixed, -1, 0);
        Syscall.munmap((IntPtr)(_kernelTarget + (3 * Page)), Page);
    }

    [BenchmarkCategory("MprotectSplitAndMerge"), Benchmark]
    public void MprotectSplitAndMerge()
    {
        _space.Mprotect(_engineTarget + Page, Page, Prot.Read);
        _space.Mprotect(_engineTarget + Page, Page, Prot.Read | Prot.Write);
    }

    [BenchmarkCategory("MprotectSplitAndMerge"), Benchmark(Baseline = true)]
    public void KernelMprotectSplitAndMerge()
    {
        Syscall.mprotect((IntPtr)(_kernelTarget + Page), Page, MmapProts.PROT_READ);
        Syscall.mprotect((IntPtr)(_kernelTarget + Page), Page, KernelRw);
    }

    [BenchmarkCategory("MunmapMiddleRemap"), Benchmark]
    public void MunmapMiddleRemap()
    {
        _space.Munmap(_engineTarget + Page, Page);
        _space.Mmap(_engineTarget + Page, Page, Prot.Read | Prot.Write, EngineFixed, out _);
    }

    [BenchmarkCategory("MunmapMiddleRemap"), Benchmark(Baseline = true)]
    public void KernelMunmapMiddleRemap()
    {
        Syscall.munmap((IntPtr)(_kernelTarget + Page), Page);
        Syscall.mmap((IntPtr)(_kernelTarget + Page), Page, KernelRw, KernelFixed, -1, 0);
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"benchmark setup failed: {what} (errno {Stdlib.GetLastError()})");
        }
    }
}
