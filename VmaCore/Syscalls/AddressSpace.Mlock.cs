using System;
using System.Diagnostics;
namespace VmaEngine.Vma;

/// <summary>
/// mlock and munlock (Linux v6.15 <c>mm/mlock.c</c>: <c>do_mlock</c>, <c>apply_vma_lock_flags</c>,
/// <c>mlock_fixup</c>, and <c>mm/gup.c</c> <c>__mm_populate</c> for the fault-in). The task is modelled as
/// privileged (CAP_IPC_LOCK), so RLIMIT_MEMLOCK never applies.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// mlock: sets VM_LOCKED on [address, address + length) (address rounded down, length up, to pages) and faults
    /// the pages in. ENOMEM when part of the range is unmapped (after locking what precedes the hole), or when
    /// faulting in fails (for example on PROT_NONE memory, which stays locked); EINVAL when the range wraps; EAGAIN
    /// when a split or a fault cannot allocate.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Mlock(ulong address, ulong length) =>
        VmaMetrics.Syscall("mlock", DoMlock(address, length, VmFlags.Locked));

    /// <summary>
    /// mlock2: <see cref="Mlock"/>, or with <see cref="MlockFlags.OnFault"/> VM_LOCKED and VM_LOCKONFAULT without
    /// faulting anything in (pages are locked as they are faulted later). EINVAL for any other flag.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Mlock2(ulong address, ulong length, MlockFlags flags) =>
        VmaMetrics.Syscall("mlock2", Mlock2Uncounted(address, length, flags));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno Mlock2Uncounted(ulong address, ulong length, MlockFlags flags)
    {
        ThrowIfDisposed();
        if ((flags & ~MlockFlags.OnFault) != 0)
        {
            return Errno.EINVAL;
        }

        VmFlags lockFlags = (flags & MlockFlags.OnFault) != 0 ? VmFlagBits.LockedMask : VmFlags.Locked;
        return DoMlock(address, length, lockFlags);
    }

    /// <summary>
    /// <c>do_mlock</c>: gives the range <paramref name="lockFlags"/> under mmap_lock for write, then faults it in
    /// (which skips VM_LOCKONFAULT VMAs).
    /// </summary>
    private Errno DoMlock(ulong address, ulong length, VmFlags lockFlags)
    {
        ThrowIfDisposed();
        ulong start = address & MmConstants.PageMask;
        ulong aligned = PageAlign(length + (address & ~MmConstants.PageMask));
        MmapLock.WriteLock();
        Errno error;
        try
        {
            error = ApplyVmaLockFlags(start, aligned, lockFlags);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }

        if (error != Errno.None)
        {
            return error;
        }

        // __mlock_posix_error_return: a fault that failed is ENOMEM, a fault that could not allocate EAGAIN.
        return MmPopulate(start, aligned, ignoreErrors: false) switch
        {
            Errno.EFAULT => Errno.ENOMEM,
            Errno.ENOMEM => Errno.EAGAIN,
            Errno other => other,
        };
    }

    /// <summary>
    /// munlock: clears VM_LOCKED on [address, address + length). ENOMEM when part of the range is unmapped (after
    /// unlocking what precedes the hole); EINVAL when the range wraps; ENOMEM when a split cannot allocate.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Munlock(ulong address, ulong length) =>
        VmaMetrics.Syscall("munlock", MunlockUncounted(address, length));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MunlockUncounted(ulong address, ulong length)
    {
        ThrowIfDisposed();
        ulong start = address & MmConstants.PageMask;
        ulong aligned = PageAlign(length + (address & ~MmConstants.PageMask));
        MmapLock.WriteLock();
        try
        {
            return ApplyVmaLockFlags(start, aligned, VmFlags.None);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }
    }

    /// <summary>
    /// <c>apply_vma_lock_flags</c>: replaces the VM_LOCKED bits of every VMA in [start, start + length), stopping at
    /// the first hole with ENOMEM.
    /// </summary>
    private Errno ApplyVmaLockFlags(ulong start, ulong length, VmFlags lockFlags)
    {
        ulong end = start + length;
        if (end < start)
        {
            return Errno.EINVAL;
        }

        if (end == start)
        {
            return Errno.None;
        }

        VmArea* vma = Tree.Load(start);
        if (vma == null)
        {
            return Errno.ENOMEM;
        }

        return FixupRange(vma, start, end, &LockOne, lockFlags);
    }

    /// <summary>One step of the mlock walk: the VMA's flags with its VM_LOCKED bits replaced.</summary>
    private static Errno LockOne(AddressSpace mm, VmArea* vma, ref VmArea* prev, ulong start, ulong end, VmFlags lockFlags) =>
        mm.MlockFixup(vma, ref prev, start, end, (vma->VmFlags & ~VmFlagBits.LockedMask) | lockFlags);

    /// <summary>
    /// <c>mlock_fixup</c>: gives [start, end) the new lock flags; VM_SPECIAL, hugetlb and VM_DROPPABLE VMAs are left
    /// alone (and not counted). <c>locked_vm</c> follows the VM_LOCKED bit. On return <paramref name="prev"/> is the
    /// VMA now covering the range.
    /// </summary>
    private Errno MlockFixup(VmArea* vma, ref VmArea* prev, ulong start, ulong end, VmFlags newFlags)
    {
        VmFlags oldFlags = vma->VmFlags;
        if (newFlags == oldFlags || (oldFlags & (VmFlags.Special | VmFlags.HugeTlb | VmFlags.Droppable)) != 0)
        {
            prev = vma;
            return Errno.None;
        }

        VmArea* target = ApplyFlags(vma, prev, start, end, newFlags, vma->AnonVmaName, out Errno error);
        if (target == null)
        {
            // The kernel leaves *prev at the VMA on failure; the walk stops anyway.
            prev = vma;
            return error;
        }

        prev = target;

        // Locking counts the range, unlocking uncounts it; a change between VM_LOCKED and VM_LOCKED|VM_LOCKONFAULT
        // counts nothing.
        ulong pages = (end - start) >> MmConstants.PageShift;
        if ((newFlags & VmFlags.Locked) == 0)
        {
            Debug.Assert(pages <= _mm->LockedVm, "munlock of more pages than locked_vm counts");
            _mm->LockedVm -= pages;
        }
        else if ((oldFlags & VmFlags.Locked) == 0)
        {
            _mm->LockedVm += pages;
        }

        return Errno.None;
    }
}
