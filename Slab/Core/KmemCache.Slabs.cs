using System;
using System.Diagnostics;
using System.Threading;
using VmaEngine.Native;

namespace VmaEngine.Slab;

/// <summary>The slab layer: carving new slabs, moving objects between slabs and magazines, returning memory.</summary>
internal sealed unsafe partial class KmemCache
{
    /// <summary>
    /// Takes up to <paramref name="want"/> free objects from one slab as a chain, carving a new slab when no
    /// partial or empty slab is left; null (and <paramref name="count"/> 0) when the OS refuses memory. Takes from
    /// one slab only, so it never starts a new slab while an old one still has free objects.
    /// </summary>
    private byte* RefillFromSlabs(int want, out int count)
    {
        lock (_slabLock)
        {
            SlabHeader* slab = PartialSlabLocked();
            if (slab != null)
            {
                return TakeObjectsLocked(slab, want, out count);
            }
        }

        SlabHeader* fresh = NewSlab();
        if (fresh == null)
        {
            count = 0;
            return null;
        }

        lock (_slabLock)
        {
            LinkNewSlabLocked(fresh);
            return TakeObjectsLocked(fresh, want, out count);
        }
    }

    /// <summary>The first partial slab, or an empty one made partial, or null.</summary>
    private SlabHeader* PartialSlabLocked()
    {
        SlabHeader* slab = _partial.Head;
        if (slab == null && _empty.Head != null)
        {
            slab = _empty.Head;
            _empty.Remove(slab);
            _emptySlabsChangedAt = Environment.TickCount64;
            SetStateLocked(slab, SlabState.Partial);
            _partial.AddHead(slab);
        }

        return slab;
    }

    /// <summary>
    /// Detaches up to <paramref name="want"/> objects from the free list of a partial slab as a null-terminated
    /// chain; the whole list when it is short enough, without walking it.
    /// </summary>
    private byte* TakeObjectsLocked(SlabHeader* slab, int want, out int count)
    {
        Debug.Assert(StateOf(slab) == SlabState.Partial && slab->Freelist != null, "taking objects from a slab that has none free");
        int free = _objectsPerSlab - slab->InUse;
        count = Math.Min(free, want);
        byte* head = slab->Freelist;
        if (count == free)
        {
            slab->Freelist = null;
        }
        else
        {
            byte* last = head;
            for (int i = 1; i < count; i++)
            {
                last = FreePointer.Get(last, _freePointerOffset);
            }

            slab->Freelist = FreePointer.Get(last, _freePointerOffset);
            FreePointer.Set(last, _freePointerOffset, null);
        }

        slab->InUse += count;
        _objectsOut += count;
        if (slab->InUse == _objectsPerSlab)
        {
            _partial.Remove(slab);
            SetStateLocked(slab, SlabState.Full);
        }

        return head;
    }

    /// <summary>Returns every object of a null-terminated chain to its slab.</summary>
    private void ReturnChainLocked(byte* chain)
    {
        while (chain != null)
        {
            byte* next = FreePointer.Get(chain, _freePointerOffset);
            ReturnObjectLocked(chain);
            chain = next;
        }
    }

    /// <summary>Returns a chain to the slabs, taking the slab lock.</summary>
    private void ReturnChain(byte* chain)
    {
        lock (_slabLock)
        {
            ReturnChainLocked(chain);
            DestroyIfDoneLocked();
        }
    }

    /// <summary>
    /// Puts one object back on its slab's free list (<c>__slab_free</c>): a full slab becomes partial (at the tail,
    /// so refills prefer fuller slabs), a slab whose last object came back becomes empty and is kept or discarded.
    /// </summary>
    private void ReturnObjectLocked(byte* obj)
    {
        SlabHeader* slab = HeaderOf(obj);
        SlabState state = StateOf(slab);
        Debug.Assert(slab->InUse > 0 && SlabStates.HasObjectsInUse(state), "an object returned to a slab that has none in use");
        FreePointer.Set(obj, _freePointerOffset, slab->Freelist);
        slab->Freelist = obj;
        slab->InUse--;
        _objectsOut--;
        if (slab->InUse == 0)
        {
            if (state == SlabState.Partial)
            {
                _partial.Remove(slab);
            }

            RetireEmptySlabLocked(slab);
        }
        else if (state == SlabState.Full)
        {
            SetStateLocked(slab, SlabState.Partial);
            _partial.AddTail(slab);
        }
    }

    /// <summary>
    /// Puts an empty slab at the head of the empty list (refills take the most recently emptied, warmest slab;
    /// the decay discards from the cold tail), or discards it at once when the cache is disposed.
    /// </summary>
    private void RetireEmptySlabLocked(SlabHeader* slab)
    {
        if (_disposed)
        {
            DiscardSlabLocked(slab);
            return;
        }

        SetStateLocked(slab, SlabState.Empty);
        _emptySlabsChangedAt = Environment.TickCount64;
        _empty.AddHead(slab);
        TrimEmptySlabsLocked(_emptySlabsChangedAt);
    }

    /// <summary>
    /// Discards empty slabs from the cold end of the list: all beyond <see cref="EmptySlabsKeptLocked"/>, and, once no
    /// slab has emptied or been reused for <see cref="SlabGeometry.EmptySlabDecayMilliseconds"/>, up to
    /// <see cref="DecaySlabsPerCall"/> more of those beyond <see cref="SlabGeometry.MinEmptySlabs"/>. Arms the reap
    /// timer while a surplus remains, so an idle cache keeps returning its surplus at that rate.
    /// </summary>
    private void TrimEmptySlabsLocked(long now)
    {
        bool decayed = now - _emptySlabsChangedAt >= SlabGeometry.EmptySlabDecayMilliseconds;
        int decayBudget = DecaySlabsPerCall;
        while (_empty.Count > _geometry.MinEmptySlabs)
        {
            if (_empty.Count <= EmptySlabsKeptLocked())
            {
                if (!decayed || decayBudget == 0)
                {
                    break;
                }

                decayBudget--;
            }

            SlabHeader* cold = _empty.Tail;
            _empty.Remove(cold);
            DiscardSlabLocked(cold);
        }

        if (_empty.Count > _geometry.MinEmptySlabs)
        {
            ArmReapTimer();
        }
    }

    /// <summary>
    /// How many empty slabs may wait for the decay rather than go back at once: <see cref="SlabGeometry.MaxEmptySlabs"/>,
    /// or twice as many as the slabs holding objects when that is more. A workload that frees and reallocates a large
    /// share of its objects in a loop (a process that forks and exits, whose child holds two anon_vma chain links
    /// for each one of the parent's; an address space built and torn down) then reuses committed slabs instead of
    /// paying a syscall, a TLB shootdown and page faults per slab and round; beyond the fixed band, the cache holds at
    /// most three times its live slabs, and only until the decay.
    /// </summary>
    private long EmptySlabsKeptLocked() => Math.Max(_geometry.MaxEmptySlabs, 2 * (_slabs - _empty.Count));

    /// <summary>
    /// How many decayed empty slabs one trim returns: <see cref="SlabGeometry.DecayBytesPerInterval"/> worth, at least
    /// one. The decay clock cannot tell an idle cache from one that a long operation left alone for a while (a fork of
    /// a million VMAs copies its tree, from the node cache only, for longer than the decay interval before it takes a
    /// single VMA); returning the surplus gradually keeps most of it for that operation, and spreads the cost of
    /// returning it (a system call and a TLB shootdown per slab) instead of stalling the other threads in one burst.
    /// </summary>
    private int DecaySlabsPerCall => (int)Math.Max(1, SlabGeometry.DecayBytesPerInterval / (long)_geometry.SlabBytes);

    /// <summary>Discards every empty slab.</summary>
    private void DiscardEmptySlabsLocked()
    {
        while (_empty.Head != null)
        {
            SlabHeader* slab = _empty.Head;
            _empty.Remove(slab);
            DiscardSlabLocked(slab);
        }
    }

    /// <summary>
    /// Stops counting an empty slab (<c>discard_slab</c>) and returns its memory: at once, or, for a
    /// TYPESAFE_BY_RCU cache, after a grace period, because a reader may still read its objects until then.
    /// </summary>
    private void DiscardSlabLocked(SlabHeader* slab)
    {
        Debug.Assert(slab->InUse == 0 && slab->Next == null && slab->Prev == null, "discarding a slab in use or on a list");
        _slabs--;
        if (_typesafeByRcu)
        {
            SetStateLocked(slab, SlabState.RcuPending);
            Rcu.Call(_slabRelease, (nint)slab);
        }
        else
        {
            ReturnSlabMemoryLocked(slab);
        }
    }

    /// <summary>Gives a discarded slab's memory back to the OS and its index back to its arena.</summary>
    private void ReturnSlabMemoryLocked(SlabHeader* slab)
    {
        SlabArena? arena = _arenas[slab->Arena];
        Debug.Assert(arena is not null && arena.IsTaken(slab->Index), "the slab's arena does not own it");
        int index = slab->Index;
        arena.ReturnSlab(index);
        _committedBytes -= (long)_geometry.SlabBytes;
        if (arena.TakenSlabs == 0 && (_disposed || _arenaTable.Count > 1))
        {
            ReleaseArenaLocked(arena);
        }

        DestroyIfDoneLocked();
    }

    /// <summary>
    /// Takes a slab index, commits the slab and carves it (<c>allocate_slab</c>): its objects are linked in address
    /// order and the constructor runs on each. Commit and constructors run without the slab lock. Returns the
    /// slab unlinked, or null when the OS refuses memory; a throwing constructor gives the slab back first.
    /// </summary>
    private SlabHeader* NewSlab()
    {
        SlabArena arena;
        int index;
        lock (_slabLock)
        {
            if (!TryTakeSlotLocked(out arena, out index))
            {
                return null;
            }
        }

        try
        {
            CommitSlab(arena, index);
        }
        catch (OsPagesException)
        {
            lock (_slabLock)
            {
                arena.FreeSlot(index, SlabState.Unused);
            }

            return null;
        }

        byte* slabBase = arena.SlabBase(index);
        SlabHeader* slab = HeaderOf(slabBase);
        *slab = new SlabHeader { Base = slabBase, Arena = arena.Index, Index = index };
        try
        {
            slab->Freelist = Carve(slabBase);
        }
        catch
        {
            lock (_slabLock)
            {
                arena.ReturnSlab(index);
            }

            throw;
        }

        return slab;
    }

    /// <summary>Commits the slab's pages; throws <see cref="OsPagesException"/> when the OS (or <see cref="FailNextOsRequests"/>) refuses.</summary>
    private void CommitSlab(SlabArena arena, int index)
    {
        if (TakeInjectedOsFailure())
        {
            throw new OsPagesException("mprotect", (ulong)_geometry.SlabBytes, "ENOMEM (injected by FailNextOsRequests)");
        }

        arena.Commit(index);
    }

    /// <summary>Consumes one injected failure of <see cref="FailNextOsRequests"/>; false when none is pending.</summary>
    private bool TakeInjectedOsFailure()
    {
        int pending = Volatile.Read(ref _failNextOsRequests);
        while (pending > 0)
        {
            int seen = Interlocked.CompareExchange(ref _failNextOsRequests, pending - 1, pending);
            if (seen == pending)
            {
                return true;
            }

            pending = seen;
        }

        return false;
    }

    /// <summary>Sets up every object of a fresh slab and returns them as a chain in address order.</summary>
    private byte* Carve(byte* slabBase)
    {
        byte* first = slabBase + _geometry.ObjectOffset;
        byte* obj = first;
        for (int i = 0; i < _objectsPerSlab; i++)
        {
            if (_debug)
            {
                SlabDebug.MarkFree(obj, _geometry);
            }

            _constructor?.Invoke(obj);
            byte* next = i + 1 < _objectsPerSlab ? obj + _geometry.SlotSize : null;
            FreePointer.Set(obj, _freePointerOffset, next);
            obj = next;
        }

        return first;
    }

    /// <summary>Counts a carved slab and puts it on the partial list.</summary>
    private void LinkNewSlabLocked(SlabHeader* slab)
    {
        SetStateLocked(slab, SlabState.Partial);
        _partial.AddHead(slab);
        _slabs++;
        _committedBytes += (long)_geometry.SlabBytes;
    }

    /// <summary>The lowest free slab index of the first arena that has one, reserving a new arena when none has.</summary>
    private bool TryTakeSlotLocked(out SlabArena arena, out int index)
    {
        foreach (SlabArena? candidate in _arenas)
        {
            if (candidate is not null && (index = candidate.TakeSlot()) >= 0)
            {
                arena = candidate;
                return true;
            }
        }

        int arenaIndex = _arenas.IndexOf(null);
        if (arenaIndex < 0)
        {
            arenaIndex = _arenas.Count;
            _arenas.Add(null);
        }

        SlabArena? created = TakeInjectedOsFailure() ? null : SlabArena.TryCreate(_geometry, arenaIndex);
        if (created is null)
        {
            arena = null!;
            index = -1;
            return false;
        }

        _arenas[arenaIndex] = created;
        _arenaTable = _arenaTable.With(created);
        _releasedArenaBases?.Remove((nuint)created.Base);
        _committedBytes += (long)created.HeaderTableBytes;
        arena = created;
        index = created.TakeSlot();
        return true;
    }

    /// <summary>The state of <paramref name="slab"/>, kept by its arena.</summary>
    private SlabState StateOf(SlabHeader* slab) => _arenas[slab->Arena]!.StateOf(slab->Index);

    /// <summary>Moves <paramref name="slab"/> to <paramref name="state"/>, which its arena records.</summary>
    private void SetStateLocked(SlabHeader* slab, SlabState state) => _arenas[slab->Arena]!.SetState(slab->Index, state);

    /// <summary>Releases every arena that has no slab taken.</summary>
    private void ReleaseUnusedArenasLocked()
    {
        for (int i = 0; i < _arenas.Count; i++)
        {
            if (_arenas[i] is SlabArena arena && arena.TakenSlabs == 0)
            {
                ReleaseArenaLocked(arena);
            }
        }
    }

    /// <summary>Unmaps an arena with no slab taken.</summary>
    private void ReleaseArenaLocked(SlabArena arena)
    {
        _arenas[arena.Index] = null;
        _arenaTable = _arenaTable.Without(arena);
        _releasedArenaBases?.Add((nuint)arena.Base);
        _committedBytes -= (long)arena.HeaderTableBytes;
        arena.Release();
    }
}
