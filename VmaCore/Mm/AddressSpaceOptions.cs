using System;

namespace VmaEngine.Vma;

/// <summary>How an <see cref="AddressSpace"/> models its kernel: limits, layout and kernel-version behaviours.</summary>
/// <remarks>
/// The defaults model a stock Linux v6.15 x86-64 kernel. Behaviours of other kernels or configurations are
/// init-only switches named after the change or configuration symbol they model; <see cref="ForProfile"/> returns
/// the named combinations.
/// </remarks>
public sealed class AddressSpaceOptions
{
    /// <summary>The profile name of a stock v6.15 kernel (the defaults).</summary>
    public const string ProfileV615 = "v6.15";

    /// <summary>
    /// The profile name of the kernel the oracle's expected outputs come from: Linux 6.18 with
    /// <c>CONFIG_ANON_VMA_NAME</c> off and no zero page (<c>pvm_no_zero_page=1</c>).
    /// </summary>
    public const string ProfileOracleHost = "oracle-host";

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

    /// <summary>
    /// <c>RLIMIT_STACK</c> in bytes: a <see cref="VmFlags.GrowsDown"/> VMA never grows beyond this size
    /// (<c>acct_stack_growth</c>). The default is the usual 8 MiB.
    /// </summary>
    public ulong StackLimit { get; init; } = 8UL << 20;

    /// <summary>
    /// <c>mm->start_brk</c>: where the heap of <see cref="AddressSpace.Brk"/> starts (page aligned). The break starts
    /// there too.
    /// </summary>
    public ulong StartBrk { get; init; } = 0x5555_5600_0000;

    /// <summary>
    /// <c>CONFIG_ANON_VMA_NAME</c>: whether <see cref="AddressSpace.SetAnonName"/> (<c>PR_SET_VMA_ANON_NAME</c>) is
    /// supported. When false every call returns EINVAL and changes nothing, as on a kernel built without it.
    /// Default true.
    /// </summary>
    public bool AnonVmaNames { get; init; } = true;

    /// <summary>
    /// Whether read faults on private anonymous memory map the shared zero page (the stock behaviour, default true).
    /// False models a kernel where <c>mm_forbids_zeropage()</c> holds (for example a PVM guest booted with
    /// <c>pvm_no_zero_page=1</c>): such a read fault allocates a real page and therefore an anon_vma
    /// (<c>do_anonymous_page</c> calls <c>vmf_anon_prepare</c>), which changes later merge decisions.
    /// </summary>
    public bool ZeroPage { get; init; } = true;

    /// <summary>
    /// Linux 6.17's mremap() move of a range spanning several VMAs (commit d23cb648e365, "mm/mremap: permit mremap()
    /// move of multiple VMAs", and the series' "mm/mremap: check remap conditions earlier"): with
    /// <c>MREMAP_FIXED</c> and an unchanged length every VMA in the range moves as it is, keeping the gaps between
    /// them, and the source checks run before the destination is unmapped. False (v6.15, the default): a range that
    /// crosses the end of its VMA is EFAULT, found only after the destination was unmapped.
    /// </summary>
    public bool MremapMultipleVmas { get; init; }

    /// <summary>
    /// Whether the task has CAP_SYS_ADMIN, which MADV_HWPOISON and MADV_SOFT_OFFLINE need (EPERM without it).
    /// Default true: the oracle runs as root.
    /// </summary>
    public bool CapSysAdmin { get; init; } = true;

    /// <summary>
    /// <c>CONFIG_MEMORY_FAILURE</c>: whether MADV_HWPOISON and MADV_SOFT_OFFLINE exist. When false they are unknown
    /// advices (EINVAL), as on the oracle's kernel. Default true, as on distribution kernels.
    /// </summary>
    public bool MemoryFailure { get; init; } = true;

    /// <summary>
    /// Linux 6.18's VM_MAYBE_GUARD ("mm: introduce VM_MAYBE_GUARD and make visible in /proc/$pid/smaps"): a VMA in
    /// which MADV_GUARD_INSTALL put markers gets the flag (<c>gu</c>), which stays after the markers are removed.
    /// False (v6.15, the default): guard markers leave the VMA's flags alone. The 6.18 rule that merges ignore the
    /// flag is not modelled: a flagged VMA merges only with flagged neighbours.
    /// </summary>
    public bool MaybeGuardFlag { get; init; }

    /// <summary>
    /// The options of a named kernel profile: <see cref="ProfileV615"/> (the defaults) or
    /// <see cref="ProfileOracleHost"/> (no anon names, no zero page, no soft-dirty, no memory-failure advices, the 6.16 merge
    /// fix, 6.17's multi-VMA mremap and 6.18's VM_MAYBE_GUARD).
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a known profile.</exception>
    public static AddressSpaceOptions ForProfile(string name) => name switch
    {
        ProfileV615 => new AddressSpaceOptions(),
        ProfileOracleHost => new AddressSpaceOptions
        {
            AnonVmaNames = false,
            ZeroPage = false,
            MremapMultipleVmas = true,
            AllowMergeOfFaultedWithUnfaulted = true,
            SoftDirty = false,
            MemoryFailure = false,
            MaybeGuardFlag = true,
        },
        _ => throw new ArgumentException(
            $"unknown kernel profile '{name}'; known profiles: {ProfileV615}, {ProfileOracleHost}", nameof(name)),
    };
}
