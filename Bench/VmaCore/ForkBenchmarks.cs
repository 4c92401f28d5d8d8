using System;
using System.IO;
using System.Runtime.InteropServices;
using Bench.Slab;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using Mono.Unix.Native;
using VmaEngine.Vma;

namespace Bench.VmaCore;

/// <summary>
/// fork: <see cref="AddressSpace.Fork"/> of an address space holding 1k, 60k or 1M VMAs, then disposing the child,
/// against the kernel's <c>fork()</c> of this process holding the same number of mappings, the child exiting at once
/// and the parent waiting for it (<c>waitpid</c>). Both layouts are 3-page private anonymous VMAs separated by 1-page
/// holes, every other one faulted (one page written), so that <c>anon_vma_fork</c> runs for half of them.
/// </summary>
/// <remarks>
/// <para>
/// The kernel's figure includes everything a real fork pays beyond the VMAs: creating the task, copying the page
/// tables of the faulted pages (and write-protecting them for copy-on-write), the child's exit (its <c>exit_mmap</c>
/// and page-table teardown) and the wakeup of the waiting parent. It also copies the runtime's own mappings (a few
/// hundred), which the engine's figure does not have. The engine's figure is the VMA side only: tree, VMAs, anon_vma
/// hierarchy, then the child's teardown.
/// </para>
/// <para>
/// The kernel peer runs at 1k and 60k mappings only: 1M exceeds <c>vm.max_map_count</c> (65530 by default), so its
/// 1M case is filtered out and the engine's 1M row has no ratio.
/// </para>
/// <para>
/// The kernel's fork is made by a 21-byte x86-64 stub (raw <c>fork</c> system call; in the child, <c>exit_group(0)</c>
/// at once), so that the child never runs managed code, whose runtime state a fork does not carry over safely.
/// </para>
/// </remarks>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByParams)]
[Config(typeof(KernelPeerLimit))]
public unsafe class ForkBenchmarks
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong UnitPages = 4;
    private const MapFlags EngineFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    /// <summary>
    /// The stub: <c>mov eax, 57 (fork); syscall; test eax, eax; jnz ret; xor edi, edi; mov eax, 231 (exit_group);
    /// syscall; ret</c>. It returns the child's pid, or a negated errno, in the parent.
    /// </summary>
    private static readonly byte[] s_forkStub =
    [
        0xB8, 0x39, 0x00, 0x00, 0x00, 0x0F, 0x05, 0x85, 0xC0, 0x75, 0x09,
        0x31, 0xFF, 0xB8, 0xE7, 0x00, 0x00, 0x00, 0x0F, 0x05, 0xC3,
    ];

    private AddressSpace _space = null!;
    private IntPtr _kernelRegion;
    private IntPtr _stub;

    /// <summary>How many VMAs (mappings) the parent holds.</summary>
    [Params(1_000, 60_000, 1_000_000)]
    public int Vmas { get; set; }

    [GlobalSetup(Target = nameof(EngineForkAndDisposeChild))]
    public void SetUpEngine()
    {
        _space = new AddressSpace(new AddressSpaceOptions { MaxMapCount = 2 * Vmas });
        const ulong Base = 0x1000_0000_0000;
        for (int i = 0; i < Vmas; i++)
        {
            ulong unit = Base + ((ulong)i * UnitPages * Page);
            Check(_space.Mmap(unit, 3 * Page, Prot.Read | Prot.Write, EngineFixed, out _) == global::VmaEngine.Vma.Errno.None, "engine layout");
            if (i % 2 == 0)
            {
                Check(_space.Touch(unit, Page) == global::VmaEngine.Vma.Errno.None, "engine fault");
            }
        }

        Check(_space.MapCount == Vmas, "engine VMA count");
    }

    [GlobalSetup(Target = nameof(KernelFork))]
    public void SetUpKernel()
    {
        Check(RuntimeInformation.ProcessArchitecture == Architecture.X64, "the fork stub is x86-64 code");
        ulong length = (ulong)Vmas * UnitPages * Page;
        const MmapProts Rw = MmapProts.PROT_READ | MmapProts.PROT_WRITE;
        _kernelRegion = Syscall.mmap(IntPtr.Zero, length, Rw, MmapFlags.MAP_PRIVATE | MmapFlags.MAP_ANONYMOUS | MmapFlags.MAP_NORESERVE, -1, 0);
        Check(_kernelRegion != Syscall.MAP_FAILED, "kernel region");
        for (int i = 0; i < Vmas; i++)
        {
            byte* unit = (byte*)_kernelRegion + ((ulong)i * UnitPages * Page);
            Check(Syscall.munmap((IntPtr)(unit + (3 * Page)), Page) == 0, "kernel hole");
            if (i % 2 == 0)
            {
                *unit = 1;
            }
        }

        _stub = Syscall.mmap(IntPtr.Zero, Page, Rw, MmapFlags.MAP_PRIVATE | MmapFlags.MAP_ANONYMOUS, -1, 0);
        Check(_stub != Syscall.MAP_FAILED, "stub page");
        Marshal.Copy(s_forkStub, 0, _stub, s_forkStub.Length);
        Check(Syscall.mprotect(_stub, Page, MmapProts.PROT_READ | MmapProts.PROT_EXEC) == 0, "stub protection");
    }

    [GlobalCleanup(Target = nameof(EngineForkAndDisposeChild))]
    public void CleanUpEngine() => _space.Dispose();

    [GlobalCleanup(Target = nameof(KernelFork))]
    public void CleanUpKernel()
    {
        Syscall.munmap(_kernelRegion, (ulong)Vmas * UnitPages * Page);
        Syscall.munmap(_stub, Page);
    }

    [Benchmark]
    public void EngineForkAndDisposeChild()
    {
        _space.Fork(out AddressSpace? child);
        child!.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void KernelFork()
    {
        int pid = ((delegate* unmanaged<int>)_stub)();
        Check(pid > 0, "fork");
        Check(Syscall.waitpid(pid, out int status, 0) == pid && status == 0, "waitpid");
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"fork benchmark failed: {what} (errno {Stdlib.GetLastError()})");
        }
    }

    /// <summary>
    /// Leaves out the kernel cases with more mappings than <c>vm.max_map_count</c> allows; with
    /// <see cref="PatientBuildConfig"/>'s build timeout.
    /// </summary>
    private sealed class KernelPeerLimit : ManualConfig
    {
        public KernelPeerLimit()
        {
            Add(new PatientBuildConfig());
            const string Sysctl = "/proc/sys/vm/max_map_count";
            int limit = File.Exists(Sysctl)
                ? int.Parse(File.ReadAllText(Sysctl).Trim(), System.Globalization.CultureInfo.InvariantCulture)
                : MmConstants.DefaultMaxMapCount;
            AddFilter(new SimpleFilter(benchmark =>
                benchmark.Descriptor.WorkloadMethod.Name != nameof(KernelFork)
                || (int)benchmark.Parameters["Vmas"] < limit));
        }
    }
}
