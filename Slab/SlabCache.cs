using System;
using System.Runtime.CompilerServices;

namespace VmaEngine.Slab;

/// <summary>
/// A cache of <typeparamref name="T"/> objects carved from slabs (the kernel's <c>kmem_cache</c>, modelled on
/// Linux v6.15 SLUB): SLUB's geometry, a free pointer at a chosen offset, SLAB_TYPESAFE_BY_RCU, per-thread
/// magazines for a lock-free fast path, 2 MiB arenas, a debug mode and slabinfo statistics.
/// </summary>
/// <remarks>
/// <para>
/// Objects are not zeroed: a fresh object holds zeroes and whatever the constructor wrote, except the free-pointer
/// word when that lies inside the object; a reused object holds what its last user left. Alloc and Free may be
/// called from any thread, and an object may be freed by another thread than the one that allocated it.
/// </para>
/// <para>
/// Every free is checked, in release builds too: a pointer that is not the start of an object of this cache in
/// use (null, foreign, interior, on the stack, in a slab's metadata, in a slab with no object in use) and an
/// immediate double free (the object is still the last one freed to the magazine or free list it returns to)
/// throw an <see cref="ArgumentException"/> before anything changes. The check reads only the cache's own
/// tables, never the pointer's memory, and costs a few instructions on the fast path. A debug cache
/// (<see cref="SlabFlags.Debug"/>) finds every double free.
/// </para>
/// <para>
/// Design and protocols: <see cref="SlabGeometry"/> (layout), <see cref="SlabArena"/> (memory from the OS),
/// <see cref="SlabHeader"/> (metadata), <see cref="ThreadCache"/> (fast path), <see cref="SlabDebug"/>,
/// <see cref="SlabMetrics"/>, and <see cref="Rcu"/>.
/// </para>
/// </remarks>
/// <typeparam name="T">The object type.</typeparam>
public sealed unsafe class SlabCache<T> : IDisposable where T : unmanaged
{
    /// <summary>The untyped engine.</summary>
    private readonly KmemCache _cache;

    /// <summary>Creates a cache (<c>kmem_cache_create</c>).</summary>
    /// <param name="name">The cache name, shown in statistics and error messages.</param>
    /// <param name="options">Alignment, free pointer offset, flags and constructor.</param>
    /// <exception cref="ArgumentException">An alignment that is not a power of two or exceeds the page size, a free
    /// pointer offset that is unaligned or puts the pointer outside the object, or an object too large for a slab.</exception>
    public SlabCache(string name, SlabCacheOptions options) => _cache = new KmemCache(name, sizeof(T), options);

    /// <summary>The cache name.</summary>
    public string Name => _cache.Name;

    /// <summary>The flags the cache was created with.</summary>
    public SlabFlags Flags => _cache.Flags;

    /// <summary>The size of <typeparamref name="T"/> in bytes (the kernel's <c>object_size</c>).</summary>
    public int ObjectSize => _cache.Geometry.ObjectSize;

    /// <summary>The distance between objects in a slab, as <see cref="SlabInfo.ObjectSize"/> reports it (the kernel's <c>size</c>).</summary>
    public int SlotSize => _cache.Geometry.SlotSize;

    /// <summary>The alignment of every object in bytes.</summary>
    public int Alignment => _cache.Geometry.Alignment;

    /// <summary>
    /// Where a free object keeps its free-list link, relative to the object's start; at least
    /// <see cref="ObjectSize"/> when the link lives after the object.
    /// </summary>
    public int FreePointerOffset => _cache.Geometry.FreePointerOffset;

    /// <summary>The slab order: a slab is 2^order pages.</summary>
    public int Order => _cache.Geometry.Order;

    /// <summary>Objects per slab.</summary>
    public int ObjectsPerSlab => _cache.Geometry.ObjectsPerSlab;

    /// <summary>Pages per slab.</summary>
    public int PagesPerSlab => _cache.Geometry.PagesPerSlab;

    /// <summary>Whether slab metadata lives in each slab's leftover space (true) or in a table per arena (false).</summary>
    public bool OnSlabMetadata => _cache.Geometry.OnSlabMetadata;

    /// <summary>Objects per per-thread magazine; a thread keeps at most two magazines of free objects.</summary>
    public int MagazineSize => _cache.Geometry.MagazineSize;

    /// <summary>Empty slabs kept committed for reuse (the kernel's <c>min_partial</c>).</summary>
    public int MinEmptySlabs => _cache.Geometry.MinEmptySlabs;

    /// <summary>
    /// The most empty slabs the cache holds while few slabs hold objects: beyond this many, and beyond twice as many as
    /// the slabs holding objects, an emptied slab goes back to the OS at once; those beyond <see cref="MinEmptySlabs"/>
    /// go back once no slab has emptied and none has been reused for 100 ms, or on <see cref="Shrink"/>.
    /// </summary>
    public int MaxEmptySlabs => _cache.Geometry.MaxEmptySlabs;

    /// <summary>The 2 MiB arenas (host mappings) the cache holds.</summary>
    public int ArenaCount => _cache.ArenaCount;

    /// <summary>Test hook: the next this many requests for OS memory fail as if the OS refused them.</summary>
    internal int FailNextOsRequests
    {
        get => _cache.FailNextOsRequests;
        set => _cache.FailNextOsRequests = value;
    }

    /// <summary>The cache's figures (exact when no other thread is allocating or freeing).</summary>
    public SlabInfo Info => _cache.Info;

    /// <summary>Allocates an object (<c>kmem_cache_alloc</c>).</summary>
    /// <exception cref="OutOfMemoryException">The OS refused memory.</exception>
    /// <exception cref="ObjectDisposedException">The cache is disposed.</exception>
    /// <exception cref="InvalidOperationException">Debug cache: the object's poison or red zones were damaged while it was free.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Alloc()
    {
        T* obj = (T*)_cache.Alloc();
        if (obj == null)
        {
            ThrowOutOfMemory();
        }

        return obj;
    }

    /// <summary>Allocates an object, or returns null when the OS refuses memory.</summary>
    /// <exception cref="ObjectDisposedException">The cache is disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* TryAlloc() => (T*)_cache.Alloc();

    /// <summary>
    /// Frees an object of this cache (<c>kmem_cache_free</c>), from any thread; also after <see cref="Dispose"/>,
    /// for the objects still allocated then.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="obj"/> is null.</exception>
    /// <exception cref="ArgumentException">Not a debug cache: <paramref name="obj"/> is not the start of an object
    /// of this cache in use, or is the object just freed (an immediate double free). The message names the cache,
    /// the address and the reason; <see cref="SlabCorruption.KindOf"/> tells a double free from a foreign pointer.
    /// Nothing was changed.</exception>
    /// <exception cref="InvalidOperationException">Debug cache: a double free, a pointer that is not an object of
    /// this cache, or an overwritten red zone.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Free(T* obj) => _cache.Free((byte*)obj);

    /// <summary>Frees an object after an RCU grace period of <see cref="Rcu"/> (<c>kfree_rcu</c>); cheap, callable inside a read-side section.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="obj"/> is null.</exception>
    /// <exception cref="ArgumentException">Not a debug cache: <paramref name="obj"/> is not the start of an object
    /// of this cache in use (checked now, as <see cref="Free"/> checks).</exception>
    /// <exception cref="InvalidOperationException">Debug cache: as for <see cref="Free"/>.</exception>
    public void FreeRcu(T* obj) => _cache.FreeRcu((byte*)obj);

    /// <summary>
    /// Fills <paramref name="objects"/> with new objects, all or none (<c>kmem_cache_alloc_bulk</c>); false, with
    /// nothing allocated, when the OS refuses memory. Cheaper per object than <see cref="Alloc"/>: the calling
    /// thread's magazines are looked up once.
    /// </summary>
    public bool TryAllocBulk(Span<nint> objects) => _cache.AllocBulk(objects);

    /// <summary>Fills <paramref name="objects"/> with new objects (<c>kmem_cache_alloc_bulk</c>).</summary>
    /// <exception cref="OutOfMemoryException">The OS refused memory; nothing was allocated.</exception>
    public void AllocBulk(Span<nint> objects)
    {
        if (!TryAllocBulk(objects))
        {
            ThrowOutOfMemory();
        }
    }

    /// <summary>Frees every object in <paramref name="objects"/> (<c>kmem_cache_free_bulk</c>).</summary>
    /// <exception cref="ArgumentNullException">A null among the objects; nothing was freed.</exception>
    /// <exception cref="ArgumentException">Not a debug cache: an object that <see cref="Free"/> would reject, or
    /// the same object twice in a row; nothing was freed (after <see cref="Dispose"/>, the objects before it
    /// were).</exception>
    /// <exception cref="InvalidOperationException">Debug cache: as for <see cref="Free"/>; the objects before the
    /// bad one were freed.</exception>
    public void FreeBulk(ReadOnlySpan<nint> objects) => _cache.FreeBulk(objects);

    /// <summary>
    /// Returns every empty slab to the OS (after a grace period for TYPESAFE_BY_RCU caches), after moving the
    /// shared depot's and the calling thread's free objects back to their slabs (<c>kmem_cache_shrink</c>). Free
    /// objects in other living threads' magazines stay there (at most two magazines per thread).
    /// </summary>
    public void Shrink() => _cache.Shrink();

    /// <summary>
    /// Destroys the cache (<c>kmem_cache_destroy</c>) and returns its memory. No other operation on the cache may
    /// run concurrently. If objects are still allocated, their slabs stay mapped and the objects may still be
    /// freed (which returns the memory); <see cref="Info"/>'s <see cref="SlabInfo.ActiveObjects"/> keeps counting
    /// them, and a <see cref="System.Diagnostics.Trace"/> warning says how many remain. Never throws. Disposing
    /// twice is harmless.
    /// </summary>
    public void Dispose() => _cache.Dispose();

    /// <summary>The cache's <c>/proc/slabinfo</c> line.</summary>
    public override string ToString() => Info.ToSlabInfoLine();

    private void ThrowOutOfMemory() => throw new OutOfMemoryException($"Cache '{Name}' could not get memory for an object from the OS.");
}
