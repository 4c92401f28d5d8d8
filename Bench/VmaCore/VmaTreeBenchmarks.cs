using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Slab;
using VmaCore;
using VmaCore.Locking;
using VmaCore.Tree;

namespace Bench.VmaCore;

/// <summary>
/// The VMA tree against the structures one would otherwise use, on one fragmented address space per size: VMAs of
/// 1 to 16 pages, half of them followed by a gap of 1 to 16 pages, every thousandth by a 64-page gap. Each category
/// has its own baseline: a binary search over a sorted array of the same ranges for lookups, a
/// <see cref="ReaderWriterLockSlim"/>-guarded <see cref="SortedList{TKey, TValue}"/> for locked lookups, a scan down
/// the sorted array for free-range searches, and <see cref="SortedList{TKey, TValue}"/> inserts for stores.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class VmaTreeBenchmarks
{
    private const ulong Page = 4096;
    private const int Queries = 4096;
    private const int ConcurrentReads = 1 << 20;

    /// <summary>Free-range searches ask for 32 pages: only the rare 64-page gaps hold that.</summary>
    private const ulong FreeRangeLength = 32 * Page;

    private AddressSpace _space = null!;
    private VmaTree _tree = null!;
    private Range[] _ranges = null!;
    private SortedList<ulong, Range> _sortedList = null!;
    private ReaderWriterLockSlim _sortedListLock = null!;
    private ulong[] _queries = null!;
    private ulong[] _freeQueries = null!;
    private (ulong Start, ulong End)[] _gaps = null!;
    private VmArea* _spare;
    private int _next;

    /// <summary>The number of VMAs.</summary>
    [Params(1000, 100_000, 1_000_000)]
    public int Vmas { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _space = new AddressSpace();
        _tree = _space.Tree;
        _ranges = new Range[Vmas];
        _sortedList = new SortedList<ulong, Range>(Vmas);
        _sortedListLock = new ReaderWriterLockSlim();
        var gaps = new List<(ulong, ulong)>();
        ulong address = 0x10000;
        _space.MmapLock.WriteLock();

        // All VMAs first, then the tree: the first-version slab takes every object from the C heap, and interleaving
        // would scatter tree nodes among VMAs, which the real slab (one set of slabs per cache) does not do.
        for (int i = 0; i < Vmas; i++)
        {
            VmArea* vma = VmAreaCache.Alloc(_space.Mm, _space.Faults);
            vma->VmStart = address;
            vma->VmEnd = address + ((ulong)rng.Next(1, 17) * Page);
            VmaLock.StartWrite(vma);
            VmaLock.MarkAttached(vma);
            _ranges[i] = new Range(vma->VmStart, vma->VmEnd, vma);
            _sortedList.Add(vma->VmStart, _ranges[i]);
            ulong gap = i % 1000 == 999 ? 64 * Page : rng.Next(2) == 0 ? 0 : (ulong)rng.Next(1, 17) * Page;
            if (gap != 0)
            {
                gaps.Add((vma->VmEnd, vma->VmEnd + gap));
            }

            address = vma->VmEnd + gap;
        }

        foreach (Range r in _ranges)
        {
            if (!_tree.Preallocate(r.Start, r.End))
            {
                throw new OutOfMemoryException("VMA tree preallocation failed during setup.");
            }

            _tree.Store(r.Start, r.End, r.Vma);
        }

        _space.MmapLock.WriteUnlock();
        _gaps = gaps.ToArray();
        _queries = new ulong[Queries];
        _freeQueries = new ulong[Queries];
        for (int i = 0; i < Queries; i++)
        {
            _queries[i] = 0x10000 + (ulong)rng.NextInt64((long)(address - 0x10000));
            _freeQueries[i] = 0x10000 + (ulong)rng.NextInt64((long)(address - 0x10000));
        }

        _spare = (VmArea*)NativeMemory.AllocZeroed((nuint)sizeof(VmArea));
        CheckPeersAgree();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _space.Dispose();
        _sortedListLock.Dispose();
        NativeMemory.Free(_spare);
    }

    [BenchmarkCategory("FindVma"), Benchmark(Baseline = true, OperationsPerInvoke = Queries)]
    public nint ArrayBinarySearch()
    {
        nint sum = 0;
        foreach (ulong a in _queries)
        {
            sum += (nint)FindInArray(a);
        }

        return sum;
    }

    [BenchmarkCategory("FindVma"), Benchmark(OperationsPerInvoke = Queries)]
    public nint SortedListFloor()
    {
        nint sum = 0;
        foreach (ulong a in _queries)
        {
            sum += (nint)FindInSortedList(a);
        }

        return sum;
    }

    [BenchmarkCategory("FindVma"), Benchmark(OperationsPerInvoke = Queries)]
    public nint TreeLoad()
    {
        nint sum = 0;
        foreach (ulong a in _queries)
        {
            sum += (nint)_tree.Load(a);
        }

        return sum;
    }

    [BenchmarkCategory("LockVma"), Benchmark(Baseline = true, OperationsPerInvoke = Queries)]
    public nint RwLockSortedListFloor()
    {
        nint sum = 0;
        foreach (ulong a in _queries)
        {
            _sortedListLock.EnterReadLock();
            sum += (nint)FindInSortedList(a);
            _sortedListLock.ExitReadLock();
        }

        return sum;
    }

    [BenchmarkCategory("LockVma"), Benchmark(OperationsPerInvoke = Queries)]
    public nint LockVmaUnderRcu()
    {
        nint sum = 0;
        foreach (ulong a in _queries)
        {
            VmArea* vma = _space.LockVmaUnderRcu(a);
            if (vma != null)
            {
                sum += (nint)vma;
                AddressSpace.VmaEndRead(vma);
            }
        }

        return sum;
    }

    [BenchmarkCategory("FindFreeRange"), Benchmark(Baseline = true, OperationsPerInvoke = Queries)]
    public ulong ArrayScanDown()
    {
        ulong sum = 0;
        foreach (ulong high in _freeQueries)
        {
            sum += FreeRangeInArray(high);
        }

        return sum;
    }

    [BenchmarkCategory("FindFreeRange"), Benchmark(OperationsPerInvoke = Queries)]
    public ulong TreeEmptyAreaRev()
    {
        ulong sum = 0;
        foreach (ulong high in _freeQueries)
        {
            sum += _tree.FindEmptyAreaRev(0x10000, high, FreeRangeLength, out ulong start) ? start : 0;
        }

        return sum;
    }

    [BenchmarkCategory("InsertErase"), Benchmark(Baseline = true)]
    public void SortedListInsertErase()
    {
        (ulong start, ulong end) = NextGap();
        _sortedList.Add(start, new Range(start, end, _spare));
        _sortedList.Remove(start);
    }

    [BenchmarkCategory("InsertErase"), Benchmark]
    public void TreeInsertErase()
    {
        (ulong start, ulong end) = NextGap();
        StoreInGap(_tree, start, end, _spare);
    }

    /// <summary>
    /// Total lookup throughput of 1 or 2 reader threads while a writer inserts and erases a VMA every millisecond
    /// (so that on 2 cores the readers keep both); the readers share <see cref="ConcurrentReads"/> lookups, in RCU
    /// read-side sections of <paramref name="lookupsPerSection"/> lookups (1: each lookup its own section, as
    /// <c>lock_vma_under_rcu</c>; 64: the tree's own scaling, with the section cost amortized).
    /// </summary>
    [BenchmarkCategory("ConcurrentReads"), Benchmark(OperationsPerInvoke = ConcurrentReads)]
    [Arguments(1, 1)]
    [Arguments(2, 1)]
    [Arguments(1, 64)]
    [Arguments(2, 64)]
    public long ConcurrentTreeLoad(int readers, int lookupsPerSection)
    {
        int stop = 0;
        var writer = new Thread(() =>
        {
            for (int i = 0; Volatile.Read(ref stop) == 0; i++)
            {
                (ulong start, ulong end) = _gaps[i % _gaps.Length];
                StoreInGap(_tree, start, end, _spare);
                Thread.Sleep(1);
            }
        });
        long found = 0;
        var threads = new Thread[readers];
        using var go = new ManualResetEventSlim();
        for (int r = 0; r < readers; r++)
        {
            int first = r * 997;
            threads[r] = new Thread(() =>
            {
                long hits = 0;
                go.Wait();
                for (int n = 0; n < ConcurrentReads / readers; n += lookupsPerSection)
                {
                    Rcu.ReadLock();
                    for (int k = n; k < n + lookupsPerSection; k++)
                    {
                        hits += _tree.Load(_queries[(first + k) & (Queries - 1)]) != null ? 1 : 0;
                    }

                    Rcu.ReadUnlock();
                }

                Interlocked.Add(ref found, hits);
            });
            threads[r].Start();
        }

        writer.Start();
        go.Set();
        foreach (Thread t in threads)
        {
            t.Join();
        }

        Volatile.Write(ref stop, 1);
        writer.Join();
        return found;
    }

    /// <summary>Throws unless every structure answers every query alike, so that the comparison is fair.</summary>
    private void CheckPeersAgree()
    {
        for (int i = 0; i < Queries; i++)
        {
            ulong a = _queries[i];
            if (FindInArray(a) != _tree.Load(a) || FindInSortedList(a) != _tree.Load(a))
            {
                throw new InvalidOperationException($"The lookups disagree at 0x{a:x}.");
            }

            ulong high = _freeQueries[i];
            ulong tree = _tree.FindEmptyAreaRev(0x10000, high, FreeRangeLength, out ulong start) ? start : 0;
            if (tree != FreeRangeInArray(high))
            {
                throw new InvalidOperationException($"The free-range searches below 0x{high:x} disagree.");
            }
        }
    }

    /// <summary>
    /// Maps <paramref name="vma"/> over the upper half (whole pages, at least one) of a free range, as a top-down
    /// mmap places it, and unmaps it again, each store preallocated. One-page gaps are filled exactly.
    /// </summary>
    private static void StoreInGap(VmaTree tree, ulong gapStart, ulong end, VmArea* vma)
    {
        ulong start = end - Math.Max(Page, (end - gapStart) / 2 / Page * Page);
        if (!tree.Preallocate(start, end))
        {
            throw new OutOfMemoryException("VMA tree preallocation failed.");
        }

        tree.Store(start, end, vma);
        if (!tree.Preallocate(start, end))
        {
            throw new OutOfMemoryException("VMA tree preallocation failed.");
        }

        tree.Store(start, end, null);
    }

    private (ulong Start, ulong End) NextGap() => _gaps[_next++ % _gaps.Length];

    /// <summary>The range containing <paramref name="address"/>, by binary search.</summary>
    private VmArea* FindInArray(ulong address)
    {
        int i = FirstEndingAfter(address);
        return i < _ranges.Length && _ranges[i].Start <= address ? _ranges[i].Vma : null;
    }

    /// <summary>The index of the first range of the array ending after <paramref name="address"/>.</summary>
    private int FirstEndingAfter(ulong address)
    {
        Range[] ranges = _ranges;
        int lo = 0, hi = ranges.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (ranges[mid].End > address)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    /// <summary>The range containing <paramref name="address"/>: the last range starting at or before it.</summary>
    private VmArea* FindInSortedList(ulong address)
    {
        IList<ulong> keys = _sortedList.Keys;
        int lo = 0, hi = keys.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (keys[mid] <= address)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        if (lo == 0)
        {
            return null;
        }

        Range r = _sortedList.Values[lo - 1];
        return r.End > address ? r.Vma : null;
    }

    /// <summary>The highest start of a free range of <see cref="FreeRangeLength"/> in [0x10000, high), scanning down the array.</summary>
    private ulong FreeRangeInArray(ulong high)
    {
        Range[] ranges = _ranges;
        int i = FirstEndingAfter(high - 1);
        if (i == ranges.Length || ranges[i].Start >= high)
        {
            i--;
        }

        ulong top = high;
        for (; i >= 0; i--)
        {
            if (ranges[i].End < top && top - ranges[i].End >= FreeRangeLength)
            {
                return top - FreeRangeLength;
            }

            top = ranges[i].Start;
        }

        return top - 0x10000 >= FreeRangeLength ? top - FreeRangeLength : 0;
    }

    /// <summary>One VMA of the peers' copies.</summary>
    private readonly struct Range(ulong start, ulong end, VmArea* vma)
    {
        public readonly ulong Start = start;
        public readonly ulong End = end;
        public readonly VmArea* Vma = vma;
    }
}
