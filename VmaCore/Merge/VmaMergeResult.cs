namespace VmaEngine.Vma.Merge;

/// <summary>The outcome of a merge attempt (<c>enum vma_merge_state</c>), with the kernel's values.</summary>
internal enum VmaMergeResult
{
    /// <summary><c>VMA_MERGE_START</c>: no merge attempted yet.</summary>
    Start = 0,

    /// <summary><c>VMA_MERGE_ERROR_NOMEM</c>: a merge was possible but an allocation failed; nothing changed.</summary>
    ErrorNoMem = 1,

    /// <summary><c>VMA_MERGE_NOMERGE</c>: no merge is possible.</summary>
    NoMerge = 2,

    /// <summary><c>VMA_MERGE_SUCCESS</c>: the merge was done.</summary>
    Success = 3,
}
