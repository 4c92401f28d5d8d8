using System.Diagnostics;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// One thread's free objects of one cache: two magazines, each a chain of free objects linked through their free
/// pointers (Bonwick and Adams, "Magazines and Vmem", USENIX 2001; the old SLAB allocator's per-CPU array cache).
/// </summary>
/// <remarks>
/// <para>
/// Why magazines. SLUB's per-CPU slab and mimalloc's per-page free lists tie a free object to the slab (or page)
/// it came from, so a free by another thread, or of an object of another slab, needs an atomic operation on the
/// slab. Magazines hold any object of the cache: a free by any thread is a push on that thread's own chain and
/// an alloc a pop, with no atomic, no fence and no syscall; objects migrate between threads through the cache's
/// depot of full magazines, one lock acquisition per <see cref="Capacity"/> objects. The chains run through the
/// objects' own free pointers, so a magazine costs no memory. A .NET thread, unlike a CPU, can die: the cache
/// adopts a dead thread's magazines (see <see cref="Owner"/>).
/// </para>
/// <para>
/// Protocol. Only <see cref="Owner"/> reads or writes the magazines while it is alive; the cache's slab lock
/// guards only the registration of this object in the cache. Another thread may take the magazines when the
/// owner is dead (<see cref="Thread.IsAlive"/> is false), or when the cache is disposed (no operation may run
/// concurrently with <c>Dispose</c>). Invariant: <see cref="PreviousCount"/> is 0 or <see cref="Capacity"/>.
/// </para>
/// </remarks>
internal sealed unsafe class ThreadCache
{
    /// <summary>Creates the calling thread's cache for <paramref name="cache"/>.</summary>
    public ThreadCache(KmemCache cache, int capacity, int freePointerOffset)
    {
        Cache = cache;
        Capacity = capacity;
        FreePointerOffset = freePointerOffset;
        Owner = Thread.CurrentThread;
    }

    /// <summary>The cache this belongs to; null once the cache has taken the magazines back for good.</summary>
    public KmemCache? Cache;

    /// <summary>The loaded magazine: allocs pop from it, frees push on it.</summary>
    public byte* Loaded;

    /// <summary>Objects in <see cref="Loaded"/> (<see cref="Capacity"/> with a null chain once retired).</summary>
    public int LoadedCount;

    /// <summary>The previous magazine, full or empty, swapped in when the loaded one runs out or fills up.</summary>
    public byte* Previous;

    /// <summary>Objects in <see cref="Previous"/>: 0 or <see cref="Capacity"/>.</summary>
    public int PreviousCount;

    /// <summary>Objects per magazine.</summary>
    public readonly int Capacity;

    /// <summary>The cache's free pointer offset, copied here so the fast path touches one object.</summary>
    public readonly int FreePointerOffset;

    /// <summary>The thread whose magazines these are.</summary>
    public readonly Thread Owner;

    /// <summary>Objects held in both magazines.</summary>
    public int Objects => Cache is null ? 0 : LoadedCount + PreviousCount;

    /// <summary>Exchanges the loaded and previous magazines.</summary>
    public void Swap()
    {
        byte* magazine = Loaded;
        Loaded = Previous;
        Previous = magazine;
        int count = LoadedCount;
        LoadedCount = PreviousCount;
        PreviousCount = count;
        Debug.Assert(PreviousCount == 0 || PreviousCount == Capacity, "the previous magazine must be empty or full");
    }

    /// <summary>
    /// Detaches the (empty) magazines from their cache for good: no loaded object and a full count, so that both
    /// fast paths fail and the slow paths, which compare <see cref="Cache"/>, replace this object.
    /// </summary>
    public void Retire()
    {
        Debug.Assert(Objects == 0, "retire the magazines after returning their objects");
        Cache = null;
        LoadedCount = Capacity;
    }

    /// <summary>Empties both magazines and returns their chains (either may be null).</summary>
    public (nint Loaded, nint Previous) TakeAll()
    {
        (nint, nint) chains = ((nint)Loaded, (nint)Previous);
        Loaded = Previous = null;
        LoadedCount = PreviousCount = 0;
        return chains;
    }
}
