using System;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>munmap (Linux v6.15 <c>mm/mmap.c</c> <c>__vm_munmap</c>, <c>mm/vma.c</c> <c>do_vmi_munmap</c>).</summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// munmap: removes every mapping in [address, address + length) (length rounded up to pages), splitting VMAs
    /// at both ends. EINVAL for an unaligned address, a zero length or a range beyond TASK_SIZE; ENOMEM when a
    /// split cannot allocate or would exceed the map count limit (then nothing changed). Unmapping a hole is
    /// success.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Munmap(ulong address, ulong length) =>
        VmaMetrics.Syscall("munmap", MunmapUncounted(address, length));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MunmapUncounted(ulong address, ulong length)
    {
        ThrowIfDisposed();
        MmapLock.WriteLock();
        try
        {
            return DoMunmap(address, length);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }
    }

    /// <summary><c>do_munmap</c>: <c>do_vmi_munmap</c> with its own iterator; mmap_lock is held for write.</summary>
    private Errno DoMunmap(ulong address, ulong length)
    {
        ulong taskSize = Options.TaskSize;
        if ((address & ~MmConstants.PageMask) != 0 || address > taskSize || length > taskSize - address)
        {
            return Errno.EINVAL;
        }

        ulong alignedLength = PageAlign(length);
        if (alignedLength == 0)
        {
            return Errno.EINVAL;
        }

        var vmi = new VmaIterator(this, address);
        return DoVmiMunmap(ref vmi, address, alignedLength);
    }
}
