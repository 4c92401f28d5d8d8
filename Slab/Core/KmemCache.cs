using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// The engine of a slab cache (the kernel's <c>struct kmem_cache</c>), in bytes; <see cref="SlabCache{T}"/> is its
/// typed face. Three layers, each with its own synchronisation:
/// <list type="number">
/// <item>per-thread magazines (<see cref="ThreadCache"/>): alloc and free without lock, fence or syscall;</item>
/// <item>the depot of full magazines (<see cref="MagazineDepot"/>), under its own lock, one exchange per magazine;</item>
/// <item>the slab layer (this class's <c>*Locked</c> methods), under <see cref="_slabLock"/>: partial and empty slab
/// lists, the arenas, and the accounting.</item>
/// </list>
/// Debug caches bypass the first two layers, as SLUB's debug caches bypass its per-CPU fast path, so that every
/// alloc and free is checked under the slab lock.
/// </summary>
/// <remarks>
/// <para>
/// Sources: Linux v6.15 <c>mm/slub.c</c> for the slab layer's rules (partial lists, <c>min_partial</c> empty slabs,
/// <c>discard_slab</c>, <c>kmem_cache_shrink</c>, <c>kmem_cache_destroy</c>), and Bonwick and Adams, "Magazines and
/// Vmem" (USENIX 2001), for the magazine and depot layers. The code is this project's own.
/// </para>
/// Lock order: <see cref="_slabLock"/>, then the depot's lock, then the RCU callback queue's lock. Slab memory is
/// committed and constructors run outside <see cref="_slabLock"/> (<see cref="NewSlab"/>).
/// </remarks>
internal sealed unsafe partial class KmemCache
{
    /// <summary>The layout of objects and slabs.</summary>
    private readonly SlabGeometry _geometry;

    /// <summary>Runs once per object when its slab is carved.</summary>
    private readonly SlabConstructor? _constructor;

    /// <summary>Whether this is a debug cache (no magazines; every operation checked).</summary>
    private readonly bool _debug;

    /// <summary>Whether slab memory waits for an RCU grace period before it is returned.</summary>
    private readonly bool _typesafeByRcu;

    /// <summary>Copy of <see cref="SlabGeometry.FreePointerOffset"/>.</summary>
    private readonly int _freePointerOffset;

    /// <summary>Copy of <see cref="SlabGeometry.ObjectsPerSlab"/>.</summary>
    private readonly int _objectsPerSlab;

    /// <summary>Clears the offset of an address inside its slab.</summary>
    private readonly nuint _slabMask;

    /// <summary>Copy of <see cref="SlabGeometry.OnSlabMetadata"/>.</summary>
    private readonly bool _onSlabMetadata;

    /// <summary>Copy of <see cref="SlabGeometry.HeaderOffset"/>.</summary>
    private readonly int _headerOffset;

    /// <summary>Guards the slab layer: every field below, the slab headers, the arenas, the thread-cache registry.</summary>
    private readonly Lock _slabLock = new();

    /// <summary>Slabs with free and used objects; refills take from the head, frees into a full slab add at the tail.</summary>
    private SlabList _partial;

    /// <summary>
    /// Empty slabs kept committed, newest first: at most <see cref="SlabGeometry.MaxEmptySlabs"/>, or twice as many as
    /// the slabs holding objects.
    /// </summary>
    private SlabList _empty;

    /// <summary>
    /// When a slab last emptied or a refill last took an empty slab (<see cref="Environment.TickCount64"/>): the decay
    /// waits while the cache keeps emptying and reusing slabs, so that a build after a long teardown (a fork after a
    /// large child's exit) finds them still committed.
    /// </summary>
    private long _emptySlabsChangedAt;

    /// <summary>
    /// The reap timer (the old SLAB allocator's periodic <c>cache_reap</c>): returns the depot's unused magazines
    /// and the surplus empty slabs that have decayed. Armed only while there is something to reap.
    /// </summary>
    private readonly Timer _reapTimer;

    /// <summary>
    /// 1 while <see cref="_reapTimer"/> is due to fire, else 0. Whoever finds it 0 after adding work (a magazine
    /// parked in the depot, a surplus empty slab) sets it and arms the timer; the timer clears it with a full
    /// fence before it looks at the depot and the empty slabs, so work added meanwhile is either seen by the timer
    /// or re-arms it.
    /// </summary>
    private int _reapArmed;

    /// <summary>The arenas by index (null where an arena was released); slab headers record the index.</summary>
    private readonly List<SlabArena?> _arenas = new();

    /// <summary>
    /// The arenas by base address, to tell this cache's pointers from others without a lock; replaced (never
    /// changed) under the slab lock when an arena is reserved or released.
    /// </summary>
    private volatile ArenaTable _arenaTable = ArenaTable.Empty;

    /// <summary>The address arithmetic of the ownership check.</summary>
    private readonly SlabAddressing _addressing;

    /// <summary>An arena's <see cref="ObjectStartMap"/> with no slab in use: what a new thread cache checks frees against.</summary>
    private readonly ulong[] _noArenaObjectStarts;

    /// <summary>
    /// Debug caches only (null otherwise): the bases of the arenas the cache has released and not reserved again,
    /// so that a double free of an object whose arena went back to the OS is still reported as a double free.
    /// </summary>
    private readonly HashSet<nuint>? _releasedArenaBases;

    /// <summary>Every thread's magazines of this cache, so that Info, Shrink and Dispose can reach them.</summary>
    private readonly List<ThreadCache> _threadCaches = new();

    /// <summary>Slabs the cache holds (partial, full and empty; not those waiting for a grace period).</summary>
    private long _slabs;

    /// <summary>Objects not on a slab free list: handed out or held in magazines.</summary>
    private long _objectsOut;

    /// <summary>Committed bytes: slabs (including those waiting for a grace period) and header tables.</summary>
    private long _committedBytes;

    /// <summary>Set by Dispose; then allocs throw and frees go straight to the slabs.</summary>
    private volatile bool _disposed;

    /// <summary>Whether the cache has left <see cref="SlabCacheRegistry"/> (disposed, no object, no arena).</summary>
    private bool _destroyed;

    /// <summary>Backs <see cref="FailNextOsRequests"/>; consumed atomically, since slab commits run without the slab lock.</summary>
    private int _failNextOsRequests;

    /// <summary>Creates the engine; the options are validated by <see cref="SlabGeometry.Compute"/>.</summary>
    public KmemCache(string name, int objectSize, SlabCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(options);
        _geometry = SlabGeometry.Compute(name, objectSize, options, SlabGeometry.SystemPageSize, sizeof(SlabHeader));
        Name = name;
        Flags = options.Flags;
        _constructor = options.Constructor;
        _debug = (options.Flags & SlabFlags.Debug) != 0;
        _typesafeByRcu = (options.Flags & SlabFlags.TypesafeByRcu) != 0;
        _freePointerOffset = _geometry.FreePointerOffset;
        _objectsPerSlab = _geometry.ObjectsPerSlab;
        _slabMask = ~(_geometry.SlabBytes - 1);
        _onSlabMetadata = _geometry.OnSlabMetadata;
        _headerOffset = _geometry.HeaderOffset;
        _addressing = new SlabAddressing(_geometry);
        _noArenaObjectStarts = ObjectStartMap.CreateWords(_geometry);
        _releasedArenaBases = _debug ? new HashSet<nuint>() : null;
        _depot = new MagazineDepot(DepotMagazines(_geometry));
        _reapTimer = new Timer(static state => ((KmemCache)state!).Reap(), this, Timeout.Infinite, Timeout.Infinite);
        _slabRelease = new RcuSlabRelease(this);
        _magazineReturn = new RcuMagazineReturn(this);
        Id = SlabCacheRegistry.Register(this);
    }

    /// <summary>The cache name.</summary>
    public string Name { get; }

    /// <summary>The flags the cache was created with.</summary>
    public SlabFlags Flags { get; }

    /// <summary>The cache's index in every thread's <see cref="ThreadCacheTable"/>.</summary>
    public int Id { get; }

    /// <summary>The layout of objects and slabs.</summary>
    public SlabGeometry Geometry => _geometry;

    /// <summary>
    /// Test hook: the next this many requests for OS memory (an arena reservation or a slab commit) fail as if the
    /// OS refused them, so that the out-of-memory paths can be exercised.
    /// </summary>
    internal int FailNextOsRequests
    {
        get => Volatile.Read(ref _failNextOsRequests);
        set => Volatile.Write(ref _failNextOsRequests, value);
    }

    /// <summary>Arenas the cache holds.</summary>
    public int ArenaCount => _arenaTable.Count;

    /// <summary>
    /// Allocates an object, or returns null when the OS refuses memory. Fast path: pop from the calling thread's
    /// loaded magazine. The table entry may be a retired <see cref="ThreadCache"/> of a disposed cache that had the
    /// same id: retired magazines look empty and full at once, so both fast paths fall to the slow paths, which
    /// check the owner.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* Alloc()
    {
        ThreadCache? magazines = ThreadCacheTable.Find(Id);
        if (magazines is not null)
        {
            byte* obj = magazines.Loaded;
            if (obj != null)
            {
                magazines.Loaded = FreePointer.Get(obj, magazines.FreePointerOffset);
                magazines.LoadedCount--;
                return obj;
            }
        }

        return AllocSlow();
    }

    /// <summary>
    /// Frees an object of this cache. Fast path: push on the calling thread's loaded magazine, once
    /// <see cref="ThreadCache.MayPush"/> has found the pointer to be an object of a slab in use of the arena the
    /// thread last freed to, and not the magazine's head. Everything else, null included, goes to
    /// <see cref="FreeSlow"/>, which checks the pointer in full (<see cref="CheckOwnership"/>) and throws an
    /// <see cref="ArgumentException"/> (debug caches: an <see cref="InvalidOperationException"/>) before anything
    /// changes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Free(byte* obj)
    {
        ThreadCache? magazines = ThreadCacheTable.Find(Id);
#if VMAENGINE_WITHOUT_FREE_CHECK
        // The measurement build of Bench's "--without free-check" only: the fast path as it was before the check.
        if (magazines is not null && magazines.LoadedCount < magazines.Capacity)
#else
        if (magazines is not null && magazines.LoadedCount < magazines.Capacity && magazines.MayPush(obj))
#endif
        {
            FreePointer.Set(obj, magazines.FreePointerOffset, magazines.Loaded);
            magazines.Loaded = obj;
            magazines.LoadedCount++;
            return;
        }

        FreeSlow(obj);
    }

    /// <summary>The cache's figures (exact when no other thread is allocating or freeing).</summary>
    public SlabInfo Info
    {
        get
        {
            lock (_slabLock)
            {
                long cached = (long)_depot.Count * _geometry.MagazineSize;
                foreach (ThreadCache magazines in _threadCaches)
                {
                    cached += magazines.Objects;
                }

                return new SlabInfo(Name, _geometry.SlotSize, _objectsPerSlab, _geometry.PagesPerSlab,
                    _objectsOut - cached, _slabs * _objectsPerSlab, _slabs, _committedBytes);
            }
        }
    }

    /// <summary>
    /// Returns every empty slab to the OS (after a grace period for TYPESAFE_BY_RCU caches), after moving the
    /// depot's magazines, the calling thread's magazines, the RCU callback thread's magazines and those of exited
    /// threads back to the slabs (<c>kmem_cache_shrink</c>). Magazines of other living threads stay where they are,
    /// at most two per thread.
    /// </summary>
    public void Shrink()
    {
        ThrowIfDisposed();
        ReturnCallbackThreadMagazines();
        ThreadCache? own = ThreadCacheTable.Find(Id);
        lock (_slabLock)
        {
            if (own is not null && own.Cache == this)
            {
                ReturnMagazinesLocked(own);
            }

            AdoptDeadThreadCachesLocked();
            ReturnDepotLocked();
            DiscardEmptySlabsLocked();
            ReleaseUnusedArenasLocked();
        }
    }

    /// <summary>
    /// Destroys the cache (<c>kmem_cache_destroy</c>): every free object goes back to its slab and every empty slab
    /// and arena to the OS. No other operation may run concurrently. When objects are still allocated, their slabs
    /// stay mapped and usable (they may still be freed, and their memory is then returned): <see cref="Info"/>
    /// keeps counting them as active objects, the cache stays in <see cref="SlabMetrics"/> until they are freed, and
    /// a <see cref="Trace"/> warning says how many remain (the kernel's "Slab cache still has objects" report).
    /// Never throws, as <see cref="IDisposable.Dispose"/> should not. A second call does nothing.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        WaitForDeferredFrees();
        long remaining;
        lock (_slabLock)
        {
            _disposed = true;
            foreach (ThreadCache magazines in _threadCaches)
            {
                RetireThreadCacheLocked(magazines);
            }

            _threadCaches.Clear();
            _reapTimer.Dispose();
            ReturnDepotLocked();
            DiscardEmptySlabsLocked();
            ReleaseUnusedArenasLocked();
            remaining = _objectsOut;
            DestroyIfDoneLocked();
        }

        if (remaining != 0)
        {
            Trace.TraceWarning(
                $"kmem_cache_destroy {Name}: Slab cache still has objects: {remaining} objects remaining. " +
                "Their slabs stay mapped; freeing the objects returns the memory.");
        }
    }

    /// <summary>The slab header of the slab that holds <paramref name="obj"/> (on-slab, or in the arena's header table).</summary>
    private SlabHeader* HeaderOf(byte* obj)
    {
        byte* slab = (byte*)((nuint)obj & _slabMask);
        if (_onSlabMetadata)
        {
            return (SlabHeader*)(slab + _headerOffset);
        }

        byte* arena = (byte*)((nuint)obj & ~((nuint)SlabGeometry.ArenaSize - 1));
        return (SlabHeader*)arena + ((nuint)(slab - arena) >> _geometry.SlabShift);
    }

    /// <summary>Leaves the registry once the cache is disposed and holds neither objects nor arenas.</summary>
    private void DestroyIfDoneLocked()
    {
        if (_disposed && !_destroyed && _objectsOut == 0 && _arenaTable.Count == 0)
        {
            Debug.Assert(_slabs == 0 && _committedBytes == 0, "a destroyed cache must hold no memory");
            _destroyed = true;
            SlabCacheRegistry.Unregister(this);
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(Name, $"Cache '{Name}' is disposed.");
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNullObject() => throw new ArgumentNullException("obj", "Cannot free a null object.");
}
