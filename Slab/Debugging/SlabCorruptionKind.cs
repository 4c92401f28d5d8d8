namespace VmaEngine.Slab;

/// <summary>What a cache found wrong (see <see cref="SlabCorruption"/> and <see cref="SlabFlags.Debug"/>).</summary>
public enum SlabCorruptionKind
{
    /// <summary>
    /// An object was freed that is already free. A debug cache finds every one; any cache finds those of an object
    /// still at the head of the magazine or free list it returns to, and those into a slab with no object in use.
    /// </summary>
    DoubleFree,

    /// <summary>A pointer given to <c>Free</c> is not the start of an object of this cache.</summary>
    ForeignPointer,

    /// <summary>A free object was written to: its poison changed between free and the next allocation.</summary>
    UseAfterFreeWrite,

    /// <summary>Bytes just before or after an object were written: a red zone changed.</summary>
    RedZoneOverwritten,

    /// <summary>The free-list link of a free object points outside its slab's objects.</summary>
    FreelistCorrupted,
}
