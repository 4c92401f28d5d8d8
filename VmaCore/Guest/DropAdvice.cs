namespace VmaEngine.Vma.Guest;

/// <summary>The madvise advices that drop pages rather than change VMAs, with Linux's values.</summary>
public enum DropAdvice
{
    /// <summary><c>MADV_DONTNEED</c>: private anonymous pages read as zero afterwards.</summary>
    DontNeed = 4,

    /// <summary><c>MADV_FREE</c>: the pages may be freed lazily; here they are dropped at once, which the guest cannot tell from a freed page.</summary>
    Free = 8,

    /// <summary><c>MADV_REMOVE</c>: punches a hole in shared memory; EINVAL on private mappings.</summary>
    Remove = 9,
}
