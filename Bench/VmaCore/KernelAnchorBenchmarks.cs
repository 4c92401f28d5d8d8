using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using VmaEngine.Vma;

namespace Bench.VmaCore;

/// <summary>
/// The kernel anchor's benchmark (<c>shared/kernel-anchor/bench/bench_vma.c</c>: the kernel's own <c>mm/vma.c</c>
/// and <c>lib/maple_tree.c</c> at -O2 in user space) replayed on the engine, like for like, so that the two tables
/// can be read side by side: the same layout, the same operations at random VMAs, the same sizes.
/// </summary>
/// <remarks>
/// <para>
/// Layout: <see cref="Vmas"/> private anonymous read-write VMAs of 3 pages, each followed by a 3-page hole, from
/// 0x10000000 (so nothing is adjacent and nothing merges; the page offset is the address's page number, as for any
/// anonymous mapping). Every pair restores the layout, which <see cref="CleanUp"/> verifies (a per-iteration check
/// would make BenchmarkDotNet run one invocation per iteration).
/// </para>
/// <para>
/// Operations, through the engine's public system calls (the anchor calls the kernel functions those system calls
/// reach: <c>__mmap_region</c>'s merge path, <c>do_vmi_munmap</c>, <c>mprotect_fixup</c>):
/// <list type="bullet">
/// <item>a1 <c>VmaLookup</c> (<c>vma_lookup</c>), a2 <c>FindVma</c> (<c>find_vma</c>): random addresses over the whole
/// span, about half of them inside a VMA.</item>
/// <item>b <c>MapMergePrevMunmap</c>: mmap the page after a VMA (it expands the VMA), then munmap it (split).</item>
/// <item>c <c>MprotectSplitMerge</c>: mprotect a VMA's middle page read-only (split 1 to 3), then back (merge 3 to 1).</item>
/// <item>d <c>MunmapMiddleRemap</c>: munmap a VMA's middle page (split 1 to 2), then mmap it back (merge 2 to 1).</item>
/// </list>
/// The random values come from the anchor's splitmix64 generator with its seed (addresses first, then VMA indices),
/// drawn in the setup, outside the timed loop; each invocation runs <see cref="Batch"/> operations (pairs) on the next
/// stretch of them.
/// </para>
/// </remarks>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class KernelAnchorBenchmarks
{
    private const ulong Page = MmConstants.PageSize;
    private const ulong VmaPages = 3;
    private const ulong HolePages = 3;
    private const ulong Stride = (VmaPages + HolePages) * Page;
    private const ulong Base = 0x1000_0000;
    private const Prot ReadWrite = Prot.Read | Prot.Write;
    private const MapFlags AnonFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    /// <summary>Operations (or pairs) per invocation: the BenchmarkDotNet batch over the random values.</summary>
    internal const int Batch = 1024;

    /// <summary>How many random values are drawn: invocations walk through them in turn.</summary>
    private const int RandomValues = 1 << 16;

    private AddressSpace _space = null!;
    private ulong[] _addresses = null!;
    private ulong[] _vmaStarts = null!;
    private int _cursor;

    /// <summary>Bitwise OR of every errno the timed loops saw; checked at the end.</summary>
    private int _errors;

    /// <summary>How many VMAs the layout holds.</summary>
    [Params(1_000, 60_000, 1_000_000)]
    public int Vmas { get; set; }

    /// <summary>Maps the layout and draws the random addresses and VMAs.</summary>
    [GlobalSetup]
    public void SetUp()
    {
        _space = new AddressSpace(new AddressSpaceOptions { MaxMapCount = Vmas + 16 });
        for (int i = 0; i < Vmas; i++)
        {
            Check(_space.Mmap(VmaStart(i), VmaPages * Page, ReadWrite, AnonFixed, out _) == Errno.None, "layout mmap");
        }

        var random = new SplitMix64();
        ulong span = (ulong)Vmas * Stride;
        _addresses = new ulong[RandomValues];
        _vmaStarts = new ulong[RandomValues];
        for (int i = 0; i < RandomValues; i++)
        {
            _addresses[i] = Base + (random.Next() % span);
        }

        for (int i = 0; i < RandomValues; i++)
        {
            _vmaStarts[i] = VmaStart((int)(random.Next() % (ulong)Vmas));
        }

        CheckLayout();
    }

    /// <summary>Fails the run if an operation returned an error or the layout drifted, then frees the layout.</summary>
    [GlobalCleanup]
    public void CleanUp()
    {
        CheckLayout();
        _space.Dispose();
    }

    /// <summary>Throws if an operation returned an error or the layout drifted.</summary>
    private void CheckLayout()
    {
        Check(_errors == 0, $"an operation failed (errno bits 0x{_errors:x})");
        Check(_space.MapCount == Vmas, $"map count {_space.MapCount} instead of {Vmas}");
        for (int i = 0; i < 8; i++)
        {
            ulong start = _vmaStarts[i];
            VmArea* vma = _space.VmaLookup(start);
            Check(vma != null && vma->VmStart == start && vma->VmEnd == start + (VmaPages * Page), "a VMA of the layout changed");
            Check(_space.VmaLookup(start + (VmaPages * Page)) == null, "a hole of the layout was filled");
        }
    }

    [BenchmarkCategory("a1 VmaLookup"), Benchmark(OperationsPerInvoke = Batch)]
    public nint VmaLookup()
    {
        int from = NextBatch();
        nint sum = 0;
        for (int i = from; i < from + Batch; i++)
        {
            sum += (nint)_space.VmaLookup(_addresses[i]);
        }

        return sum;
    }

    [BenchmarkCategory("a2 FindVma"), Benchmark(OperationsPerInvoke = Batch)]
    public nint FindVma()
    {
        int from = NextBatch();
        nint sum = 0;
        for (int i = from; i < from + Batch; i++)
        {
            sum += (nint)_space.FindVma(_addresses[i]);
        }

        return sum;
    }

    [BenchmarkCategory("b MapMergePrevMunmap"), Benchmark(OperationsPerInvoke = Batch)]
    public void MapMergePrevMunmap()
    {
        int from = NextBatch();
        int errors = 0;
        for (int i = from; i < from + Batch; i++)
        {
            ulong end = _vmaStarts[i] + (VmaPages * Page);
            errors |= (int)_space.Mmap(end, Page, ReadWrite, AnonFixed, out _);
            errors |= (int)_space.Munmap(end, Page);
        }

        _errors |= errors;
    }

    [BenchmarkCategory("c MprotectSplitMerge"), Benchmark(OperationsPerInvoke = Batch)]
    public void MprotectSplitMerge()
    {
        int from = NextBatch();
        int errors = 0;
        for (int i = from; i < from + Batch; i++)
        {
            ulong middle = _vmaStarts[i] + Page;
            errors |= (int)_space.Mprotect(middle, Page, Prot.Read);
            errors |= (int)_space.Mprotect(middle, Page, ReadWrite);
        }

        _errors |= errors;
    }

    [BenchmarkCategory("d MunmapMiddleRemap"), Benchmark(OperationsPerInvoke = Batch)]
    public void MunmapMiddleRemap()
    {
        int from = NextBatch();
        int errors = 0;
        for (int i = from; i < from + Batch; i++)
        {
            ulong middle = _vmaStarts[i] + Page;
            errors |= (int)_space.Munmap(middle, Page);
            errors |= (int)_space.Mmap(middle, Page, ReadWrite, AnonFixed, out _);
        }

        _errors |= errors;
    }

    /// <summary>The start of VMA <paramref name="index"/> of the layout (the anchor's <c>vstart</c>).</summary>
    private static ulong VmaStart(int index) => Base + ((ulong)index * Stride);

    /// <summary>The first random value of the next invocation's batch.</summary>
    private int NextBatch()
    {
        int from = _cursor;
        _cursor = (_cursor + Batch) % RandomValues;
        return from;
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"KernelAnchorBenchmarks: {what}.");
        }
    }

    /// <summary>The anchor's generator (splitmix64) with its seed, so that both draw the same sequence.</summary>
    private struct SplitMix64
    {
        private ulong _state;

        public SplitMix64() => _state = 0x9E3779B97F4A7C15UL;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
