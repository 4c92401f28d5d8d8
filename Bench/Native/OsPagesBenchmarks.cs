using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using VmaEngine.Native;

namespace Bench.Native;

/// <summary>A 2 MiB naturally aligned chunk, as the slab takes arenas: from the OS versus from the C heap.</summary>
[MemoryDiagnoser]
public unsafe class OsPagesBenchmarks
{
    private const int ChunkSize = 2 * 1024 * 1024;

    [Benchmark(Description = "OsPages reserve+commit+release 2 MiB")]
    public void ReserveCommitRelease()
    {
        using PageRegion region = OsPages.Reserve(ChunkSize, ChunkSize);
        region.Commit(0, ChunkSize);
    }

    [Benchmark(Baseline = true, Description = "NativeMemory.AlignedAlloc+AlignedFree 2 MiB")]
    public void AlignedAllocFree()
    {
        void* p = NativeMemory.AlignedAlloc(ChunkSize, ChunkSize);
        NativeMemory.AlignedFree(p);
    }
}
