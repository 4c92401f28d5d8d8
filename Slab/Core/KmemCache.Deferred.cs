using System.Threading;

namespace VmaEngine.Slab;

/// <summary>
/// Everything a cache defers to an RCU grace period: <see cref="FreeRcu"/> (<c>kfree_rcu</c>), and, for
/// TYPESAFE_BY_RCU caches, the return of a discarded slab's memory.
/// </summary>
/// <remarks>
/// Both use <see cref="Rcu.Call(IRcuCallback, nint)"/> with a callback object created once per cache, so that
/// deferring allocates nothing; the callbacks run in batches on the RCU callback thread.
/// </remarks>
internal sealed unsafe partial class KmemCache : IRcuCallback
{
    /// <summary>Returns the memory of discarded TYPESAFE_BY_RCU slabs after their grace period.</summary>
    private readonly RcuSlabRelease _slabRelease;

    /// <summary>Makes the RCU callback thread return its magazines of this cache.</summary>
    private readonly RcuMagazineReturn _magazineReturn;

    /// <summary>Objects passed to <see cref="FreeRcu"/> whose callback has not run yet.</summary>
    private long _deferredFrees;

    /// <summary>
    /// Frees <paramref name="obj"/> after an RCU grace period, so that readers inside a read-side section that
    /// found it can keep using it (<c>kfree_rcu</c>). The pointer is checked now, on the caller's thread
    /// (<see cref="CheckOwnership"/>, and a debug cache's red zones), so that a bad one is reported to the caller.
    /// </summary>
    public void FreeRcu(byte* obj)
    {
        if (obj == null)
        {
            ThrowNullObject();
        }

        if (_debug)
        {
            lock (_slabLock)
            {
                ThrowIfNotOwned(obj);
                SlabDebug.CheckAllocated(Name, obj, _geometry);
            }
        }
        else
        {
            ThrowIfNotOwned(obj);
        }

        Interlocked.Increment(ref _deferredFrees);
        Rcu.Call(this, (nint)obj);
    }

    /// <summary>The deferred free of <see cref="FreeRcu"/>, on the RCU callback thread.</summary>
    void IRcuCallback.Invoke(nint argument)
    {
        try
        {
            Free((byte*)argument);
        }
        finally
        {
            Interlocked.Decrement(ref _deferredFrees);
        }
    }

    /// <summary>Waits for this cache's pending <see cref="FreeRcu"/> callbacks (before Dispose drains the cache).</summary>
    private void WaitForDeferredFrees()
    {
        if (Interlocked.Read(ref _deferredFrees) != 0)
        {
            Rcu.Barrier();
        }
    }

    /// <summary>
    /// Has the RCU callback thread return its magazines of this cache to the slabs, and waits for it, when it holds
    /// objects: it frees every <see cref="FreeRcu"/> object (and the objects of other deferred frees) into
    /// magazines that only it may touch, and would otherwise keep up to two magazines of objects scattered over as
    /// many slabs, which no shrink could return. Skipped where the caller may not wait (inside a read-side section
    /// or a callback).
    /// </summary>
    private void ReturnCallbackThreadMagazines()
    {
        if (!Rcu.MayWaitForCallbacks)
        {
            return;
        }

        bool held;
        lock (_slabLock)
        {
            held = _threadCaches.Exists(static magazines => magazines.Objects != 0 && Rcu.IsCallbackThread(magazines.Owner));
        }

        if (held)
        {
            Rcu.Call(_magazineReturn, 0);
            Rcu.Barrier();
        }
    }

    /// <summary>On the RCU callback thread: returns its magazines of this cache to the slabs.</summary>
    private void ReturnOwnMagazines()
    {
        ThreadCache? own = ThreadCacheTable.Find(Id);
        lock (_slabLock)
        {
            if (own is not null && own.Cache == this)
            {
                ReturnMagazinesLocked(own);
            }
        }
    }

    /// <summary>Returns a slab's memory after the grace period that followed its discard.</summary>
    private void ReleaseAfterGracePeriod(SlabHeader* slab)
    {
        lock (_slabLock)
        {
            ReturnSlabMemoryLocked(slab);
        }
    }

    /// <summary>The callback object that returns discarded slabs' memory; the argument is the slab header.</summary>
    private sealed class RcuSlabRelease(KmemCache cache) : IRcuCallback
    {
        /// <inheritdoc/>
        public void Invoke(nint argument) => cache.ReleaseAfterGracePeriod((SlabHeader*)argument);
    }

    /// <summary>The callback of <see cref="ReturnCallbackThreadMagazines"/>.</summary>
    private sealed class RcuMagazineReturn(KmemCache cache) : IRcuCallback
    {
        /// <inheritdoc/>
        public void Invoke(nint argument) => cache.ReturnOwnMagazines();
    }
}
