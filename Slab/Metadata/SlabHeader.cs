using System.Runtime.InteropServices;

namespace VmaEngine.Slab;

/// <summary>
/// The metadata of one slab (the kernel keeps it in <c>struct slab</c>, overlaid on the slab's <c>struct page</c>;
/// a user-space allocator has no page array, so it lives either in the slab's leftover space after the last
/// object or, off-slab, in a table at the start of the slab's arena; see <see cref="SlabGeometry.OnSlabMetadata"/>).
/// </summary>
/// <remarks>
/// Every field is protected by the owning cache's slab lock. A header is valid while its slab is
/// <see cref="SlabState.Partial"/>, <see cref="SlabState.Full"/>, <see cref="SlabState.Empty"/> or
/// <see cref="SlabState.RcuPending"/>; once the slab's memory is returned, an on-slab header is gone with it. The
/// slab's state itself lives in its arena (<see cref="SlabArena.States"/>), so that it outlives the header.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SlabHeader
{
    /// <summary>The first free object of this slab, linked through the objects' free pointers; null when none.</summary>
    public byte* Freelist;

    /// <summary>The next slab in the list the slab is on (partial or empty), or null.</summary>
    public SlabHeader* Next;

    /// <summary>The previous slab in the list the slab is on, or null.</summary>
    public SlabHeader* Prev;

    /// <summary>The first byte of the slab (the slot of object 0).</summary>
    public byte* Base;

    /// <summary>Objects of this slab not on <see cref="Freelist"/>: handed out, or held in a magazine.</summary>
    public int InUse;

    /// <summary>The index of the slab's arena in its cache's arena table.</summary>
    public int Arena;

    /// <summary>The index of the slab inside its arena.</summary>
    public int Index;
}
