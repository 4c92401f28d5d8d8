using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// The slow paths of the magazine layer (Bonwick and Adams' algorithm): when the loaded magazine runs out or
/// fills up, swap with the previous one, then exchange with the depot, then fall back to the slabs.
/// </summary>
internal sealed unsafe partial class KmemCache
{
    /// <summary>
    /// Full magazines the depot holds: as many as make up <see cref="SlabGeometry.MaxDecayingBytes"/> of free
    /// objects (the memory the cache may also keep in decaying empty slabs), between 8 (the old SLAB allocator's
    /// shared-array factor) and 32, and at least two per processor so that every thread can park a magazine.
    /// </summary>
    /// <remarks>
    /// Why a large depot rather than larger magazines or a cheaper return to the slabs. A burst of frees that
    /// overflows the depot sends each surplus object back to its slab under the slab lock, and the next burst of
    /// allocs takes them back one slab at a time: with 8 magazines, 1000 single allocs then 1000 single frees of
    /// 192-byte objects sent 400 of the 1000 objects through the slabs, and a depot of 32 made the burst 15%
    /// (single calls) to 27% (bulk calls) cheaper per object in a Stopwatch harness. Larger magazines would cost
    /// the same memory in every thread, idle or not; a depot costs it once per cache, and its working-set trim
    /// (<see cref="MagazineDepot.TakeUnused"/>, run by <see cref="Reap"/>) hands idle magazines back to the slabs
    /// within two reap intervals, so an idle cache's memory still goes back to the OS.
    /// </remarks>
    private static int DepotMagazines(SlabGeometry geometry)
    {
        long magazineBytes = (long)geometry.MagazineSize * geometry.SlotSize;
        int byBytes = (int)Math.Clamp(SlabGeometry.MaxDecayingBytes / magazineBytes, MinDepotMagazines, MaxDepotMagazines);
        return Math.Max(byBytes, 2 * Environment.ProcessorCount);
    }

    /// <summary>The fewest full magazines a depot holds (the old SLAB allocator's shared-array factor).</summary>
    private const int MinDepotMagazines = 8;

    /// <summary>The most full magazines a depot holds unless the processors need more.</summary>
    private const int MaxDepotMagazines = 32;

    /// <summary>The depot of full magazines.</summary>
    private readonly MagazineDepot _depot;

    /// <summary>
    /// Alloc when the loaded magazine is empty, the cache is a debug cache, or the thread has no magazines yet.
    /// Never inlined: profile-guided JIT otherwise inlines it, with the depot's lock, into a caller's loop of
    /// <see cref="Alloc"/> calls, whose variables then live on the stack; that tripled the cost of 1000 single
    /// allocs and frees (14.7 against 6 ns per object in a Stopwatch harness).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* AllocSlow()
    {
        ThrowIfDisposed();
        if (_debug)
        {
            return AllocDebug();
        }

        ThreadCache magazines = CurrentThreadCache();
        if (magazines.LoadedCount == 0 && !Reload(magazines))
        {
            return null;
        }

        byte* obj = magazines.Loaded;
        magazines.Loaded = FreePointer.Get(obj, _freePointerOffset);
        magazines.LoadedCount--;
        return obj;
    }

    /// <summary>
    /// Fills the empty loaded magazine: swap in a full previous magazine, or take a full one from the depot, or
    /// build one from the slabs. False when the OS refuses memory.
    /// </summary>
    private bool Reload(ThreadCache magazines)
    {
        if (magazines.PreviousCount != 0)
        {
            magazines.Swap();
            return true;
        }

        byte* full = _depot.TryPop();
        int count = magazines.Capacity;
        if (full == null)
        {
            full = RefillFromSlabs(magazines.Capacity, out count);
            if (full == null)
            {
                return false;
            }
        }

        magazines.Loaded = full;
        magazines.LoadedCount = count;
        return true;
    }

    /// <summary>
    /// Free when the loaded magazine is full, the cache is a debug or disposed cache, the thread has no magazines
    /// yet, or <see cref="ThreadCache.MayPush"/> could not accept the pointer at a glance: the pointer is checked in
    /// full first. Never inlined, for the reason given on <see cref="AllocSlow"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FreeSlow(byte* obj)
    {
        if (obj == null)
        {
            ThrowNullObject();
        }

        if (_debug)
        {
            FreeDebug(obj);
            return;
        }

        if (_disposed)
        {
            FreeSlowDisposed(obj);
            return;
        }

        ThreadCache magazines = CurrentThreadCache();
        CheckMagazineFree(obj, magazines);
        if (magazines.LoadedCount == magazines.Capacity)
        {
            MakeRoom(magazines);
        }

        FreePointer.Set(obj, _freePointerOffset, magazines.Loaded);
        magazines.Loaded = obj;
        magazines.LoadedCount++;
    }

    /// <summary>
    /// Empties the full loaded magazine: swap with an empty previous magazine, or park the full previous one in the
    /// depot (or, when the depot is full, return its objects to the slabs) and make the loaded one previous.
    /// </summary>
    private void MakeRoom(ThreadCache magazines)
    {
        if (magazines.PreviousCount == 0)
        {
            magazines.Swap();
            return;
        }

        byte* full = magazines.Previous;
        magazines.Previous = magazines.Loaded;
        magazines.PreviousCount = magazines.LoadedCount;
        magazines.Loaded = null;
        magazines.LoadedCount = 0;
        if (!_depot.TryPush(full))
        {
            ReturnChain(full);
        }
        else if (Volatile.Read(ref _reapArmed) == 0)
        {
            ArmReapTimer();
        }
    }

    /// <summary>Arms the reap timer unless it is already due (see <see cref="_reapArmed"/>).</summary>
    private void ArmReapTimer()
    {
        if (Interlocked.Exchange(ref _reapArmed, 1) == 0)
        {
            _reapTimer.Change(SlabGeometry.EmptySlabDecayMilliseconds, Timeout.Infinite);
        }
    }

    /// <summary>
    /// The reap timer: returns the depot's magazines that went unused for a whole interval to the slabs, then the
    /// surplus empty slabs that have decayed, and re-arms itself while the depot still holds magazines.
    /// </summary>
    private void Reap()
    {
        lock (_slabLock)
        {
            Interlocked.Exchange(ref _reapArmed, 0);
            if (_disposed)
            {
                return;
            }

            ReturnDepotMagazinesLocked(_depot.TakeUnused());

            TrimEmptySlabsLocked(Environment.TickCount64);
            if (_depot.Count != 0)
            {
                ArmReapTimer();
            }
        }
    }

    /// <summary>
    /// A free after Dispose: checked (<see cref="CheckSlabFreeLocked"/>), then straight back to the slab, whose memory
    /// goes back when it empties.
    /// </summary>
    private void FreeSlowDisposed(byte* obj)
    {
        lock (_slabLock)
        {
            CheckSlabFreeLocked(obj);
            ReturnObjectLocked(obj);
            DestroyIfDoneLocked();
        }
    }

    /// <summary>The calling thread's magazines of this cache, created and registered on first use.</summary>
    private ThreadCache CurrentThreadCache()
    {
        ThreadCache? magazines = ThreadCacheTable.Find(Id);
        if (magazines is not null && magazines.Cache == this)
        {
            return magazines;
        }

        magazines = new ThreadCache(this, _geometry, _noArenaObjectStarts);
        lock (_slabLock)
        {
            AdoptDeadThreadCachesLocked();
            _threadCaches.Add(magazines);
        }

        ThreadCacheTable.Store(Id, magazines);
        return magazines;
    }

    /// <summary>Returns the magazines of threads that have exited to the slabs and forgets those threads.</summary>
    private void AdoptDeadThreadCachesLocked()
    {
        for (int i = _threadCaches.Count - 1; i >= 0; i--)
        {
            ThreadCache magazines = _threadCaches[i];
            if (!magazines.Owner.IsAlive)
            {
                RetireThreadCacheLocked(magazines);
                _threadCaches.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Returns the magazines to the slabs and retires the thread cache for good (the owner is dead, or the cache is
    /// being disposed): the slow paths see it is no longer this cache's.
    /// </summary>
    private void RetireThreadCacheLocked(ThreadCache magazines)
    {
        ReturnMagazinesLocked(magazines);
        magazines.Retire();
    }

    /// <summary>Returns both magazines of <paramref name="magazines"/> to the slabs. The owner must be the caller, dead, or quiescent.</summary>
    private void ReturnMagazinesLocked(ThreadCache magazines)
    {
        (nint loaded, nint previous) = magazines.TakeAll();
        ReturnChainLocked((byte*)loaded);
        ReturnChainLocked((byte*)previous);
    }

    /// <summary>Returns every magazine of the depot to the slabs.</summary>
    private void ReturnDepotLocked()
    {
        ReturnDepotMagazinesLocked(_depot.TakeAll());
        Debug.Assert(_depot.Count == 0, "the depot must be empty after draining");
    }

    /// <summary>Returns the objects of full magazines taken from the depot to their slabs.</summary>
    private void ReturnDepotMagazinesLocked(nint[] magazines)
    {
        foreach (nint magazine in magazines)
        {
            ReturnChainLocked((byte*)magazine);
        }
    }
}
