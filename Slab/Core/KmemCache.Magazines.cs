using System;
using System.Diagnostics;

namespace Slab;

/// <summary>
/// The slow paths of the magazine layer (Bonwick and Adams' algorithm): when the loaded magazine runs out or
/// fills up, swap with the previous one, then exchange with the depot, then fall back to the slabs.
/// </summary>
internal sealed unsafe partial class KmemCache
{
    /// <summary>
    /// Full magazines the depot holds: 8, the old SLAB allocator's shared-array factor, or two per processor on
    /// larger machines so that every thread can park a magazine.
    /// </summary>
    private static int DepotMagazines => Math.Max(8, 2 * Environment.ProcessorCount);

    /// <summary>The depot of full magazines.</summary>
    private readonly MagazineDepot _depot;

    /// <summary>Alloc when the loaded magazine is empty, the cache is a debug cache, or the thread has no magazines yet.</summary>
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

    /// <summary>Free when the loaded magazine is full, the cache is a debug or disposed cache, or the thread has no magazines yet.</summary>
    private void FreeSlow(byte* obj)
    {
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
    }

    /// <summary>A free after Dispose: straight back to the slab, whose memory goes back when it empties.</summary>
    private void FreeSlowDisposed(byte* obj)
    {
        lock (_slabLock)
        {
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

        magazines = new ThreadCache(this, _geometry.MagazineSize, _freePointerOffset);
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
        foreach (nint magazine in _depot.TakeAll())
        {
            ReturnChainLocked((byte*)magazine);
        }

        Debug.Assert(_depot.Count == 0, "the depot must be empty after draining");
    }
}
