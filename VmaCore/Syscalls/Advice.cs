namespace VmaEngine.Vma;

/// <summary>Every madvise advice of Linux v6.15 x86-64, with its MADV_* value.</summary>
public enum Advice
{
    /// <summary>MADV_NORMAL: clears VM_RAND_READ and VM_SEQ_READ.</summary>
    Normal = 0,

    /// <summary>MADV_RANDOM: sets VM_RAND_READ, clears VM_SEQ_READ.</summary>
    Random = 1,

    /// <summary>MADV_SEQUENTIAL: sets VM_SEQ_READ, clears VM_RAND_READ.</summary>
    Sequential = 2,

    /// <summary>MADV_WILLNEED: reads ahead; changes no VMA.</summary>
    WillNeed = 3,

    /// <summary>MADV_DONTNEED: drops the pages (EINVAL on VM_LOCKED, VM_PFNMAP).</summary>
    DontNeed = 4,

    /// <summary>MADV_FREE: frees the pages lazily (private anonymous memory only; EINVAL on VM_LOCKED, VM_PFNMAP).</summary>
    Free = 8,

    /// <summary>MADV_REMOVE: punches a hole in the backing shared file (EINVAL without one, EACCES if not writable shared).</summary>
    Remove = 9,

    /// <summary>MADV_DONTFORK: sets VM_DONTCOPY.</summary>
    DontFork = 10,

    /// <summary>MADV_DOFORK: clears VM_DONTCOPY (EINVAL on VM_IO).</summary>
    DoFork = 11,

    /// <summary>MADV_MERGEABLE: sets VM_MERGEABLE (KSM) where KSM can work; elsewhere a silent no-op.</summary>
    Mergeable = 12,

    /// <summary>MADV_UNMERGEABLE: clears VM_MERGEABLE.</summary>
    Unmergeable = 13,

    /// <summary>MADV_HUGEPAGE: sets VM_HUGEPAGE, clears VM_NOHUGEPAGE.</summary>
    HugePage = 14,

    /// <summary>MADV_NOHUGEPAGE: sets VM_NOHUGEPAGE, clears VM_HUGEPAGE.</summary>
    NoHugePage = 15,

    /// <summary>MADV_DONTDUMP: sets VM_DONTDUMP.</summary>
    DontDump = 16,

    /// <summary>MADV_DODUMP: clears VM_DONTDUMP (EINVAL on VM_SPECIAL and VM_DROPPABLE mappings).</summary>
    DoDump = 17,

    /// <summary>MADV_WIPEONFORK: sets VM_WIPEONFORK (EINVAL except on private anonymous memory).</summary>
    WipeOnFork = 18,

    /// <summary>MADV_KEEPONFORK: clears VM_WIPEONFORK (EINVAL on VM_DROPPABLE).</summary>
    KeepOnFork = 19,

    /// <summary>MADV_COLD: deactivates the pages (EINVAL on VM_LOCKED, VM_PFNMAP, VM_HUGETLB).</summary>
    Cold = 20,

    /// <summary>MADV_PAGEOUT: reclaims the pages (EINVAL on VM_LOCKED, VM_PFNMAP, VM_HUGETLB).</summary>
    PageOut = 21,

    /// <summary>MADV_POPULATE_READ: faults the pages in for reading, as a read access would.</summary>
    PopulateRead = 22,

    /// <summary>MADV_POPULATE_WRITE: faults the pages in for writing, as a write access would (anon_vmas).</summary>
    PopulateWrite = 23,

    /// <summary>MADV_DONTNEED_LOCKED: MADV_DONTNEED that also accepts VM_LOCKED memory.</summary>
    DontNeedLocked = 24,

    /// <summary>MADV_COLLAPSE: collapses the range into transparent huge pages synchronously.</summary>
    Collapse = 25,

    /// <summary>MADV_HWPOISON: poisons the pages (needs CAP_SYS_ADMIN).</summary>
    HwPoison = 100,

    /// <summary>MADV_SOFT_OFFLINE: migrates the pages off their frames (needs CAP_SYS_ADMIN).</summary>
    SoftOffline = 101,

    /// <summary>MADV_GUARD_INSTALL: installs guard markers: any access to those pages faults.</summary>
    GuardInstall = 102,

    /// <summary>MADV_GUARD_REMOVE: removes guard markers.</summary>
    GuardRemove = 103,
}
