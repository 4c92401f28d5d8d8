using System.Runtime.CompilerServices;

namespace VmaEngine.Slab;

/// <summary>
/// The life of one slab index of an arena. Kept by the arena (<see cref="SlabArena.States"/>), not in the slab's
/// header, so that it stays readable after the slab's memory is returned, and so that the free path can tell
/// from memory the cache owns whether a pointer lies in a slab with objects in use.
/// </summary>
internal enum SlabState : byte
{
    /// <summary>Never carved since the arena was reserved: its memory may be inaccessible.</summary>
    Unused,

    /// <summary>Taken by a thread that is committing and carving it; on no list yet.</summary>
    Carving,

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

    /// <summary>Carved once, then discarded: its memory went back to the OS and its index is free again.</summary>
    Returned,
}

/// <summary>Questions about a <see cref="SlabState"/>.</summary>
internal static class SlabStates
{
    /// <summary>Whether a slab in <paramref name="state"/> has objects in use (partial or full): the only slabs an object may be freed to.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasObjectsInUse(SlabState state) => state is SlabState.Partial or SlabState.Full;

    /// <summary>Whether a slab index in <paramref name="state"/> is taken (owned by the cache's lists, being carved, or pending).</summary>
    public static bool IsTaken(SlabState state) => state is not (SlabState.Unused or SlabState.Returned);

    /// <summary>Whether a slab in <paramref name="state"/> was carved and has no object in use now (empty, pending or returned).</summary>
    public static bool WasEmptied(SlabState state) => state is SlabState.Empty or SlabState.RcuPending or SlabState.Returned;
}
