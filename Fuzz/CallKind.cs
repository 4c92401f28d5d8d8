namespace Fuzz;

/// <summary>The public system calls of an <c>AddressSpace</c> the fuzzer drives, by the helper's keyword.</summary>
internal enum CallKind
{
    /// <summary>mmap without a file (the helper passes fd -1).</summary>
    Mmap,

    /// <summary>mmap of the 1 GiB file <c>f</c> (a memfd in the helper).</summary>
    MmapFile,

    /// <summary>munmap.</summary>
    Munmap,

    /// <summary>mprotect.</summary>
    Mprotect,

    /// <summary>madvise.</summary>
    Madvise,

    /// <summary>mlock.</summary>
    Mlock,

    /// <summary>munlock.</summary>
    Munlock,

    /// <summary>mremap.</summary>
    Mremap,

    /// <summary>brk.</summary>
    Brk,

    /// <summary>prctl(PR_SET_VMA_ANON_NAME).</summary>
    SetAnonName,

    /// <summary>One load or store (a page fault).</summary>
    Fault,

    /// <summary>A store to every page of a range.</summary>
    Touch,
}
