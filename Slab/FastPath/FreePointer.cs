using System.Runtime.CompilerServices;

namespace VmaEngine.Slab;

/// <summary>
/// Reads and writes the free-list link a free object keeps inside its slot, at the cache's free pointer offset
/// (the kernel's <c>get_freepointer</c>/<c>set_freepointer</c>).
/// </summary>
internal static unsafe class FreePointer
{
    /// <summary>The object after <paramref name="obj"/> on its free list, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Get(byte* obj, int offset) => *(byte**)(obj + offset);

    /// <summary>Links <paramref name="obj"/> to <paramref name="next"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(byte* obj, int offset, byte* next) => *(byte**)(obj + offset) = next;
}
