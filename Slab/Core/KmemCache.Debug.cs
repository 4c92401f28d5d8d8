namespace VmaEngine.Slab;

/// <summary>
/// The alloc and free paths of a debug cache: one object at a time under the slab lock, with every check of
/// <see cref="SlabDebug"/> after the ownership check every cache makes (<see cref="CheckOwnership"/>; the kernel's
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
            ThrowIfNotOwned(obj);
            SlabDebug.CheckAllocated(Name, obj, _geometry);
            SlabDebug.MarkFree(obj, _geometry);
            ReturnObjectLocked(obj);
            DestroyIfDoneLocked();
        }
    }

    /// <summary>Whether <paramref name="obj"/> is the start of one of <paramref name="slab"/>'s objects.</summary>
    private bool IsObjectStartOf(SlabHeader* slab, byte* obj) =>
        ((nuint)obj & _slabMask) == (nuint)slab->Base && _addressing.IsObjectStart(obj);
}
