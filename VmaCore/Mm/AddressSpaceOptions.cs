namespace VmaCore;

/// <summary>How an <see cref="AddressSpace"/> models its kernel: limits, layout and kernel-version behaviours.</summary>
public sealed class AddressSpaceOptions
{
    /// <summary><c>sysctl_max_map_count</c>: the most VMAs the address space may hold.</summary>
    public int MaxMapCount { get; init; } = MmConstants.DefaultMaxMapCount;

    /// <summary>The top of the area searched top-down for unmapped ranges (<c>mmap_base</c>).</summary>
    public ulong MmapBase { get; init; } = 0x7F00_0000_0000;

    /// <summary>The end of user address space (<c>TASK_SIZE</c>).</summary>
    public ulong TaskSize { get; init; } = MmConstants.TaskSize;

    /// <summary><c>mmap_min_addr</c>: the lowest address a mapping may use.</summary>
    public ulong MmapMinAddr { get; init; } = MmConstants.DefaultMmapMinAddr;

    /// <summary><c>stack_guard_gap</c> in bytes.</summary>
    public ulong StackGuardGap { get; init; } = MmConstants.DefaultStackGuardGap;

    /// <summary>
    /// Merges a faulted range with an unfaulted neighbour as Linux 6.16 and later do (commit 879bca0a2c4f,
    /// "mm/vma: fix incorrectly disallowed anonymous VMA merges", with the 6.18.y follow-up that gives a VMA merged
    /// with an mremap-copied range the source's anon_vma). False (the default) keeps v6.15, which refuses such merges
    /// unless the unfaulted side is the proposed range.
    /// </summary>
    public bool AllowMergeOfFaultedWithUnfaulted { get; init; }

    /// <summary>
    /// CONFIG_MEM_SOFT_DIRTY: new and expanded mappings get VM_SOFTDIRTY (<c>sd</c>). True by default as on
    /// distribution kernels; the reference machine of the oracle traces has it off.
    /// </summary>
    public bool SoftDirty { get; init; } = true;
}
