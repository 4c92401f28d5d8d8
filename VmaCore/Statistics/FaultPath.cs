namespace VmaEngine.Vma;

/// <summary>How a fault reached its VMA, for <see cref="VmaMetrics"/>.</summary>
internal enum FaultPath
{
    /// <summary>Under the per-VMA read lock taken under RCU (<c>lock_vma_under_rcu</c>), without mmap_lock.</summary>
    VmaLock,

    /// <summary>Under mmap_lock, because no VMA could be read-locked under RCU.</summary>
    MmapLock,

    /// <summary>Under mmap_lock after the per-VMA lock path gave up (VM_FAULT_RETRY: an anon_vma to prepare).</summary>
    Retry,
}
