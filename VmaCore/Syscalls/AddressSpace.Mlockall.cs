namespace VmaEngine.Vma;

/// <summary>
/// mlockall and munlockall (Linux v6.15 <c>mm/mlock.c</c>: <c>apply_mlockall_flags</c>): every VMA gets or loses
/// its lock bits, and MCL_FUTURE puts VM_LOCKED in the mm's <c>def_flags</c>, so later mappings and the heap are
/// locked too. As for mlock, the task is privileged (CAP_IPC_LOCK): RLIMIT_MEMLOCK never applies.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// mlockall: with <see cref="MlockallFlags.Current"/> locks every VMA (VM_SPECIAL, hugetlb and droppable ones
    /// excepted) and faults everything in, with <see cref="MlockallFlags.Future"/> locks every later mapping;
    /// <see cref="MlockallFlags.OnFault"/> makes either lock on fault (VM_LOCKONFAULT) instead. EINVAL for no flag,
    /// an unknown flag or <see cref="MlockallFlags.OnFault"/> alone. A VMA that cannot be changed (a split or merge
    /// could not allocate) is skipped, as the kernel skips it.
    /// </summary>
    /// <exception cref="System.ObjectDisposedException">The address space is disposed.</exception>
    public Errno Mlockall(MlockallFlags flags) =>
        VmaMetrics.Syscall("mlockall", MlockallUncounted(flags));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MlockallUncounted(MlockallFlags flags)
    {
        ThrowIfDisposed();
        const MlockallFlags all = MlockallFlags.Current | MlockallFlags.Future | MlockallFlags.OnFault;
        if (flags == MlockallFlags.None || (flags & ~all) != 0 || flags == MlockallFlags.OnFault)
        {
            return Errno.EINVAL;
        }

        MmapLock.WriteLock();
        try
        {
            ApplyMlockallFlags(flags);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }

        if ((flags & MlockallFlags.Current) != 0)
        {
            MmPopulate(0, Options.TaskSize, ignoreErrors: true);
        }

        return Errno.None;
    }

    /// <summary>munlockall: clears the lock bits of every VMA and of <c>def_flags</c> (ending MCL_FUTURE).</summary>
    /// <exception cref="System.ObjectDisposedException">The address space is disposed.</exception>
    public Errno Munlockall() =>
        VmaMetrics.Syscall("munlockall", MunlockallUncounted());

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MunlockallUncounted()
    {
        ThrowIfDisposed();
        MmapLock.WriteLock();
        try
        {
            ApplyMlockallFlags(MlockallFlags.None);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }

        return Errno.None;
    }

    /// <summary>
    /// <c>apply_mlockall_flags</c>: sets <c>def_flags</c> from MCL_FUTURE (and MCL_ONFAULT); unless only MCL_FUTURE
    /// was asked, replaces the lock bits of every VMA, lowest first, with those MCL_CURRENT asks for (none for
    /// munlockall), ignoring the VMAs that fail.
    /// </summary>
    private void ApplyMlockallFlags(MlockallFlags flags)
    {
        bool onFault = (flags & MlockallFlags.OnFault) != 0;
        Mm->DefFlags &= ~VmFlagBits.LockedMask;
        if ((flags & MlockallFlags.Future) != 0)
        {
            Mm->DefFlags |= onFault ? VmFlagBits.LockedMask : VmFlags.Locked;
            if ((flags & MlockallFlags.Current) == 0)
            {
                return;
            }
        }

        VmFlags toAdd = VmFlags.None;
        if ((flags & MlockallFlags.Current) != 0)
        {
            toAdd = onFault ? VmFlagBits.LockedMask : VmFlags.Locked;
        }

        VmArea* prev = null;
        for (VmArea* vma = Tree.FindAtOrAfter(0, ulong.MaxValue, out _, out _); vma != null;)
        {
            VmFlags newFlags = (vma->VmFlags & ~VmFlagBits.LockedMask) | toAdd;
            MlockFixup(vma, ref prev, vma->VmStart, vma->VmEnd, newFlags);
            vma = Tree.FindAtOrAfter(prev->VmEnd, ulong.MaxValue, out _, out _);
        }
    }
}
