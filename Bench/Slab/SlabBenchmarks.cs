using System;
using System.Runtime.InteropServices;
using System.Threading;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Microsoft.Extensions.ObjectPool;
using VmaEngine.Slab;

namespace Bench.Slab;

/// <summary>
/// The slab cache against its peers, for a 192-byte, 64-byte-aligned object (a <c>vm_area_struct</c>): one
/// alloc+free pair, 1000 allocs then 1000 frees, and objects freed by another thread than the one that allocated
/// them. Each category has its own baseline, <c>NativeMemory.AlignedAlloc</c>/<c>AlignedFree</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PatientBuildConfig))]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public unsafe class SlabBenchmarks
{
    private const int Batch = 1000;
    private const string Pair = "Pair";
    private const string Thousand = "1000 allocs then 1000 frees";
    private const string CrossThread = "Freed by another thread";

    private readonly nint[] _pointers = new nint[Batch];
    private readonly Object192[] _objects = new Object192[Batch];
    private SlabCache<Block192> _cache = null!;
    private DefaultObjectPool<Object192> _pool = null!;
    private CrossThreadFreer? _freer;
    private Object192? _sink;

    [GlobalSetup]
    public void Setup()
    {
        _cache = new SlabCache<Block192>("bench_vm_area_struct", new SlabCacheOptions
        {
            Alignment = 64,
            FreePointerOffset = 0,
            Flags = SlabFlags.TypesafeByRcu,
        });
        _pool = new DefaultObjectPool<Object192>(new DefaultPooledObjectPolicy<Object192>(), Batch);
    }

    [GlobalSetup(Targets = [nameof(SlabCrossThread), nameof(AlignedAllocCrossThread), nameof(NativeAllocCrossThread)])]
    public void SetupCrossThread()
    {
        Setup();
        _freer = new CrossThreadFreer(_cache, _pointers);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _freer?.Dispose();
        _cache.Dispose();
    }

    [Benchmark(Baseline = true, Description = "NativeMemory.AlignedAlloc+AlignedFree")]
    [BenchmarkCategory(Pair)]
    public void AlignedAllocPair() => NativeMemory.AlignedFree(NativeMemory.AlignedAlloc(192, 64));

    [Benchmark(Description = "SlabCache Alloc+Free")]
    [BenchmarkCategory(Pair)]
    public void SlabPair() => _cache.Free(_cache.Alloc());

    [Benchmark(Description = "NativeMemory.Alloc+Free")]
    [BenchmarkCategory(Pair)]
    public void NativeAllocPair() => NativeMemory.Free(NativeMemory.Alloc(192));

    [Benchmark(Description = "new 192-byte class (GC)")]
    [BenchmarkCategory(Pair)]
    public void NewPair() => _sink = new Object192();

    [Benchmark(Description = "ObjectPool Get+Return")]
    [BenchmarkCategory(Pair)]
    public void PoolPair() => _pool.Return(_pool.Get());

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch, Description = "NativeMemory.AlignedAlloc+AlignedFree")]
    [BenchmarkCategory(Thousand)]
    public void AlignedAllocThousand()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)NativeMemory.AlignedAlloc(192, 64);
        }

        for (int i = 0; i < Batch; i++)
        {
            NativeMemory.AlignedFree((void*)_pointers[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "SlabCache Alloc+Free")]
    [BenchmarkCategory(Thousand)]
    public void SlabThousand()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)_cache.Alloc();
        }

        for (int i = 0; i < Batch; i++)
        {
            _cache.Free((Block192*)_pointers[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "SlabCache AllocBulk+FreeBulk")]
    [BenchmarkCategory(Thousand)]
    public void SlabBulkThousand()
    {
        _cache.AllocBulk(_pointers);
        _cache.FreeBulk(_pointers);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "NativeMemory.Alloc+Free")]
    [BenchmarkCategory(Thousand)]
    public void NativeAllocThousand()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)NativeMemory.Alloc(192);
        }

        for (int i = 0; i < Batch; i++)
        {
            NativeMemory.Free((void*)_pointers[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "new 192-byte class (GC)")]
    [BenchmarkCategory(Thousand)]
    public void NewThousand()
    {
        for (int i = 0; i < Batch; i++)
        {
            _objects[i] = new Object192();
        }

        Array.Clear(_objects);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "ObjectPool Get+Return")]
    [BenchmarkCategory(Thousand)]
    public void PoolThousand()
    {
        for (int i = 0; i < Batch; i++)
        {
            _objects[i] = _pool.Get();
        }

        for (int i = 0; i < Batch; i++)
        {
            _pool.Return(_objects[i]);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch, Description = "NativeMemory.AlignedAlloc, AlignedFree on another thread")]
    [BenchmarkCategory(CrossThread)]
    public void AlignedAllocCrossThread()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)NativeMemory.AlignedAlloc(192, 64);
        }

        _freer!.FreeAll(CrossThreadFreer.Kind.AlignedFree);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "SlabCache Alloc, Free on another thread")]
    [BenchmarkCategory(CrossThread)]
    public void SlabCrossThread()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)_cache.Alloc();
        }

        _freer!.FreeAll(CrossThreadFreer.Kind.Slab);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "NativeMemory.Alloc, Free on another thread")]
    [BenchmarkCategory(CrossThread)]
    public void NativeAllocCrossThread()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)NativeMemory.Alloc(192);
        }

        _freer!.FreeAll(CrossThreadFreer.Kind.Free);
    }

    /// <summary>The 192-byte payload of the slab and native peers.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 192)]
    public struct Block192
    {
        public long First;
    }

    /// <summary>The GC peer: a class with 192 bytes of fields.</summary>
    public sealed class Object192
    {
        public long F0, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13, F14, F15, F16, F17, F18, F19, F20, F21, F22, F23;
    }

    /// <summary>
    /// A thread that frees a batch of pointers handed to it, then hands the batch back; the handoff spins on a
    /// volatile word, so its cost per object is small against 1000 frees.
    /// </summary>
    private sealed class CrossThreadFreer : IDisposable
    {
        private readonly SlabCache<Block192> _cache;
        private readonly nint[] _pointers;
        private readonly Thread _thread;
        private volatile int _work;

        public CrossThreadFreer(SlabCache<Block192> cache, nint[] pointers)
        {
            _cache = cache;
            _pointers = pointers;
            _thread = new Thread(Run) { IsBackground = true, Name = "cross-thread freer" };
            _thread.Start();
        }

        public enum Kind
        {
            None,
            Slab,
            AlignedFree,
            Free,
            Stop,
        }

        public void FreeAll(Kind kind)
        {
            _work = (int)kind;
            var spinner = new SpinWait();
            while (_work != (int)Kind.None)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }

        public void Dispose()
        {
            _work = (int)Kind.Stop;
            _thread.Join();
        }

        private void Run()
        {
            while (true)
            {
                var spinner = new SpinWait();
                int work;
                while ((work = _work) == (int)Kind.None)
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }

                if (work == (int)Kind.Stop)
                {
                    return;
                }

                FreeBatch((Kind)work);
                _work = (int)Kind.None;
            }
        }

        private void FreeBatch(Kind kind)
        {
            foreach (nint p in _pointers)
            {
                switch (kind)
                {
                    case Kind.Slab:
                        _cache.Free((Block192*)p);
                        break;
                    case Kind.AlignedFree:
                        NativeMemory.AlignedFree((void*)p);
                        break;
                    default:
                        NativeMemory.Free((void*)p);
                        break;
                }
            }
        }
    }
}
