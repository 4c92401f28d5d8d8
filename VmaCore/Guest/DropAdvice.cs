namespace VmaEngine.Vma.Guest;

/// <summary>The madvise advices that drop pages rather than change VMAs, with Linux's values.</summary>
public enum DropAdvice
{
    /// <summary><c>MADV_DONTNEED</c>: private anonymous pages read as zero afterwards.</summary>
    DontNeed = 4,

    /// <summary><c>MADV_FREE</c>: the pages may be freed lazily; here they are dropped at once, which the guest cannot tell from a freed page.</summary>
    Free = 8,

    /// <summary><c>MADV_REMOVE</c>: punches a hole in a writable shared mapping's object; EINVAL on private anonymous memory, EACCES on other mappings that are not writable shared.</summary>
    Remove = 9,
}
