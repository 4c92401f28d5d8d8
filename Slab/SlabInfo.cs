using System.Globalization;

namespace VmaEngine.Slab;

/// <summary>A cache's figures, as one line of <c>/proc/slabinfo</c> reports them.</summary>
/// <param name="Name">The cache name.</param>
/// <param name="ObjectSize">
/// The size of one object slot in bytes, as /proc/slabinfo's objsize column reports it (the kernel's
/// <c>s-&gt;size</c>): the object, any free pointer placed after it, debug red zones and alignment padding.
/// </param>
/// <param name="ObjectsPerSlab">How many objects one slab holds.</param>
/// <param name="PagesPerSlab">How many pages one slab spans.</param>
/// <param name="ActiveObjects">Objects allocated and not freed (exact when no other thread is allocating or freeing).</param>
/// <param name="TotalObjects">Object slots in all slabs the cache holds.</param>
/// <param name="Slabs">Slabs the cache holds; a TYPESAFE_BY_RCU slab being returned stops counting at once, like the kernel's.</param>
/// <param name="CommittedBytes">
/// Committed memory the cache accounts for: its slabs (including those waiting for an RCU grace period) and its
/// off-slab metadata.
/// </param>
public readonly record struct SlabInfo(string Name, int ObjectSize, int ObjectsPerSlab, int PagesPerSlab,
    long ActiveObjects, long TotalObjects, long Slabs, long CommittedBytes)
{
    /// <summary>The two header lines of <c>/proc/slabinfo</c>, for the lines <see cref="ToSlabInfoLine"/> makes.</summary>
    public const string SlabInfoHeader =
        "slabinfo - version: 2.1\n" +
        "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>";

    /// <summary>
    /// The cache as a <c>/proc/slabinfo</c> line, in the kernel's column widths; like SLUB, the tunables are 0 and
    /// active slabs equal slabs. Example: <c>vm_area_struct      1000   1008    192   42    2 : tunables    0    0    0 : slabdata     24     24      0</c>.
    /// </summary>
    public string ToSlabInfoLine() => string.Format(CultureInfo.InvariantCulture,
        "{0,-17} {1,6} {2,6} {3,6} {4,4} {5,4} : tunables {6,4} {7,4} {8,4} : slabdata {9,6} {10,6} {11,6}",
        Name, ActiveObjects, TotalObjects, ObjectSize, ObjectsPerSlab, PagesPerSlab, 0, 0, 0, Slabs, Slabs, 0);
}
