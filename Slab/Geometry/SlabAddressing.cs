using System.Runtime.CompilerServices;

namespace VmaEngine.Slab;

/// <summary>
/// The address arithmetic of a cache's ownership check, from its <see cref="SlabGeometry"/>: which slab of an arena
/// an address falls in, and whether it is the start of an object of that slab. Pure arithmetic on the address: it
/// reads no memory, so it may be asked about any pointer.
/// </summary>
/// <remarks>
/// The object-boundary test avoids a division (slot sizes are rarely powers of two): with
/// <c>c = ceil(2^64 / SlotSize)</c>, an offset <c>n &lt; 2^32</c> is a multiple of the slot size exactly when
/// <c>n * c mod 2^64 &lt; c</c> (Lemire, Kaser and Kurz, "Faster Remainder by Direct Computation", 2019). Offsets
/// inside a slab are below 2^21.
/// </remarks>
internal readonly unsafe struct SlabAddressing
{
    /// <summary>Clears all but an address's offset inside its slab.</summary>
    private readonly nuint _slabOffsetMask;

    /// <summary>log2 of the slab size.</summary>
    private readonly int _slabShift;

    /// <summary>Where the first object starts in its slab (its left red zone comes first in debug mode).</summary>
    private readonly nuint _firstObject;

    /// <summary>The bytes from the first object's start to the end of the last object's slot.</summary>
    private readonly nuint _objectsSpan;

    /// <summary><c>ceil(2^64 / SlotSize)</c>, for the divisibility test.</summary>
    private readonly ulong _slotReciprocal;

    /// <summary>The slot size, for messages.</summary>
    private readonly int _slotSize;

    /// <summary>Captures the arithmetic of <paramref name="geometry"/>.</summary>
    public SlabAddressing(SlabGeometry geometry)
    {
        _slabOffsetMask = geometry.SlabBytes - 1;
        _slabShift = geometry.SlabShift;
        _firstObject = (nuint)geometry.ObjectOffset;
        _objectsSpan = (nuint)geometry.ObjectsPerSlab * (nuint)geometry.SlotSize;
        _slotReciprocal = ulong.MaxValue / (ulong)geometry.SlotSize + 1;
        _slotSize = geometry.SlotSize;
    }

    /// <summary>The index, inside its naturally aligned arena, of the slab that would hold <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int SlabIndexOf(void* address) => (int)(((nuint)address & ((nuint)SlabGeometry.ArenaSize - 1)) >> _slabShift);

    /// <summary>Whether <paramref name="address"/> is the start of an object of the slab it falls in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsObjectStart(void* address)
    {
        nuint offset = ObjectsOffsetOf(address);
        return offset < _objectsSpan && (ulong)offset * _slotReciprocal < _slotReciprocal;
    }

    /// <summary>
    /// Why <paramref name="address"/> is not the start of an object of its slab (for a message), or null when it is.
    /// </summary>
    public string? WhyNotObjectStart(void* address)
    {
        nuint offset = ObjectsOffsetOf(address);
        if (offset >= _objectsSpan)
        {
            return "it lies in the slab's metadata or red zone, outside every object";
        }

        nuint into = offset % (nuint)_slotSize;
        return into == 0 ? null : $"it is {into} bytes into object #{offset / (nuint)_slotSize} of slab 0x{(nuint)address & ~_slabOffsetMask:x}";
    }

    /// <summary>The distance from the first object of the slab to <paramref name="address"/> (huge when it lies before the first object).</summary>
    private nuint ObjectsOffsetOf(void* address) => ((nuint)address & _slabOffsetMask) - _firstObject;
}
