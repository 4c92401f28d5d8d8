namespace VmaEngine.Slab;

/// <summary>How a <see cref="SlabCache{T}"/> lays out and treats its objects.</summary>
public sealed class SlabCacheOptions
{
    /// <summary>
    /// Object alignment in bytes: 0 for natural alignment (8), or a power of two up to the page size; values
    /// below 8 mean 8.
    /// </summary>
    public int Alignment { get; init; }

    /// <summary>
    /// Byte offset inside the object where a free object keeps its 8-byte free-list link (the kernel's
    /// <c>freeptr_offset</c>, e.g. the <c>vm_freeptr</c> union over <c>vm_start</c>/<c>vm_end</c>): a word that
    /// RCU readers and the constructor's state never rely on in a free object. It must be a multiple of 8 and
    /// leave the link inside the object. <see langword="null"/> lets the cache choose: after the object for
    /// TYPESAFE_BY_RCU caches and caches with a constructor, the middle of the object otherwise. Debug caches
    /// always keep the link after the object's red zone.
    /// </summary>
    public int? FreePointerOffset { get; init; }

    /// <summary>Cache behaviour flags.</summary>
    public SlabFlags Flags { get; init; }

    /// <summary>An optional constructor run once per object when its slab is carved, not on every allocation.</summary>
    public SlabConstructor? Constructor { get; init; }
}
