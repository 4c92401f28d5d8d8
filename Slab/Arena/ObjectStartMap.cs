using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VmaEngine.Slab;

/// <summary>
/// The free fast path's view of one arena: one bit per granule of the arena, set exactly at the first byte of each
/// object of each slab that has objects in use. One load and a bit test answer what the full ownership check
/// answers with the slab's state and the address arithmetic of <see cref="SlabAddressing"/>.
/// </summary>
/// <remarks>
/// <para>
/// A granule is the largest power of two, at most 64 bytes, that divides both the slot size and the first object's
/// offset, so every object start lies on a granule boundary and one bit names it exactly. A 192-byte slot with
/// 64-byte alignment gives 64-byte granules: 4 KiB of bits per 2 MiB arena; an 8-byte granule, the worst case,
/// 32 KiB. Slabs are whole words of the map (a slab is at least a page, 64 granules at least).
/// </para>
/// <para>
/// The arena writes a slab's words under the slab lock whenever the slab starts or stops having objects in use
/// (<see cref="SlabStates.HasObjectsInUse"/>), the same moments its state changes, and readers read them without
/// a lock, as they read the states. For an object really in use the bit cannot change during the check; for any
/// other pointer a racing reader sees each word either before or after the change, which is an answer the pointer
/// had. A released arena's words are left as they were, all clear, so a thread that kept them sends every free
/// to the slow path.
/// </para>
/// </remarks>
internal sealed unsafe class ObjectStartMap
{
    /// <summary>log2 of the largest granule.</summary>
    public const int MaxGranuleShift = 6;

    /// <summary>The bits of one word.</summary>
    private const int WordShift = 6;

    /// <summary>The words of one slab with objects in use (the same for every slab of the cache).</summary>
    private readonly ulong[] _slabPattern;

    /// <summary>Creates the map of an arena of <paramref name="geometry"/> with no slab in use.</summary>
    public ObjectStartMap(SlabGeometry geometry)
    {
        _slabPattern = geometry.ObjectStartPattern;
        Words = CreateWords(geometry);
    }

    /// <summary>
    /// The bits, on the pinned object heap so that the free fast path (<see cref="ThreadCache.MayPush"/>) reads them
    /// through a pointer (<see cref="WordsOf"/>) while it holds a reference to the array.
    /// </summary>
    public ulong[] Words { get; }

    /// <summary>A map's words for an arena of <paramref name="geometry"/>, all clear.</summary>
    public static ulong[] CreateWords(SlabGeometry geometry) => GC.AllocateArray<ulong>(WordsPerArena(geometry), pinned: true);

    /// <summary>The first word of <paramref name="words"/>, made by <see cref="CreateWords"/> (pinned: the address never changes).</summary>
    public static ulong* WordsOf(ulong[] words) => (ulong*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(words));

    /// <summary>The mask of an offset's bits inside a granule of <paramref name="geometry"/>.</summary>
    public static nuint GranuleMaskOf(SlabGeometry geometry) => ((nuint)1 << GranuleShiftOf(geometry)) - 1;

    /// <summary>log2 of the granule of <paramref name="geometry"/>'s object starts.</summary>
    public static int GranuleShiftOf(SlabGeometry geometry) =>
        Math.Min(MaxGranuleShift, BitOperations.TrailingZeroCount(geometry.SlotSize | geometry.ObjectOffset));

    /// <summary>The words of a whole arena's map.</summary>
    public static int WordsPerArena(SlabGeometry geometry) => SlabGeometry.ArenaSize >> (GranuleShiftOf(geometry) + WordShift);

    /// <summary>The words of one slab with objects in use: a bit at each object's first byte.</summary>
    public static ulong[] SlabPatternOf(SlabGeometry geometry)
    {
        int shift = GranuleShiftOf(geometry);
        var pattern = new ulong[(int)(geometry.SlabBytes >> (shift + WordShift))];
        for (int i = 0; i < geometry.ObjectsPerSlab; i++)
        {
            int bit = (geometry.ObjectOffset + (i * geometry.SlotSize)) >> shift;
            pattern[bit >> WordShift] |= 1UL << bit;
        }

        return pattern;
    }

    /// <summary>
    /// Whether the map at <paramref name="words"/> has a bit at <paramref name="offset"/> from its arena's base, which
    /// must be below <see cref="SlabGeometry.ArenaSize"/>: an object start in a slab with objects in use.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsObjectStartInUse(ulong* words, nuint offset, int granuleShift, nuint granuleMask)
    {
        Debug.Assert(offset < SlabGeometry.ArenaSize, "the offset must lie inside the arena");
        nuint granule = offset >> granuleShift;
        return (offset & granuleMask) == 0 && ((words[granule >> WordShift] >> (int)granule) & 1) != 0;
    }

    /// <summary>Sets or clears the bits of the slab at <paramref name="slabIndex"/> (under the slab lock).</summary>
    public void Mark(int slabIndex, bool inUse)
    {
        Span<ulong> slab = Words.AsSpan(slabIndex * _slabPattern.Length, _slabPattern.Length);
        if (inUse)
        {
            _slabPattern.CopyTo(slab);
        }
        else
        {
            slab.Clear();
        }
    }
}
