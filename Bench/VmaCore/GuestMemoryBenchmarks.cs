using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;

namespace Bench.VmaCore;

/// <summary>
/// Issue 15's translation and backing goals. Translate: a hit of <see cref="GuestMemory.Translate"/> at random mapped
/// pages, beside a <see cref="Dictionary{TKey, TValue}"/> of page to host address (the baseline) and beside the
/// engine's <see cref="AddressSpace.LockVmaUnderRcu"/> + <see cref="AddressSpace.VmaEndRead"/> on the same addresses.
/// The pages are 64-page VMAs of alternating protection, every one written once (so each has its anon_vma), every
/// page translated once in the setup (the table caches pages on their first translation). The speed of the backed
/// system calls is measured by <see cref="GuestSyscallBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class GuestMemoryBenchmarks
{
    private const ulong Page = 4096;
    private const ulong Low = 0x10_0000_0000;
    /// <summary>Pages per VMA of the translated layout: 16,384 VMAs at 1M pages, each one host mapping too, well under the host's own vm.max_map_count (65,530).</summary>
    private const int PagesPerVma = 64;

    private const int Queries = 1 << 16;

    private GuestMemory _guest = null!;
    private Dictionary<ulong, nint> _pages = null!;
    private ulong[] _queries = null!;

    /// <summary>The mapped guest pages: 64k (256 MiB) and 1M (4 GiB).</summary>
    [Params(65_536, 1_048_576)]
    public int Pages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        ulong mappedEnd = Low + ((ulong)Pages * Page);
        ulong high = mappedEnd + (64UL << 20);
        var options = new AddressSpaceOptions { MmapMinAddr = Low, TaskSize = high, MmapBase = high, StartBrk = Low, MaxMapCount = 1 << 20 };
        _guest = new GuestMemory(Low, high, options);
        _pages = new Dictionary<ulong, nint>(Pages);
        for (ulong address = Low; address < mappedEnd; address += PagesPerVma * Page)
        {
            Prot prot = ((address - Low) / (PagesPerVma * Page) % 2 == 0) ? Prot.Read | Prot.Write : Prot.Read | Prot.Write | Prot.Exec;
            Check(_guest.Mmap(address, PagesPerVma * Page, prot, MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed, out _));
            if (_guest.Fault(address, FaultAccess.Write) != FaultResult.Ok)
            {
                throw new InvalidOperationException($"the write fault at {address:x} failed");
            }
        }

        for (ulong address = Low; address < mappedEnd; address += Page)
        {
            _pages.Add(address, _guest.HostAddressOf(address));
            if (_guest.Translate(address, FaultAccess.Read, out _) != TranslateStatus.Ok)
            {
                throw new InvalidOperationException($"the page at {address:x} does not translate");
            }
        }

        var random = new Random(15);
        _queries = new ulong[Queries];
        for (int i = 0; i < Queries; i++)
        {
            _queries[i] = Low + ((ulong)random.Next(Pages) * Page) + (ulong)random.Next((int)Page);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _guest.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Queries)]
    [BenchmarkCategory("Translate")]
    public nint DictionaryOfPages()
    {
        nint sum = 0;
        foreach (ulong address in _queries)
        {
            sum += _pages[address & ~(Page - 1)] + (nint)(address & (Page - 1));
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Queries)]
    [BenchmarkCategory("Translate")]
    public nint TranslateHit()
    {
        nint sum = 0;
        foreach (ulong address in _queries)
        {
            _guest.Translate(address, FaultAccess.Read, out nint host);
            sum += host;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Queries)]
    [BenchmarkCategory("Translate")]
    public nint LockVmaUnderRcuThenEndRead()
    {
        nint sum = 0;
        AddressSpace space = _guest.Space;
        foreach (ulong address in _queries)
        {
            VmArea* vma = space.LockVmaUnderRcu(address);
            sum += (nint)vma->VmStart;
            AddressSpace.VmaEndRead(vma);
        }

        return sum;
    }

    private static void Check(Errno error)
    {
        if (error != Errno.None)
        {
            throw new InvalidOperationException($"a setup call failed with {error}");
        }
    }
}
