using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using VmaEngine.Vma;
using VmaEngine.Vma.Locking;
using VmaEngine.Vma.Tree;

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

    /// <summary>The concurrent cases' writer waits this long after each modification.</summary>
    private const int WriterPeriodMs = 1;

    /// <summary>The concurrent cases' writer takes every this-many-th free range in turn (a prime).</summary>
    private const int WriterStride = 7919;

    /// <summary>Free-range searches ask for 32 pages: only the rare 64-page gaps hold that.</summary>
    private const ulong FreeRangeLength = 32 * Page;

    private AddressSpace _space = null!;
    private VmaTree _tree = null!;
    private Range[] _ranges = null!;
    private SortedList<ulong, Range> _sortedList = null!;
    private ReaderWriterLockSlim _sortedListLock = null!;
    private ulong[] _queries = null!;
    private ulong[] _freeQueries = null!;
    private ulong[] _faultQueries = null!;
    private (ulong Start, ulong End)[] _gaps = null!;
    private VmArea* _spare;
    private int _next;
    private long _writerModifications;
    private int _writerGap;
    private TimeSpan _readingTime;
    private int _concurrentRuns;
    private int _runsWithoutModification;

    /// <summary>Zero at run time, unknown to the JIT: ties each lookup of <see cref="TreeLoadChained"/> to the previous one.</summary>
    private ulong _chainMask;

    /// <summary>The number of VMAs.</summary>
    [Params(1000, 100_000, 1_000_000)]
    public int Vmas { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _space = new AddressSpace();
        _chainMask = 0;
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
            Preallocate(_tree, r.Start, r.End);
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

        // The concurrent cases' lookups alternate between the lower and the upper half of the layout.
        var halves = new Random(43);
        ulong middle = 0x10000 + ((address - 0x10000) / 2);
        _faultQueries = new ulong[Queries];
        for (int i = 0; i < Queries; i++)
        {
            _faultQueries[i] = i % 2 == 0
                ? 0x10000 + (ulong)halves.NextInt64((long)(middle - 0x10000))
                : middle + (ulong)halves.NextInt64((long)(address - middle));
        }

        _spare = (VmArea*)NativeMemory.AllocZeroed((nuint)sizeof(VmArea));
        CheckPeersAgree();
    }

    /// <summary>
    /// Frees the layout. After the concurrent cases, checks that the writer modified the tree while the readers ran
    /// and reports its pace, so that the tables can say what it was.
    /// </summary>
    /// <summary>
    /// The layout, then mmap_lock taken for write for the whole run, as the tree's writer must hold it (a benchmark
    /// thread runs its setup, iterations and cleanup on one thread).
    /// </summary>
    [GlobalSetup(Target = nameof(TreeInsertErase))]
    public void SetupWriter()
    {
        Setup();
        _space.MmapLock.WriteLock();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_space.MmapLock.IsWriteLockHeld)
        {
            _space.MmapLock.WriteUnlock();
        }

        _space.Dispose();
        _sortedListLock.Dispose();
        NativeMemory.Free(_spare);
        if (_concurrentRuns > 0)
        {
            // A run whose writer never changed the tree while the readers ran would not measure what it claims.
            if (_writerModifications == 0)
            {
                throw new InvalidOperationException("The writer made no modification while the readers ran.");
            }

            Console.WriteLine(
                $"// ConcurrentReads writer: {_writerModifications} tree modifications in {_readingTime.TotalMilliseconds:F0} ms " +
                $"of reading ({_writerModifications / _readingTime.TotalSeconds:F0} per second); {_runsWithoutModification} of " +
                $"{_concurrentRuns} invocations saw none.");
        }
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

    /// <summary>
    /// FindVma's latency rather than its throughput: each address depends on the previous lookup's result (through
    /// <see cref="_chainMask"/>), so successive lookups cannot overlap their cache misses as they do in
    /// <see cref="TreeLoad"/>. Not a peer: the yardstick for one page fault's lookup on its own. The lock path's
    /// locked increment does not serialise its lookups this way: <see cref="LockVmaUnderRcu"/> still overlaps the
    /// misses of successive lookups, though less than <see cref="TreeLoad"/> does.
    /// </summary>
    [BenchmarkCategory("LockVma"), Benchmark(OperationsPerInvoke = Queries)]
    public nint TreeLoadChained()
    {
        ulong mask = _chainMask;
        nint previous = 0;
        nint sum = 0;
        foreach (ulong a in _queries)
        {
            previous = (nint)_tree.Load(a | ((ulong)previous & mask));
            sum += previous;
        }

        return sum;
    }

    /// <summary>
    /// A lookup that then reads the VMA's flags, as a fault path under mmap_lock does: <see cref="TreeLoad"/> plus the
    /// VMA's own cache miss, which <see cref="LockVmaUnderRcu"/> pays as well. Not a peer; the yardstick that
    /// separates the lock's cost from the cost of touching the VMA.
    /// </summary>
    [BenchmarkCategory("LockVma"), Benchmark(OperationsPerInvoke = Queries)]
    public ulong TreeLoadReadFlags()
    {
        ulong sum = 0;
        foreach (ulong a in _queries)
        {
            VmArea* vma = _tree.Load(a);
            if (vma != null)
            {
                sum += (ulong)vma->VmFlags;
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
    /// Page-fault lookups of one reader thread while a writer maps and unmaps VMAs: the baseline of the two-reader
    /// cases, whose ratio to it is the read side's scaling (0.56 is 1.8 times the throughput).
    /// </summary>
    [BenchmarkCategory("ConcurrentReads"), Benchmark(Baseline = true, OperationsPerInvoke = ConcurrentReads)]
    public long ConcurrentReadsOneReader() => ConcurrentReadsWithWriter(1, ownHalf: true);

    /// <summary>
    /// The same lookups shared by two reader threads, each faulting in its own half of the address space, as threads
    /// touching their own memory do: they share the tree but no VMA.
    /// </summary>
    [BenchmarkCategory("ConcurrentReads"), Benchmark(OperationsPerInvoke = ConcurrentReads)]
    public long ConcurrentReadsTwoReaders() => ConcurrentReadsWithWriter(2, ownHalf: true);

    /// <summary>
    /// The same lookups shared by two reader threads that both fault all over the address space, so that they also
    /// share VMAs: every read lock writes the VMA's <see cref="VmArea.VmRefcnt"/>, whose cache line then moves
    /// between the cores (the kernel's per-VMA lock has the same cost).
    /// </summary>
    [BenchmarkCategory("ConcurrentReads"), Benchmark(OperationsPerInvoke = ConcurrentReads)]
    public long ConcurrentReadsTwoReadersSameVmas() => ConcurrentReadsWithWriter(2, ownHalf: false);

    /// <summary>
    /// <see cref="ConcurrentReads"/> page-fault lookups (<see cref="AddressSpace.LockVmaUnderRcu"/>, then
    /// <see cref="AddressSpace.VmaEndRead"/>) split among <paramref name="readers"/> threads, while a writer thread
    /// maps a VMA into a free range and unmaps it again, one modification (a tree store, under mmap_lock for write
    /// with the VMA write-locked, as <c>mmap</c> and <c>munmap</c> do) every <see cref="WriterPeriodMs"/> ms. The
    /// writer is paced, not flat out, so that on two cores the readers keep both: what is measured is the read
    /// side's scaling while the tree changes under it. The lookups alternate between the halves of the address
    /// space; with <paramref name="ownHalf"/>, reader r of two takes only the lookups of half r. Returns the number
    /// of lookups that got their VMA read-locked.
    /// </summary>
    private long ConcurrentReadsWithWriter(int readers, bool ownHalf)
    {
        long modifications = 0;
        using var stopped = new ManualResetEvent(false);
        using var writing = new ManualResetEventSlim();
        var writer = new Thread(() =>
        {
            while (true)
            {
                // Strided through the free ranges, so that the changes land all over the tree.
                _writerGap = (_writerGap + WriterStride) % _gaps.Length;
                (ulong start, ulong end) = _gaps[_writerGap];
                VmArea* vma = MapInGap(start, end);
                Interlocked.Increment(ref modifications);
                writing.Set();
                bool stop = stopped.WaitOne(WriterPeriodMs);
                Unmap(vma);
                Interlocked.Increment(ref modifications);
                if (stop || stopped.WaitOne(WriterPeriodMs))
                {
                    break;
                }
            }
        });
        long locked = 0;
        var threads = new Thread[readers];
        using var go = new ManualResetEventSlim();
        for (int r = 0; r < readers; r++)
        {
            int first = ownHalf ? r : r * 997;
            int step = ownHalf ? readers : 1;
            threads[r] = new Thread(() =>
            {
                long hits = 0;
                go.Wait();
                for (int n = 0; n < ConcurrentReads / readers; n++)
                {
                    VmArea* vma = _space.LockVmaUnderRcu(_faultQueries[(first + (n * step)) & (Queries - 1)]);
                    if (vma != null)
                    {
                        hits++;
                        AddressSpace.VmaEndRead(vma);
                    }
                }

                Interlocked.Add(ref locked, hits);
            });
            threads[r].Start();
        }

        writer.Start();
        writing.Wait();
        long began = Stopwatch.GetTimestamp();
        long modificationsBefore = Volatile.Read(ref modifications);
        go.Set();
        foreach (Thread t in threads)
        {
            t.Join();
        }

        long during = Volatile.Read(ref modifications) - modificationsBefore;
        _readingTime += Stopwatch.GetElapsedTime(began);
        stopped.Set();
        writer.Join();
        _concurrentRuns++;
        _runsWithoutModification += during == 0 ? 1 : 0;
        _writerModifications += during;
        return locked;
    }

    /// <summary>
    /// What <c>mmap</c> does to the tree for a new VMA over the upper half of the free range [gapStart, end): under
    /// mmap_lock for write, a write-locked VMA is attached and stored.
    /// </summary>
    private VmArea* MapInGap(ulong gapStart, ulong end)
    {
        _space.MmapLock.WriteLock();
        VmArea* vma = VmAreaCache.Alloc(_space.Mm, _space.Faults);
        if (vma == null)
        {
            throw new OutOfMemoryException("VMA allocation failed.");
        }

        vma->VmStart = end - Math.Max(Page, (end - gapStart) / 2 / Page * Page);
        vma->VmEnd = end;
        VmaLock.StartWrite(vma);
        VmaLock.MarkAttached(vma);
        Preallocate(_tree, vma->VmStart, vma->VmEnd);
        _tree.Store(vma->VmStart, vma->VmEnd, vma);
        _space.MmapLock.WriteUnlock();
        return vma;
    }

    /// <summary>
    /// What <c>munmap</c> does to the tree: under mmap_lock for write, the VMA is write-locked (waiting for its
    /// readers), its range cleared, and the VMA detached and freed (the cache is typesafe by RCU: readers that
    /// still hold the pointer see it detached or reused, and retry or fall back).
    /// </summary>
    private void Unmap(VmArea* vma)
    {
        _space.MmapLock.WriteLock();
        VmaLock.StartWrite(vma);
        Preallocate(_tree, vma->VmStart, vma->VmEnd);
        _tree.Store(vma->VmStart, vma->VmEnd, null);
        VmaLock.MarkDetached(vma);
        VmAreaCache.Free(vma);
        _space.MmapLock.WriteUnlock();
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
        Preallocate(tree, start, end);
        tree.Store(start, end, vma);
        Preallocate(tree, start, end);
        tree.Store(start, end, null);
    }

    /// <summary>Preallocates a store of [start, end), which the benchmarks expect to succeed.</summary>
    private static void Preallocate(VmaTree tree, ulong start, ulong end)
    {
        if (!tree.Preallocate(start, end))
        {
            throw new OutOfMemoryException("VMA tree preallocation failed.");
        }
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
