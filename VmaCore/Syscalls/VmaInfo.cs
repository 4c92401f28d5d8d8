using System.Diagnostics;
using System.Globalization;

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

/// <summary>
/// A copy of one VMA's state, taken under mmap_lock by <see cref="AddressSpace.Snapshot"/> and
/// <see cref="AddressSpace.TryGetVma"/>, or under the VMA's read lock by <see cref="AddressSpace.ReadLockVma"/>.
/// </summary>
/// <param name="Start">The first byte (<c>vm_start</c>).</param>
/// <param name="End">One past the last byte (<c>vm_end</c>).</param>
/// <param name="Flags">The <c>vm_flags</c>.</param>
/// <param name="Pgoff">The page offset of <paramref name="Start"/> in the backing object (<c>vm_pgoff</c>); for
/// private anonymous memory the value the kernel keeps, which decides merges after mremap.</param>
/// <param name="Backing">Anonymous, shared anonymous or a file.</param>
/// <param name="FileId">The backing object's identity (the inode <c>/proc/pid/maps</c> prints), 0 for private anonymous memory.</param>
/// <param name="FileName">The file's name, or null when the VMA does not map a named file.</param>
/// <param name="AnonName">The name set by <see cref="AddressSpace.SetAnonName"/>, or null.</param>
/// <param name="AnonVmaId">The identity of the VMA's anon_vma (its address), 0 before its first write fault.</param>
[DebuggerDisplay("{ToString(),nq}")]
public readonly record struct VmaInfo(
    ulong Start,
    ulong End,
    VmFlags Flags,
    ulong Pgoff,
    VmaBacking Backing,
    int FileId,
    string? FileName,
    string? AnonName,
    nuint AnonVmaId)
{
    /// <summary>The size in bytes (<c>vm_end - vm_start</c>).</summary>
    public ulong Length => End - Start;

    /// <summary>Whether <paramref name="address"/> lies in [<see cref="Start"/>, <see cref="End"/>).</summary>
    public bool Contains(ulong address) => address >= Start && address < End;

    /// <summary>
    /// The range in hex, the permissions as <c>/proc/pid/maps</c> prints them, the page offset in hex and the
    /// backing with its name, for example <c>0x7f0000000000-0x7f0000010000 rw-p pgoff 0x7f0000000 Anonymous</c>.
    /// </summary>
    public override string ToString()
    {
        char read = (Flags & VmFlags.Read) != 0 ? 'r' : '-';
        char write = (Flags & VmFlags.Write) != 0 ? 'w' : '-';
        char exec = (Flags & VmFlags.Exec) != 0 ? 'x' : '-';
        char share = (Flags & VmFlags.MayShare) != 0 ? 's' : 'p';
        string name = FileName ?? (AnonName != null ? $"[anon:{AnonName}]" : string.Empty);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"0x{Start:x}-0x{End:x} {read}{write}{exec}{share} pgoff 0x{Pgoff:x} {Backing} {name}").TrimEnd();
    }
}
