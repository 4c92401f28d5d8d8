namespace VmaEngine.Vma;

/// <summary>What backs a VMA.</summary>
public enum VmaBacking
{
    /// <summary>Private anonymous memory (no file).</summary>
    Anonymous,

    /// <summary>A <c>MAP_SHARED | MAP_ANONYMOUS</c> shmem object.</summary>
    SharedAnonymous,

    /// <summary>A named file.</summary>
    File,
}

/// <summary>A copy of one VMA's state, taken under mmap_lock by <see cref="AddressSpace.Snapshot"/>.</summary>
/// <param name="Start">The first byte (<c>vm_start</c>).</param>
/// <param name="End">One past the last byte (<c>vm_end</c>).</param>
/// <param name="Flags">The <c>vm_flags</c>.</param>
/// <param name="Pgoff">The page offset of <paramref name="Start"/> in the backing object (<c>vm_pgoff</c>); for
/// private anonymous memory the value the kernel keeps, which decides merges after mremap.</param>
/// <param name="Backing">Anonymous, shared anonymous or a file.</param>
/// <param name="FileId">The backing object's identity (<see cref="VmFile.Id"/>), 0 for private anonymous memory.</param>
/// <param name="FileName">The file's name, or null when the VMA does not map a named file.</param>
/// <param name="AnonName">The name set by <see cref="AddressSpace.SetAnonName"/>, or null.</param>
/// <param name="AnonVmaId">The identity of the VMA's anon_vma (its address), 0 before its first write fault.</param>
public readonly record struct VmaInfo(
    ulong Start,
    ulong End,
    VmFlags Flags,
    ulong Pgoff,
    VmaBacking Backing,
    int FileId,
    string? FileName,
    string? AnonName,
    nuint AnonVmaId);
