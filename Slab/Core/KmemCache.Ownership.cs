using System;
using System.Diagnostics;

namespace VmaEngine.Slab;

/// <summary>
/// The ownership check every free makes, in release builds and debug caches alike: a pointer given to Free must be
/// the start of an object in a slab of this cache that has objects in use, and must not be the object most
/// recently freed to the magazine or free list it returns to (SLUB's <c>CONFIG_SLAB_FREELIST_HARDENED</c> check
/// in <c>set_freepointer</c>). A rejected pointer throws before anything changes.
/// </summary>
/// <remarks>
/// <para>
/// The check reads only memory the cache owns: the arena table (<see cref="ArenaTable"/>: is the address's
/// naturally aligned 2 MiB block one of the cache's arenas?), the arena's slab states
/// (<see cref="SlabArena.States"/>: does that slab have objects in use?), and arithmetic on the address
/// (<see cref="SlabAddressing"/>: is it an object's first byte, outside the slab's metadata?). Only then is the
/// pointer's own memory written. A foreign, interior, stack or wild pointer is therefore rejected without being
/// read, wherever it points.
/// </para>
/// <para>
/// What it cannot see. Without a debug cache's red zones, an object that is free but neither at the head of the
/// free list or magazine it returns to nor in a slab with no object in use looks like an object in use: such a
/// double free is found by a debug cache only. A check that races with another thread's release of the slab it
/// looks at may see the state either before or after; for an object really in use, the state cannot change
/// during the check. The fast path (<see cref="ThreadCache.MayPush"/>) makes the same checks against the arena
/// the thread last freed to, and sends everything else here.
/// </para>
/// </remarks>
internal sealed unsafe partial class KmemCache
{
    /// <summary>
    /// Why <paramref name="obj"/> may not be freed to this cache, as the exception to throw, or null when it is the
    /// start of an object in a slab with objects in use (then <paramref name="arena"/> is its arena). Lock-free,
    /// except for a debug cache's look-up of the arenas it released.
    /// </summary>
    private Exception? CheckOwnership(byte* obj, out SlabArena? arena)
    {
        arena = _arenaTable.Find(obj);
        int index = _addressing.SlabIndexOf(obj);
        if (arena is null)
        {
            return WasInReleasedArena(obj, index)
                ? Rejection(obj, SlabCorruptionKind.DoubleFree, "the arena that held it has been released since, with every object of it free")
                : Rejection(obj, SlabCorruptionKind.ForeignPointer, "it lies in none of the cache's arenas");
        }

        if (index < _geometry.HeaderTableSlabs)
        {
            return Rejection(obj, SlabCorruptionKind.ForeignPointer, "it lies in the cache's slab header table");
        }

        if (_addressing.WhyNotObjectStart(obj) is string misplaced)
        {
            return Rejection(obj, SlabCorruptionKind.ForeignPointer, misplaced);
        }

        SlabState state = arena.StateOf(index);
        if (SlabStates.WasEmptied(state))
        {
            return Rejection(obj, SlabCorruptionKind.DoubleFree,
                $"every object of its slab 0x{(nuint)arena.SlabBase(index):x} is free ({state})");
        }

        if (!SlabStates.HasObjectsInUse(state))
        {
            return Rejection(obj, SlabCorruptionKind.ForeignPointer, "it lies in a slab of the cache that has no object in use (never carved)");
        }

        return null;
    }

    /// <summary>Throws unless <paramref name="obj"/> passes <see cref="CheckOwnership"/>.</summary>
    private void ThrowIfNotOwned(byte* obj)
    {
        if (CheckOwnership(obj, out _) is Exception rejected)
        {
            throw rejected;
        }
    }

    /// <summary>
    /// The full check of a free to the calling thread's magazines: ownership, and not the head of either magazine.
    /// On success the thread's fast path remembers the object's arena.
    /// </summary>
    private void CheckMagazineFree(byte* obj, ThreadCache magazines)
    {
        if (CheckOwnership(obj, out SlabArena? arena) is Exception rejected)
        {
            throw rejected;
        }

        if (magazines.IsMagazineHead(obj))
        {
            throw Rejection(obj, SlabCorruptionKind.DoubleFree, "it is the object most recently freed to this thread's magazine");
        }

        magazines.RememberArena(arena!);
    }

    /// <summary>The full check of a free straight to the object's slab (after Dispose): ownership, and not the head of the slab's free list.</summary>
    private void CheckSlabFreeLocked(byte* obj)
    {
        ThrowIfNotOwned(obj);
        if (HeaderOf(obj)->Freelist == obj)
        {
            throw Rejection(obj, SlabCorruptionKind.DoubleFree, "it is the first object of its slab's free list");
        }
    }

    /// <summary>
    /// Checks a batch before any of it is freed to the calling thread's magazines: every object as
    /// <see cref="CheckMagazineFree"/> does, and no object twice in a row.
    /// </summary>
    private void CheckBulkFree(ReadOnlySpan<nint> objects, ThreadCache magazines)
    {
        byte* previous = null;
        foreach (nint address in objects)
        {
            byte* obj = (byte*)address;
            if (!magazines.MayPush(obj))
            {
                CheckMagazineFree(obj, magazines);
            }

            if (obj == previous)
            {
                throw Rejection(obj, SlabCorruptionKind.DoubleFree, "it is given twice in a row in one batch");
            }

            previous = obj;
        }
    }

    /// <summary>
    /// Debug caches only: whether <paramref name="obj"/> would be an object's start in a slab (not the header table)
    /// of an arena the cache has released.
    /// </summary>
    private bool WasInReleasedArena(byte* obj, int index)
    {
        if (_releasedArenaBases is null)
        {
            return false;
        }

        lock (_slabLock)
        {
            return _releasedArenaBases.Contains(ArenaTable.ArenaBaseOf(obj))
                && index >= _geometry.HeaderTableSlabs
                && _addressing.IsObjectStart(obj);
        }
    }

    /// <summary>
    /// The error for a pointer that may not be freed: an <see cref="ArgumentException"/>, or a debug cache's
    /// <see cref="InvalidOperationException"/>, with the facts in <see cref="Exception.Data"/> (<see cref="SlabCorruption"/>).
    /// </summary>
    private Exception Rejection(byte* obj, SlabCorruptionKind kind, string why)
    {
        Debug.Assert(kind is SlabCorruptionKind.DoubleFree or SlabCorruptionKind.ForeignPointer, "Free rejects foreign pointers and double frees");
        string message = kind == SlabCorruptionKind.DoubleFree
            ? $"Cache '{Name}': double free of object 0x{(nint)obj:x}: {why}."
            : $"Cache '{Name}': 0x{(nint)obj:x} is not an object of this cache: {why}.";
        return _debug
            ? SlabCorruption.Create(Name, (nint)obj, kind, message)
            : SlabCorruption.CreateArgument(Name, (nint)obj, kind, message, "obj");
    }
}
