using System;
using System.Threading;
using VmaEngine.Vma.Locking;

namespace VmaEngine.Vma;

/// <summary>
/// The VMA at an address for hosts that do not use pointers: a copy taken under mmap_lock
/// (<see cref="TryGetVma"/>), or the VMA held read-locked behind a guard (<see cref="ReadLockVma"/>).
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// A copy of the VMA covering <paramref name="address"/>, taken under mmap_lock for read (<c>vma_lookup</c>);
    /// false, with <paramref name="info"/> default, when nothing is mapped there. The VMA may change as soon as
    /// this returns; to keep it as it is while using it, use <see cref="ReadLockVma"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public bool TryGetVma(ulong address, out VmaInfo info)
    {
        ThrowIfDisposed();
        MmapLock.ReadLock();
        try
        {
            VmArea* vma = Tree.Load(address);
            info = vma == null ? default : vma->ToInfo();
            return vma != null;
        }
        finally
        {
            MmapLock.ReadUnlock();
        }
    }

    /// <summary>
    /// The VMA covering <paramref name="address"/>, read-locked until the returned guard is disposed: the VMA cannot
    /// change meanwhile. The lock-free path first (<see cref="LockVmaUnderRcu"/>); when it fails (a writer holds the
    /// VMA, or it changed under the walk) the VMA is found under mmap_lock for read and read-locked there, as the
    /// kernel's <c>lock_vma</c> does, so the call waits for a running system call rather than fail. When nothing is
    /// mapped at the address the guard is empty (<see cref="VmaReadLock.HasValue"/> false) and holds nothing.
    /// </summary>
    /// <remarks>Dispose the guard on every path; until then every writer of the VMA and <see cref="Dispose"/> wait.</remarks>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public VmaReadLock ReadLockVma(ulong address)
    {
        ThrowIfDisposed();
        VmArea* vma = LockVmaUnderRcu(address);
        if (vma == null)
        {
            vma = LockVmaUnderMmapLock(address);
            if (vma == null)
            {
                return VmaReadLock.Empty;
            }
        }

        return new VmaReadLock(vma, vma->ToInfo());
    }

    /// <summary>
    /// <c>lock_vma</c>'s fallback: finds the VMA under mmap_lock for read and read-locks it there
    /// (<c>vma_start_read_locked</c>, which cannot meet a writer), or null when nothing is mapped at the address.
    /// </summary>
    private VmArea* LockVmaUnderMmapLock(ulong address)
    {
        var spinner = default(SpinWait);
        while (true)
        {
            MmapLock.ReadLock();
            try
            {
                VmArea* vma = Tree.Load(address);
                if (vma == null || VmaLock.StartRead(_mm, vma) == VmaReadResult.Locked)
                {
                    return vma;
                }
            }
            finally
            {
                MmapLock.ReadUnlock();
            }

            // Only the reader limit (2^30 readers) refuses a reader here: wait for some to leave.
            spinner.SpinOnce();
        }
    }
}
