using System;

namespace VmaEngine.Slab;

/// <summary>
/// The checks of a debug cache (<see cref="SlabFlags.Debug"/>), in the manner of SLUB's <c>slub_debug=FPZ</c>
/// (consistency checks, poisoning, red zoning): red zones on both sides of each object record whether it is
/// allocated (<see cref="SlabGeometry.RedActive"/>) or free (<see cref="SlabGeometry.RedInactive"/>); a free object
/// is filled with <see cref="SlabGeometry.PoisonFree"/> ending in <see cref="SlabGeometry.PoisonEnd"/> unless the
/// cache is TYPESAFE_BY_RCU or has a constructor (then its contents must survive). Every check runs before the
/// cache changes anything, and throws an <see cref="InvalidOperationException"/> with a precise message (see <see cref="SlabCorruption"/>).
/// </summary>
/// <remarks>Source of the scheme: Linux v6.15 <c>mm/slub.c</c> (<c>init_object</c>, <c>check_object</c>); the code is this project's own.</remarks>
internal static unsafe class SlabDebug
{
    /// <summary>Marks a free object allocated (both red zones active).</summary>
    public static void MarkAllocated(byte* obj, SlabGeometry geometry) => FillRedZones(obj, geometry, SlabGeometry.RedActive);

    /// <summary>Marks an object free: red zones inactive, object poisoned when the cache poisons.</summary>
    public static void MarkFree(byte* obj, SlabGeometry geometry)
    {
        FillRedZones(obj, geometry, SlabGeometry.RedInactive);
        if (geometry.Poison)
        {
            WritePoison(obj, geometry.ObjectSize);
        }
    }

    /// <summary>
    /// Checks an object about to be freed: both red zones must say "allocated". Throws
    /// <see cref="SlabCorruptionKind.DoubleFree"/> when they say "free", <see cref="SlabCorruptionKind.RedZoneOverwritten"/>
    /// when a byte differs.
    /// </summary>
    public static void CheckAllocated(string cache, byte* obj, SlabGeometry geometry)
    {
        ReadOnlySpan<byte> left = LeftRedZone(obj, geometry);
        ReadOnlySpan<byte> right = RightRedZone(obj, geometry);
        if (!left.ContainsAnyExcept(SlabGeometry.RedInactive) && !right.ContainsAnyExcept(SlabGeometry.RedInactive))
        {
            throw SlabCorruption.Create(cache, (nint)obj, SlabCorruptionKind.DoubleFree,
                $"Cache '{cache}': double free of object 0x{(nint)obj:x}: the object is already free.");
        }

        ThrowIfRedZoneDiffers(cache, obj, geometry, SlabGeometry.RedActive);
    }

    /// <summary>
    /// Checks a free object about to be handed out: red zones must say "free" and the poison must be intact. On a
    /// poison mismatch the poison is restored (the object stays free and consistent) and
    /// <see cref="SlabCorruptionKind.UseAfterFreeWrite"/> is thrown.
    /// </summary>
    public static void CheckFree(string cache, byte* obj, SlabGeometry geometry)
    {
        ThrowIfRedZoneDiffers(cache, obj, geometry, SlabGeometry.RedInactive);
        if (!geometry.Poison)
        {
            return;
        }

        var body = new Span<byte>(obj, geometry.ObjectSize - 1);
        int bad = body.IndexOfAnyExcept(SlabGeometry.PoisonFree);
        byte expected = SlabGeometry.PoisonFree;
        if (bad < 0 && obj[geometry.ObjectSize - 1] != SlabGeometry.PoisonEnd)
        {
            bad = geometry.ObjectSize - 1;
            expected = SlabGeometry.PoisonEnd;
        }

        if (bad >= 0)
        {
            byte found = obj[bad];
            WritePoison(obj, geometry.ObjectSize);
            throw SlabCorruption.Create(cache, (nint)obj, SlabCorruptionKind.UseAfterFreeWrite,
                $"Cache '{cache}': free object 0x{(nint)obj:x} was written after it was freed (use after free): " +
                $"byte {bad} is 0x{found:x2}, expected poison 0x{expected:x2}. The poison has been restored.");
        }
    }

    private static void ThrowIfRedZoneDiffers(string cache, byte* obj, SlabGeometry geometry, byte expected)
    {
        ReadOnlySpan<byte> left = LeftRedZone(obj, geometry);
        int bad = left.IndexOfAnyExcept(expected);
        if (bad >= 0)
        {
            int offset = bad - left.Length;
            throw RedZoneException(cache, obj, "left", offset, obj[offset], expected, "before the start of the object (an underflow)");
        }

        ReadOnlySpan<byte> right = RightRedZone(obj, geometry);
        bad = right.IndexOfAnyExcept(expected);
        if (bad >= 0)
        {
            int offset = geometry.RightRedZoneOffset + bad;
            throw RedZoneException(cache, obj, "right", offset, obj[offset], expected, "past the end of the object (an overflow)");
        }
    }

    private static InvalidOperationException RedZoneException(string cache, byte* obj, string side, int offset, byte found, byte expected, string where) =>
        SlabCorruption.Create(cache, (nint)obj, SlabCorruptionKind.RedZoneOverwritten,
            $"Cache '{cache}': the {side} red zone of object 0x{(nint)obj:x} is overwritten at object offset {offset} " +
            $"(0x{found:x2}, expected 0x{expected:x2}): something wrote {where}.");

    private static void FillRedZones(byte* obj, SlabGeometry geometry, byte value)
    {
        new Span<byte>(obj - geometry.ObjectOffset, geometry.ObjectOffset).Fill(value);
        new Span<byte>(obj + geometry.RightRedZoneOffset, geometry.FreePointerOffset - geometry.RightRedZoneOffset).Fill(value);
    }

    private static void WritePoison(byte* obj, int size)
    {
        new Span<byte>(obj, size - 1).Fill(SlabGeometry.PoisonFree);
        obj[size - 1] = SlabGeometry.PoisonEnd;
    }

    private static ReadOnlySpan<byte> LeftRedZone(byte* obj, SlabGeometry geometry) =>
        new(obj - geometry.ObjectOffset, geometry.ObjectOffset);

    private static ReadOnlySpan<byte> RightRedZone(byte* obj, SlabGeometry geometry) =>
        new(obj + geometry.RightRedZoneOffset, geometry.FreePointerOffset - geometry.RightRedZoneOffset);
}
