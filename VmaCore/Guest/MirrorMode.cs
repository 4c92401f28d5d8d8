namespace VmaEngine.Vma.Guest;

/// <summary>What the host holds in the range an operation changed, before <see cref="GuestMemory"/> mirrors it.</summary>
internal enum MirrorMode
{
    /// <summary>
    /// The host mappings still match the table (protection-only changes, or a failed operation): pages whose entry
    /// differs from the VMAs are reprotected, pages that lost their VMA go back to the reservation.
    /// </summary>
    Known,

    /// <summary>The range's old contents are gone (mmap, munmap, brk, the source of an mremap): every page is mapped afresh or returned to the reservation.</summary>
    Fresh,

    /// <summary>The host pages were moved here with their contents (the destination of an mremap): every page is reprotected.</summary>
    Moved,
}
