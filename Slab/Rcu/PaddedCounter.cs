using System.Runtime.InteropServices;

namespace VmaEngine.Slab;

/// <summary>
/// A 64-bit counter alone on its cache lines, so that a counter one thread writes often does not share a line
/// with data other threads use (false sharing), in the manner of CoreLib's <c>PaddedHeadAndTail</c>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 2 * CacheLineSize)]
internal unsafe struct PaddedCounter
{
    /// <summary>
    /// Bytes per cache line assumed for padding: 128 covers the adjacent-line prefetch of x86-64 and the 128-byte
    /// lines of some ARM64 parts.
    /// </summary>
    public const int CacheLineSize = 128;

    /// <summary>The counter.</summary>
    [FieldOffset(CacheLineSize)]
    public long Value;

    /// <summary>A zeroed counter in native memory, at an address that never moves; free it with <see cref="Free"/>.</summary>
    public static PaddedCounter* Allocate()
    {
        var counter = (PaddedCounter*)NativeMemory.AlignedAlloc((nuint)sizeof(PaddedCounter), CacheLineSize);
        *counter = default;
        return counter;
    }

    /// <summary>Frees a counter made by <see cref="Allocate"/>.</summary>
    public static void Free(PaddedCounter* counter) => NativeMemory.AlignedFree(counter);
}
