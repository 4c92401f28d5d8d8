using System;

namespace VmaEngine.Vma;

/// <summary>
/// The bits of <c>vm_flags</c>, with the values of Linux v6.15 <c>include/linux/mm.h</c> on x86-64.
/// </summary>
[Flags]
public enum VmFlags : ulong
{
    /// <summary>VM_NONE.</summary>
    None = 0,

    /// <summary>VM_READ (<c>rd</c>).</summary>
    Read = 0x1,

    /// <summary>VM_WRITE (<c>wr</c>).</summary>
    Write = 0x2,

    /// <summary>VM_EXEC (<c>ex</c>).</summary>
    Exec = 0x4,

    /// <summary>VM_SHARED (<c>sh</c>): a shared writable mapping.</summary>
    Shared = 0x8,

    /// <summary>VM_MAYREAD (<c>mr</c>): mprotect may add read access.</summary>
    MayRead = 0x10,

    /// <summary>VM_MAYWRITE (<c>mw</c>).</summary>
    MayWrite = 0x20,

    /// <summary>VM_MAYEXEC (<c>me</c>).</summary>
    MayExec = 0x40,

    /// <summary>VM_MAYSHARE (<c>ms</c>): every MAP_SHARED mapping.</summary>
    MayShare = 0x80,

    /// <summary>VM_GROWSDOWN (<c>gd</c>): a stack that grows down on faults below it.</summary>
    GrowsDown = 0x100,

    /// <summary>VM_UFFD_MISSING (<c>um</c>).</summary>
    UffdMissing = 0x200,

    /// <summary>VM_PFNMAP (<c>pf</c>).</summary>
    PfnMap = 0x400,

    /// <summary>VM_UFFD_WP (<c>uw</c>).</summary>
    UffdWp = 0x1000,

    /// <summary>
    /// VM_MAYBE_GUARD (<c>gu</c>, Linux 6.18; the bit is unused in v6.15): guard markers were installed in the VMA
    /// (see <see cref="AddressSpaceOptions.MaybeGuardFlag"/>).
    /// </summary>
    MaybeGuard = 0x800,

    /// <summary>VM_LOCKED (<c>lo</c>).</summary>
    Locked = 0x2000,

    /// <summary>VM_IO (<c>io</c>).</summary>
    Io = 0x4000,

    /// <summary>VM_SEQ_READ (<c>sr</c>): MADV_SEQUENTIAL.</summary>
    SeqRead = 0x8000,

    /// <summary>VM_RAND_READ (<c>rr</c>): MADV_RANDOM.</summary>
    RandRead = 0x10000,

    /// <summary>VM_DONTCOPY (<c>dc</c>): MADV_DONTFORK.</summary>
    DontCopy = 0x20000,

    /// <summary>VM_DONTEXPAND (<c>de</c>).</summary>
    DontExpand = 0x40000,

    /// <summary>VM_LOCKONFAULT (<c>lf</c>).</summary>
    LockOnFault = 0x80000,

    /// <summary>VM_ACCOUNT (<c>ac</c>): charged to the commit limit.</summary>
    Account = 0x100000,

    /// <summary>VM_NORESERVE (<c>nr</c>).</summary>
    NoReserve = 0x200000,

    /// <summary>VM_HUGETLB (<c>ht</c>).</summary>
    HugeTlb = 0x400000,

    /// <summary>VM_SYNC (<c>sf</c>).</summary>
    Sync = 0x800000,

    /// <summary>VM_ARCH_1 (<c>ar</c>).</summary>
    Arch1 = 0x1000000,

    /// <summary>VM_WIPEONFORK (<c>wf</c>).</summary>
    WipeOnFork = 0x2000000,

    /// <summary>VM_DONTDUMP (<c>dd</c>).</summary>
    DontDump = 0x4000000,

    /// <summary>VM_SOFTDIRTY (<c>sd</c>): ignored when deciding merges.</summary>
    SoftDirty = 0x8000000,

    /// <summary>VM_MIXEDMAP (<c>mm</c>).</summary>
    MixedMap = 0x10000000,

    /// <summary>VM_HUGEPAGE (<c>hg</c>): MADV_HUGEPAGE.</summary>
    HugePage = 0x20000000,

    /// <summary>VM_NOHUGEPAGE (<c>nh</c>): MADV_NOHUGEPAGE.</summary>
    NoHugePage = 0x40000000,

    /// <summary>VM_MERGEABLE (<c>mg</c>): KSM.</summary>
    Mergeable = 0x80000000,

    /// <summary>
    /// VM_DROPPABLE (<c>dp</c>, bit 40 on 64-bit): MAP_DROPPABLE memory, whose pages the kernel may drop under
    /// memory pressure.
    /// </summary>
    Droppable = 1UL << 40,

    /// <summary>VM_SEALED (<c>sl</c>, bit 63 in v6.15): sealed by mseal; its mapping may no longer change.</summary>
    Sealed = 1UL << 63,

    /// <summary>VM_SPECIAL: mappings that never merge (IO, DONTEXPAND, PFNMAP, MIXEDMAP).</summary>
    Special = Io | DontExpand | PfnMap | MixedMap,

    /// <summary>VM_STACK on x86-64: a downward-growing stack.</summary>
    Stack = GrowsDown,
}
