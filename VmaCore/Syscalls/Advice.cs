namespace VmaEngine.Vma;

/// <summary>The madvise advices that change <c>vm_flags</c>, with their Linux MADV_* values.</summary>
public enum Advice
{
    /// <summary>MADV_NORMAL: clears VM_RAND_READ and VM_SEQ_READ.</summary>
    Normal = 0,

    /// <summary>MADV_RANDOM: sets VM_RAND_READ, clears VM_SEQ_READ.</summary>
    Random = 1,

    /// <summary>MADV_SEQUENTIAL: sets VM_SEQ_READ, clears VM_RAND_READ.</summary>
    Sequential = 2,

    /// <summary>MADV_DONTFORK: sets VM_DONTCOPY.</summary>
    DontFork = 10,

    /// <summary>MADV_DOFORK: clears VM_DONTCOPY (EINVAL on VM_IO).</summary>
    DoFork = 11,

    /// <summary>MADV_HUGEPAGE: sets VM_HUGEPAGE, clears VM_NOHUGEPAGE.</summary>
    HugePage = 14,

    /// <summary>MADV_NOHUGEPAGE: sets VM_NOHUGEPAGE, clears VM_HUGEPAGE.</summary>
    NoHugePage = 15,

    /// <summary>MADV_DONTDUMP: sets VM_DONTDUMP.</summary>
    DontDump = 16,

    /// <summary>MADV_DODUMP: clears VM_DONTDUMP (EINVAL on VM_SPECIAL mappings).</summary>
    DoDump = 17,

    /// <summary>MADV_WIPEONFORK: sets VM_WIPEONFORK (EINVAL except on private anonymous memory).</summary>
    WipeOnFork = 18,

    /// <summary>MADV_KEEPONFORK: clears VM_WIPEONFORK.</summary>
    KeepOnFork = 19,
}
