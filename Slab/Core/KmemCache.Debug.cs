using System;

namespace VmaEngine.Slab;

/// <summary>
/// The alloc and free paths of a debug cache: one object at a time under the slab lock, with every check of
/// <see cref="SlabDebug"/> and an ownership check of each pointer given to Free (the kernel's
/// <c>alloc_debug_processing</c> and <c>free_debug_processing</c>).
/// </summary>
internal sealed unsafe partial class KmemCache
{
    /// <summary>Allocates one checked object, or null when the OS refuses memory.</summary>
    private byte* AllocDebug()
    {
        lock (_slabLock)
        {
            SlabHeader* slab = PartialSlabLocked();
            if (slab != null)
            {
                return TakeCheckedObjectLocked(slab);
            }
        }

        SlabHeader* fresh = NewSlab();
        if (fresh == null)
        {
            return null;
        }

        lock (_slabLock)
        {
            LinkNewSlabLocked(fresh);
            return TakeCheckedObjectLocked(fresh);
        }
    }

    /// <summary>Checks the first free object of <paramref name="slab"/> and its link, then hands it out.</summary>
    private byte* TakeCheckedObjectLocked(SlabHeader* slab)
    {
        byte* obj = slab->Freelist;
        SlabDebug.CheckFree(Name, obj, _geometry);
        byte* next = FreePointer.Get(obj, _freePointerOffset);
        if (next != null && !IsObjectStartOf(slab, next))
        {
            WithholdFreelistLocked(slab, obj);
            throw SlabCorruption.Create(Name, (nint)obj, SlabCorruptionKind.FreelistCorrupted,
                $"Cache '{Name}': the free pointer of free object 0x{(nint)obj:x} is 0x{(nint)next:x}, which is not an object " +
                $"of its slab 0x{(nint)slab->Base:x}. The slab's other free objects are withheld from use.");
        }

        byte* taken = TakeObjectsLocked(slab, 1, out _);
        SlabDebug.MarkAllocated(taken, _geometry);
        return taken;
    }

    /// <summary>
    /// Cuts a corrupted free list after its first object, counting the unreachable objects as in use so that
    /// nothing ever follows the bad link (the kernel marks such a slab's objects used, too).
    /// </summary>
    private void WithholdFreelistLocked(SlabHeader* slab, byte* first)
    {
        FreePointer.Set(first, _freePointerOffset, null);
        int withheld = _objectsPerSlab - slab->InUse - 1;
        slab->InUse += withheld;
        _objectsOut += withheld;
    }

    /// <summary>Checks and frees one object.</summary>
    private void FreeDebug(byte* obj)
    {
        lock (_slabLock)
        {
            CheckOwnershipLocked(obj);
            SlabDebug.CheckAllocated(Name, obj, _geometry);
            SlabDebug.MarkFree(obj, _geometry);
            ReturnObjectLocked(obj);
            DestroyIfDoneLocked();
        }
    }

    /// <summary>
    /// Throws <see cref="SlabCorruptionKind.ForeignPointer"/> unless <paramref name="obj"/> is the start of an object
    /// in a slab of this cache that has objects in use. Reads no memory outside this cache's live slabs.
    /// </summary>
    private void CheckOwnershipLocked(byte* obj)
    {
        nuint arenaBase = (nuint)obj & ~((nuint)SlabGeometry.ArenaSize - 1);
        if (!_arenaByBase.TryGetValue(arenaBase, out SlabArena? arena))
        {
            throw Foreign(obj, "it lies in none of the cache's arenas");
        }

        int index = (int)(((nuint)obj - arenaBase) >> _geometry.SlabShift);
        if (index < _geometry.HeaderTableSlabs)
        {
            throw Foreign(obj, "it lies in the cache's slab header table");
        }

        SlabHeader* slab = HeaderOf(obj);
        if (!arena.IsTaken(index) || slab->State is not (SlabState.Partial or SlabState.Full))
        {
            throw Foreign(obj, "it lies in a slab of the cache that has no object in use");
        }

        nint offset = (nint)(obj - slab->Base - _geometry.ObjectOffset);
        if (offset < 0 || offset >= (nint)_objectsPerSlab * _geometry.SlotSize)
        {
            throw Foreign(obj, "it lies in the slab's red zone or metadata, outside every object");
        }

        if (offset % _geometry.SlotSize != 0)
        {
            throw Foreign(obj, $"it is {offset % _geometry.SlotSize} bytes into object #{offset / _geometry.SlotSize} of slab 0x{(nint)slab->Base:x}");
        }
    }

    /// <summary>Whether <paramref name="obj"/> is the start of one of <paramref name="slab"/>'s objects.</summary>
    private bool IsObjectStartOf(SlabHeader* slab, byte* obj)
    {
        nint offset = (nint)(obj - slab->Base - _geometry.ObjectOffset);
        return offset >= 0 && offset < (nint)_objectsPerSlab * _geometry.SlotSize && offset % _geometry.SlotSize == 0;
    }

    private InvalidOperationException Foreign(byte* obj, string why) =>
        SlabCorruption.Create(Name, (nint)obj, SlabCorruptionKind.ForeignPointer, $"Cache '{Name}': 0x{(nint)obj:x} is not an object of this cache: {why}.");
}
