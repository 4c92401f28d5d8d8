using System;

namespace VmaEngine.Vma;

/// <summary>Every MAP_* flag of mmap in Linux v6.15 x86-64, with its value.</summary>
[Flags]
public enum MapFlags
{
    /// <summary>No flag (MAP_FILE is 0 too).</summary>
    None = 0,

    /// <summary>MAP_SHARED.</summary>
    Shared = 0x01,

    /// <summary>MAP_PRIVATE.</summary>
    Private = 0x02,

    /// <summary>
    /// MAP_SHARED_VALIDATE: MAP_SHARED that refuses, with EOPNOTSUPP, any flag the file does not support (a MAP_TYPE
    /// value, not a bit: it contains <see cref="Shared"/> and <see cref="Private"/>).
    /// </summary>
    ShareValidate = 0x03,

    /// <summary>MAP_DROPPABLE: private anonymous memory whose pages may be dropped (a MAP_TYPE value).</summary>
    Droppable = 0x08,

    /// <summary>MAP_FIXED: place exactly at the address, replacing what is there.</summary>
    Fixed = 0x10,

    /// <summary>MAP_ANONYMOUS.</summary>
    Anonymous = 0x20,

    /// <summary>MAP_32BIT: without MAP_FIXED, place the mapping bottom-up between 1 GiB and 2 GiB (x86-64).</summary>
    ThirtyTwoBit = 0x40,

    /// <summary>MAP_ABOVE4G: accepted and ignored (x86-64 uses it for shadow stacks, which this model has not).</summary>
    Above4G = 0x80,

    /// <summary>MAP_GROWSDOWN.</summary>
    GrowsDown = 0x100,

    /// <summary>MAP_DENYWRITE: ignored.</summary>
    DenyWrite = 0x800,

    /// <summary>MAP_EXECUTABLE: ignored.</summary>
    Executable = 0x1000,

    /// <summary>MAP_LOCKED.</summary>
    Locked = 0x2000,

    /// <summary>MAP_NORESERVE.</summary>
    NoReserve = 0x4000,

    /// <summary>MAP_POPULATE.</summary>
    Populate = 0x8000,

    /// <summary>MAP_NONBLOCK: with MAP_POPULATE, populate nothing.</summary>
    NonBlock = 0x10000,

    /// <summary>MAP_STACK: the mapping is a thread stack; it gets VM_NOHUGEPAGE.</summary>
    Stack = 0x20000,

    /// <summary>MAP_HUGETLB: back the mapping with hugetlb pages (of the size the MAP_HUGE_* bits select).</summary>
    HugeTlb = 0x40000,

    /// <summary>MAP_SYNC: synchronous page faults for DAX files (VM_SYNC, <c>sf</c>).</summary>
    Sync = 0x80000,

    /// <summary>MAP_FIXED_NOREPLACE: place exactly at the address, failing with EEXIST if anything is there.</summary>
    FixedNoReplace = 0x100000,

    /// <summary>MAP_UNINITIALIZED: ignored on MMU kernels.</summary>
    Uninitialized = 0x4000000,

    /// <summary>MAP_HUGE_2MB: 2 MiB hugetlb pages (log2 of the size in the MAP_HUGE_SHIFT bits).</summary>
    Huge2MB = 21 << 26,

    /// <summary>MAP_HUGE_1GB: 1 GiB hugetlb pages.</summary>
    Huge1GB = 30 << 26,

    /// <summary>MAP_HUGE_MASK &lt;&lt; MAP_HUGE_SHIFT: the six bits that hold log2 of the hugetlb page size.</summary>
    HugeSizeMask = 0x3F << 26,
}
