using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>What a <see cref="VmFile"/> is backed by.</summary>
internal enum VmFileKind
{
    /// <summary>A named file (a memfd or a regular file) opened through a <c>FileRegistry</c>.</summary>
    File,

    /// <summary>
    /// The shmem object behind one <c>MAP_SHARED | MAP_ANONYMOUS</c> mapping (<c>shmem_zero_setup</c>): created by
    /// that mmap, its size is the mapping's length, and only VMAs split from that mapping share it.
    /// </summary>
    SharedAnonymous,

    /// <summary>
    /// The hugetlbfs file behind one <c>MAP_HUGETLB | MAP_ANONYMOUS</c> mapping (<c>hugetlb_file_setup</c>,
    /// <c>/anon_hugepage</c>): created by that mmap, its size is the mapping's length rounded up to its huge page
    /// size (<see cref="VmFile.HugePageSize"/>), and only VMAs split from that mapping share it.
    /// </summary>
    HugeTlb,
}

/// <summary>
/// A backing file (<c>struct file</c>): its identity, size and references. Unmanaged, because VMAs point to it; its
/// managed side (the name) lives in the file registry, keyed by <see cref="Id"/>.
/// </summary>
/// <remarks>
/// References: the handle that opened it holds one, every VMA mapping it holds one (taken when the VMA is created or
/// duplicated, dropped when it is freed). <see cref="Get"/> and <see cref="Put"/> are <c>get_file</c> and
/// <c>fput</c>; the last put frees the struct. The count is changed with interlocked operations because a handle may
/// be disposed on another thread than the one holding an address space's mmap_lock.
/// </remarks>
internal unsafe struct VmFile
{
    /// <summary>The identity of the file; mappings of the same file compare equal here.</summary>
    public int Id;

    /// <summary>References held on the file (<c>f_count</c>).</summary>
    public int RefCount;

    /// <summary>The file size in pages; a fault on a page at or beyond it is SIGBUS.</summary>
    public ulong SizePages;

    /// <summary>A named file or the object of a shared anonymous mapping.</summary>
    public VmFileKind Kind;

    /// <summary>Whether the file was opened for reading (<c>FMODE_READ</c>).</summary>
    public bool CanRead;

    /// <summary>Whether the file was opened for writing (<c>FMODE_WRITE</c>).</summary>
    public bool CanWrite;

    /// <summary>The huge page size in bytes of a <see cref="VmFileKind.HugeTlb"/> file (its hstate), else 0.</summary>
    public ulong HugePageSize;

    /// <summary>The huge page size of <paramref name="file"/> if it is a hugetlbfs file, else 0 (null: anonymous memory).</summary>
    internal static ulong HugePageSizeOf(VmFile* file) => file == null ? 0 : file->HugePageSize;

    /// <summary>Allocates a file holding one reference (the caller's).</summary>
    internal static VmFile* Create(int id, ulong sizePages, VmFileKind kind, bool canRead, bool canWrite)
    {
        var file = (VmFile*)NativeMemory.AllocZeroed((nuint)sizeof(VmFile));
        file->Id = id;
        file->RefCount = 1;
        file->SizePages = sizePages;
        file->Kind = kind;
        file->CanRead = canRead;
        file->CanWrite = canWrite;
        return file;
    }

    /// <summary><c>get_file</c>: takes a reference.</summary>
    internal static void Get(VmFile* file)
    {
        int now = Interlocked.Increment(ref file->RefCount);
        Debug.Assert(now > 1, "get_file on a file with no reference");
    }

    /// <summary><c>fput</c>: drops a reference; the last one frees the file and forgets its name.</summary>
    internal static void Put(VmFile* file)
    {
        int now = Interlocked.Decrement(ref file->RefCount);
        Debug.Assert(now >= 0, "fput underflow");
        if (now == 0)
        {
            Files.FileNames.Forget(file->Id);
            Files.HostFiles.Forget(file->Id);
            NativeMemory.Free(file);
        }
    }
}
