namespace VmaEngine.Vma;

/// <summary>Constants of the modelled x86-64 machine.</summary>
public static class MmConstants
{
    /// <summary>PAGE_SHIFT.</summary>
    public const int PageShift = 12;

    /// <summary>PAGE_SIZE in bytes.</summary>
    public const ulong PageSize = 1UL << PageShift;

    /// <summary>Mask that clears the offset inside a page (PAGE_MASK).</summary>
    public const ulong PageMask = ~(PageSize - 1);

    /// <summary>TASK_SIZE of a 4-level x86-64 process: the end of user address space.</summary>
    public const ulong TaskSize = 0x7FFF_FFFF_F000;

    /// <summary>The default <c>sysctl_max_map_count</c>.</summary>
    public const int DefaultMaxMapCount = 65530;

    /// <summary>The default <c>stack_guard_gap</c>: 256 pages.</summary>
    public const ulong DefaultStackGuardGap = 256 * PageSize;

    /// <summary>The default <c>mmap_min_addr</c>.</summary>
    public const ulong DefaultMmapMinAddr = 0x10000;
}
