using System.Runtime.InteropServices;

namespace Slab;

/// <summary>
/// A 64-bit counter alone on its cache lines, so that a counter one thread writes often does not share a line
/// with data other threads use (false sharing), in the manner of CoreLib's <c>PaddedHeadAndTail</c>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 2 * CacheLineSize)]
internal struct PaddedCounter
{
    /// <summary>
    /// Bytes per cache line assumed for padding: 128 covers the adjacent-line prefetch of x86-64 and the 128-byte
    /// lines of some ARM64 parts.
    /// </summary>
    public const int CacheLineSize = 128;

    /// <summary>The counter.</summary>
    [FieldOffset(CacheLineSize)]
    public long Value;
}
