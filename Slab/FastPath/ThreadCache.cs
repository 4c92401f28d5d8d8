using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Runtime.CompilerServices;
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
/// <para>
/// Ownership check. A push must not take a pointer that is not an object of the cache in use: the free pointer
/// would be written through it and a later alloc would hand it out. <see cref="MayPush"/> accepts, without a
/// call or a lock, an object start of a slab with objects in use in the arena the owner last freed to
/// (<see cref="CheckedArenaBase"/>, whose <see cref="ObjectStartMap"/> it keeps a reference to), and that is not
/// already the head of the loaded magazine (SLUB's naive double-free check in <c>set_freepointer</c>). Anything
/// else takes the cache's slow path, which checks the pointer against the cache's arena table and either throws or
/// remembers the new arena here. The map of a released arena is never written again and shows no object, so a
/// stale <see cref="CheckedObjectStarts"/> only sends frees to the slow path.
/// </para>
/// </remarks>
internal sealed unsafe class ThreadCache
{
    /// <summary>
    /// Creates the calling thread's cache for <paramref name="cache"/>; <paramref name="noArena"/> is an
    /// <see cref="ObjectStartMap"/> of an arena with no slab in use, checked until the first slow free remembers an arena.
    /// </summary>
    public ThreadCache(KmemCache cache, SlabGeometry geometry, ulong[] noArena)
    {
        Debug.Assert(noArena.Length == ObjectStartMap.WordsPerArena(geometry) && noArena.All(word => word == 0), "the placeholder must show no object");
        Cache = cache;
        Capacity = geometry.MagazineSize;
        FreePointerOffset = geometry.FreePointerOffset;
        GranuleShift = ObjectStartMap.GranuleShiftOf(geometry);
        GranuleMask = ObjectStartMap.GranuleMaskOf(geometry);
        RememberObjectStarts(0, noArena);
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

    /// <summary>log2 of the granule of the cache's <see cref="ObjectStartMap"/>, copied here so the fast path touches one object.</summary>
    public readonly int GranuleShift;

    /// <summary>The mask of an offset's bits inside a granule of that map.</summary>
    public readonly nuint GranuleMask;

    /// <summary>The base of the arena the owner last freed an object to through the slow path (0 before the first).</summary>
    public nuint CheckedArenaBase;

    /// <summary>The first word of <see cref="CheckedObjectStarts"/> (pinned).</summary>
    private ulong* _checkedWords;

    /// <summary>The object starts of the arena at <see cref="CheckedArenaBase"/> (<see cref="SlabArena.ObjectStarts"/>), kept alive here.</summary>
    public ulong[] CheckedObjectStarts { get; private set; }

    /// <summary>
    /// Whether <paramref name="obj"/> may be pushed on the loaded magazine without further checks: the start of an
    /// object in a slab with objects in use of the remembered arena, and not the loaded magazine's head.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MayPush(byte* obj)
    {
        nuint offset = (nuint)obj - CheckedArenaBase;
        return offset < SlabGeometry.ArenaSize
            && ObjectStartMap.IsObjectStartInUse(_checkedWords, offset, GranuleShift, GranuleMask)
            && obj != Loaded;
    }

    /// <summary>Whether <paramref name="obj"/> is the head of either magazine: the object most recently freed to it.</summary>
    public bool IsMagazineHead(byte* obj) => obj == Loaded || obj == Previous;

    /// <summary>Makes <paramref name="arena"/>, which the owner just freed an object to, the one <see cref="MayPush"/> accepts.</summary>
    public void RememberArena(SlabArena arena) => RememberObjectStarts((nuint)arena.Base, arena.ObjectStarts);

    /// <summary>Makes <paramref name="words"/>, the map of the arena at <paramref name="arenaBase"/>, the one <see cref="MayPush"/> reads.</summary>
    [MemberNotNull(nameof(CheckedObjectStarts))]
    private void RememberObjectStarts(nuint arenaBase, ulong[] words)
    {
        CheckedArenaBase = arenaBase;
        CheckedObjectStarts = words;
        _checkedWords = ObjectStartMap.WordsOf(words);
    }

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
