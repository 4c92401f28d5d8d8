using System;

namespace VmaEngine.Slab;

/// <summary>Behaviour switches of a <see cref="SlabCache{T}"/> (the kernel's SLAB_* cache flags).</summary>
[Flags]
public enum SlabFlags
{
    /// <summary>An ordinary cache.</summary>
    None = 0,

    /// <summary>
    /// SLAB_TYPESAFE_BY_RCU: a freed object may be reused at once by the same cache, but its slab's memory is
    /// not returned or handed to another cache until an RCU grace period has passed, so an RCU reader holding a
    /// stale pointer always reads an object of the same type.
    /// </summary>
    TypesafeByRcu = 1,

    /// <summary>
    /// Poisoning, red zones and the detection of every double free (SLAB_DEBUG), on top of the ownership check every
    /// cache makes on Free; errors are <see cref="System.InvalidOperationException"/>s (see <see cref="SlabCorruption"/>).
    /// </summary>
    Debug = 2,
}
