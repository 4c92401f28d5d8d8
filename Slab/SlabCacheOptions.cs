namespace Slab;

/// <summary>Runs once on an object when it is first carved from a fresh slab (the kmem_cache constructor).</summary>
public unsafe delegate void SlabConstructor(void* obj);

/// <summary>How a <see cref="SlabCache{T}"/> lays out and treats its objects.</summary>
public sealed class SlabCacheOptions
{
    /// <summary>Object alignment in bytes, a power of two; 0 means natural alignment (8).</summary>
    public int Alignment { get; init; }

    /// <summary>
    /// Byte offset inside the object where a free object keeps its free-list link (the kernel's
    /// <c>freeptr_offset</c>); <see langword="null"/> lets the cache choose.
    /// </summary>
    public int? FreePointerOffset { get; init; }

    /// <summary>Cache behaviour flags.</summary>
    public SlabFlags Flags { get; init; }

    /// <summary>An optional constructor run once per object when its slab is carved, not on every allocation.</summary>
    public SlabConstructor? Constructor { get; init; }
}
