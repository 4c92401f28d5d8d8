namespace Slab;

/// <summary>A cache's figures, as one line of <c>/proc/slabinfo</c> reports them.</summary>
/// <param name="Name">The cache name.</param>
/// <param name="ObjectSize">The object size in bytes.</param>
/// <param name="ObjectsPerSlab">How many objects one slab holds.</param>
/// <param name="PagesPerSlab">How many pages one slab spans.</param>
/// <param name="ActiveObjects">Objects allocated and not freed.</param>
/// <param name="TotalObjects">Object slots in all slabs the cache holds.</param>
/// <param name="Slabs">Slabs the cache holds.</param>
/// <param name="CommittedBytes">Committed memory the cache accounts for, metadata included.</param>
public readonly record struct SlabInfo(string Name, int ObjectSize, int ObjectsPerSlab, int PagesPerSlab,
    long ActiveObjects, long TotalObjects, long Slabs, long CommittedBytes);
