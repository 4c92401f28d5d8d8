namespace VmaEngine.Slab;

/// <summary>The life of a slab inside its cache.</summary>
internal enum SlabState
{
    /// <summary>The slab's memory is not in use by the cache (never carved, or returned to the OS).</summary>
    Unused,

    /// <summary>Some objects free, some in use: on the cache's partial list, where refills take objects from.</summary>
    Partial,

    /// <summary>Every object in use: on no list; the first free moves it back to partial.</summary>
    Full,

    /// <summary>No object in use: on the cache's empty list, kept committed for reuse (see <see cref="SlabGeometry.MaxEmptySlabs"/>).</summary>
    Empty,

    /// <summary>
    /// TYPESAFE_BY_RCU only: no object in use and taken off every list; its memory goes back to the OS after an RCU
    /// grace period, because readers may still read its objects until then.
    /// </summary>
    RcuPending,
}
