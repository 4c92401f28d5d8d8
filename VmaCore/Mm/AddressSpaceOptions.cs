using System;
using System.Diagnostics.CodeAnalysis;

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

    /// <summary>
    /// <c>sysctl_max_map_count</c>: the most VMAs the address space may hold. Allowed: 1 to
    /// <see cref="MaxMapCountLimit"/>.
    /// </summary>
    public int MaxMapCount { get; init; } = MmConstants.DefaultMaxMapCount;

    /// <summary>
    /// The top of the area searched top-down for unmapped ranges (<c>mmap_base</c>). Allowed: page aligned, above
    /// <see cref="MmapMinAddr"/> and at most <see cref="TaskSize"/>.
    /// </summary>
    public ulong MmapBase { get; init; } = 0x7F00_0000_0000;

    /// <summary>
    /// The end of user address space (<c>TASK_SIZE</c>). Allowed: page aligned, above <see cref="MmapMinAddr"/> and at
    /// most <see cref="TaskSizeLimit"/> (the x86-64 5-level paging <c>TASK_SIZE_MAX</c>).
    /// </summary>
    public ulong TaskSize { get; init; } = MmConstants.TaskSize;

    /// <summary>
    /// <c>mmap_min_addr</c>: the lowest address a mapping may use. Allowed: page aligned (the kernel rounds the sysctl
    /// up to a page) and below <see cref="TaskSize"/>; 0 is allowed.
    /// </summary>
    public ulong MmapMinAddr { get; init; } = MmConstants.DefaultMmapMinAddr;

    /// <summary>
    /// <c>stack_guard_gap</c> in bytes (the kernel takes it in pages). Allowed: page aligned and at most
    /// <see cref="TaskSize"/>.
    /// </summary>
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
    /// (<c>acct_stack_growth</c>). The default is the usual 8 MiB. Every value is allowed, as for the rlimit:
    /// <see cref="ulong.MaxValue"/> is <c>RLIM_INFINITY</c>, and a limit below a page lets no stack grow.
    /// </summary>
    public ulong StackLimit { get; init; } = 8UL << 20;

    /// <summary>
    /// <c>mm->start_brk</c>: where the heap of <see cref="AddressSpace.Brk"/> starts. The break starts there too.
    /// Allowed: page aligned, at least <see cref="MmapMinAddr"/> and below <see cref="TaskSize"/>.
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
    /// Linux 6.18's MREMAP_DONTUNMAP accounting fix ("mm/mremap: correctly account old mapping after MREMAP_DONTUNMAP
    /// remap", which undid a change of v6.15's commit b714ccb02a76, "mm/mremap: complete refactor of move_vma()"): the
    /// old range that a MREMAP_DONTUNMAP move leaves behind keeps VM_ACCOUNT (<c>ac</c>), as a fresh mapping of it
    /// would have. False (v6.15, the default): <c>dontunmap_complete</c> clears VM_ACCOUNT on the old VMA together
    /// with its lock bits, so it no longer merges with accounted neighbours.
    /// </summary>
    public bool DontUnmapKeepsAccount { get; init; }

    /// <summary>
    /// Linux 6.18.y's "mm: prevent droppable mappings from being locked" (commit d239462787b0,
    /// <c>vma_supports_mlock</c>, a stable fix of the MAP_DROPPABLE commit 9651fcedf7b9): a MAP_DROPPABLE mapping made under <c>mlockall(MCL_FUTURE)</c> drops
    /// the VM_LOCKED and VM_LOCKONFAULT it got from <c>def_flags</c> and is not counted in <c>locked_vm</c>, as
    /// <c>mlock</c> and <c>mlockall(MCL_CURRENT)</c> already left droppable VMAs alone. False (v6.15, the default):
    /// <c>__mmap_complete</c> drops them only from VM_SPECIAL and hugetlb mappings, so the droppable VMA stays
    /// locked (<c>lo</c>) and counted.
    /// </summary>
    public bool DroppableNeverLocked { get; init; }

    /// <summary>
    /// Whether x86-64 has a hugetlb page size of 1 GiB (<c>MAP_HUGE_1GB</c>): the kernel registers that hstate only
    /// when the CPU has <c>X86_FEATURE_GBPAGES</c> (<c>pdpe1gb</c>). Default true, as on most hardware; false gives
    /// EINVAL for MAP_HUGE_1GB, as on the oracle's VM (no <c>pdpe1gb</c>, only <c>hugepages-2048kB</c>).
    /// </summary>
    public bool GiganticHugePages { get; init; } = true;

    /// <summary>The largest <see cref="TaskSize"/>: x86-64's <c>TASK_SIZE_MAX</c> with 5-level paging, 2^56 less a page.</summary>
    public const ulong TaskSizeLimit = (1UL << 56) - MmConstants.PageSize;

    /// <summary>
    /// The largest <see cref="MaxMapCount"/>: 2^30, far above any real <c>vm.max_map_count</c>, and low enough that
    /// the map-count arithmetic of the system calls cannot overflow.
    /// </summary>
    public const int MaxMapCountLimit = 1 << 30;

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
    /// fix, 6.17's multi-VMA mremap, 6.18's VM_MAYBE_GUARD, DONTUNMAP accounting and unlocked droppable mappings, and no
    /// 1 GiB hugetlb pages).
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
            DontUnmapKeepsAccount = true,
            DroppableNeverLocked = true,
            GiganticHugePages = false,
        },
        _ => throw new ArgumentException(
            $"unknown kernel profile '{name}'; known profiles: {ProfileV615}, {ProfileOracleHost}", nameof(name)),
    };

    /// <summary>
    /// Checks every option against its allowed range (see each option), as <see cref="AddressSpace"/>'s constructor
    /// does.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its allowed range; the parameter name is the
    /// option's.</exception>
    internal void Validate()
    {
        CheckPageAligned(TaskSize, nameof(TaskSize));
        CheckPageAligned(MmapMinAddr, nameof(MmapMinAddr));
        if (TaskSize <= MmapMinAddr || TaskSize > TaskSizeLimit)
        {
            Fail(nameof(TaskSize), TaskSize,
                $"above MmapMinAddr 0x{MmapMinAddr:x} and at most 0x{TaskSizeLimit:x} (TASK_SIZE_MAX with 5-level paging)");
        }

        if (MaxMapCount < 1 || MaxMapCount > MaxMapCountLimit)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MaxMapCount), MaxMapCount, $"{nameof(MaxMapCount)} must be between 1 and {MaxMapCountLimit}.");
        }

        CheckPageAligned(MmapBase, nameof(MmapBase));
        if (MmapBase <= MmapMinAddr || MmapBase > TaskSize)
        {
            Fail(nameof(MmapBase), MmapBase, $"above MmapMinAddr 0x{MmapMinAddr:x} and at most TaskSize 0x{TaskSize:x}");
        }

        CheckPageAligned(StackGuardGap, nameof(StackGuardGap));
        if (StackGuardGap > TaskSize)
        {
            Fail(nameof(StackGuardGap), StackGuardGap, $"at most TaskSize 0x{TaskSize:x}");
        }

        CheckPageAligned(StartBrk, nameof(StartBrk));
        if (StartBrk < MmapMinAddr || StartBrk >= TaskSize)
        {
            Fail(nameof(StartBrk), StartBrk, $"in [MmapMinAddr 0x{MmapMinAddr:x}, TaskSize 0x{TaskSize:x})");
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is a multiple of the page size.</summary>
    private static void CheckPageAligned(ulong value, string option)
    {
        if ((value & ~MmConstants.PageMask) != 0)
        {
            Fail(option, value, $"a multiple of the page size (0x{MmConstants.PageSize:x})");
        }
    }

    /// <summary>Throws the <see cref="ArgumentOutOfRangeException"/> of an option outside its allowed range.</summary>
    [DoesNotReturn]
    private static void Fail(string option, ulong value, string rule) =>
        throw new ArgumentOutOfRangeException(option, $"0x{value:x}", $"{option} 0x{value:x} must be {rule}.");
}
