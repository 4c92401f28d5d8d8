using System;
using VmaEngine.Vma.Tree;

namespace VmaEngine.Vma;

/// <summary>
/// madvise (Linux v6.15 <c>mm/madvise.c</c>: <c>do_madvise</c>, <c>madvise_walk_vmas</c>,
/// <c>madvise_vma_behavior</c>, <c>madvise_update_vma</c>, <c>madvise_populate</c>, <c>madvise_inject_error</c>).
/// The walk skips holes, unlike mprotect: it applies the advice to every mapped part and returns ENOMEM at the end.
/// Advices that act only on pages (dontneed, free, willneed, cold, ...) change no VMA but fail as the kernel's
/// per-VMA checks decide; the page contents they drop are not modelled.
/// </summary>
public sealed unsafe partial class AddressSpace
{
    /// <summary>
    /// madvise: applies <paramref name="advice"/> to [address, address + length). EINVAL for an unknown advice, an
    /// unaligned address or a wrapping range, or an advice a VMA does not allow (for example dontneed on locked
    /// memory, free on anything but private anonymous memory, wipeonfork on shared memory, populate_write on
    /// read-only memory); EACCES for remove on a mapping that is not writable shared; EPERM for a destructive
    /// advice on sealed read-only private anonymous memory, and for hwpoison and soft_offline without
    /// CAP_SYS_ADMIN (<see cref="AddressSpaceOptions.CapSysAdmin"/>); EFAULT where populating hits a page that
    /// cannot be faulted; ENOMEM when part of the range is unmapped (the walk changes the mapped parts anyway; the
    /// populate advices stop at the hole); EAGAIN when a split cannot allocate.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The address space is disposed.</exception>
    public Errno Madvise(ulong address, ulong length, Advice advice) =>
        VmaMetrics.Syscall("madvise", MadviseUncounted(address, length, advice, out _));

    /// <summary>
    /// <see cref="Madvise(ulong, ulong, Advice)"/>, also reporting where the walk stopped: the advice was applied to
    /// every mapped part of [<paramref name="address"/>, <paramref name="advisedEnd"/>) and to nothing above it (the
    /// end of the range, or the start of the part that failed). For a backed space, which drops host pages exactly there.
    /// </summary>
    internal Errno Madvise(ulong address, ulong length, Advice advice, out ulong advisedEnd) =>
        VmaMetrics.Syscall("madvise", MadviseUncounted(address, length, advice, out advisedEnd));

    /// <summary><see cref="VmaMetrics"/> counts the result of this, the system call's work.</summary>
    private Errno MadviseUncounted(ulong address, ulong length, Advice advice, out ulong advisedEnd)
    {
        ThrowIfDisposed();
        advisedEnd = address;
        // madvise_behavior_valid: the memory-failure advices exist only with CONFIG_MEMORY_FAILURE.
        if (!Enum.IsDefined(advice) || (advice is Advice.HwPoison or Advice.SoftOffline && !Options.MemoryFailure))
        {
            return Errno.EINVAL;
        }

        Errno error = MadviseRange(address, length, out ulong end);
        if (error != Errno.None || end == address)
        {
            return error;
        }

        if (advice is Advice.HwPoison or Advice.SoftOffline)
        {
            return MadviseInjectError(address, address + length);
        }

        if (advice is Advice.PopulateRead or Advice.PopulateWrite)
        {
            return MadvisePopulate(address, end, advice == Advice.PopulateWrite);
        }

        MmapLock.WriteLock();
        try
        {
            return MadviseWalkVmas(address, end, &MadviseVmaBehavior, (nint)advice, out advisedEnd);
        }
        finally
        {
            MmapLock.WriteUnlock();
        }
    }

    /// <summary>
    /// The range checks of madvise and <c>madvise_set_anon_name</c>: the address must be page aligned, and the
    /// length rounded up to pages must neither wrap to 0 nor make the range wrap (EINVAL).
    /// </summary>
    private static Errno MadviseRange(ulong start, ulong length, out ulong end)
    {
        end = start;
        if ((start & ~MmConstants.PageMask) != 0)
        {
            return Errno.EINVAL;
        }

        ulong aligned = PageAlign(length);
        if (length != 0 && aligned == 0)
        {
            return Errno.EINVAL;
        }

        end = start + aligned;
        return end < start ? Errno.EINVAL : Errno.None;
    }

    /// <summary>
    /// <c>madvise_walk_vmas</c>: visits the mapped parts of [start, end) in order, skipping holes; stops at the first
    /// error; ENOMEM at the end if there was a hole. <paramref name="visit"/> changes one VMA's part [start, end)
    /// with <paramref name="argument"/> and updates the previous VMA. Lookups start from the leaf of the last store
    /// (mmap_lock is held for write), which is usually right there. <paramref name="visitedEnd"/> is the end of the
    /// last part visited without error (<paramref name="start"/> if none was).
    /// </summary>
    private Errno MadviseWalkVmas(ulong start, ulong end,
        delegate*<AddressSpace, VmArea*, ref VmArea*, ulong, ulong, nint, Errno> visit, nint argument, out ulong visitedEnd)
    {
        Errno unmappedError = Errno.None;
        visitedEnd = start;
        LeafHint hint = Tree.StoreHint;
        VmArea* vma = Tree.FindAtOrAfter(start, ulong.MaxValue, ref hint, out _, out _);
        VmArea* prev = vma != null && start > vma->VmStart ? vma : Tree.FindBefore(start, 0, ref hint, out _, out _);
        while (true)
        {
            if (vma == null)
            {
                return Errno.ENOMEM;
            }

            if (start < vma->VmStart)
            {
                unmappedError = Errno.ENOMEM;
                start = vma->VmStart;
                if (start >= end)
                {
                    break;
                }
            }

            ulong tmp = vma->VmEnd < end ? vma->VmEnd : end;
            Errno error = visit(this, vma, ref prev, start, tmp, argument);
            if (error != Errno.None)
            {
                return error;
            }

            visitedEnd = tmp;
            start = tmp;
            if (prev != null && start < prev->VmEnd)
            {
                start = prev->VmEnd;
            }

            if (start >= end)
            {
                break;
            }

            hint = Tree.StoreHint;
            vma = Tree.FindAtOrAfter(prev != null ? prev->VmEnd : start, ulong.MaxValue, ref hint, out _, out _);
        }

        return unmappedError;
    }

    /// <summary>
    /// <c>madvise_vma_behavior</c>: EPERM where the seal forbids the advice; the page-only advices check the VMA and
    /// leave it as it is (<see cref="MadvisePagesOnly"/>); the flag-changing ones compute the new flags (or EINVAL
    /// where the VMA does not allow the advice), then <see cref="MadviseUpdateVma"/> keeping the VMA's name;
    /// allocation failure is EAGAIN. <paramref name="argument"/> is the <see cref="Advice"/>.
    /// </summary>
    private static Errno MadviseVmaBehavior(AddressSpace mm, VmArea* vma, ref VmArea* prev, ulong start, ulong end, nint argument)
    {
        var advice = (Advice)argument;
        if (!CanModifyVmaMadvise(vma, advice))
        {
            return Errno.EPERM;
        }

        if (!ChangesVmFlags(advice))
        {
            prev = vma;
            return mm.MadvisePagesOnly(vma, start, end, advice);
        }

        VmFlags flags = vma->VmFlags;
        switch (advice)
        {
            case Advice.Normal:
                flags &= ~(VmFlags.RandRead | VmFlags.SeqRead);
                break;
            case Advice.Sequential:
                flags = (flags & ~VmFlags.RandRead) | VmFlags.SeqRead;
                break;
            case Advice.Random:
                flags = (flags & ~VmFlags.SeqRead) | VmFlags.RandRead;
                break;
            case Advice.DontFork:
                flags |= VmFlags.DontCopy;
                break;
            case Advice.DoFork:
                if ((flags & VmFlags.Io) != 0)
                {
                    return Errno.EINVAL;
                }

                flags &= ~VmFlags.DontCopy;
                break;
            case Advice.WipeOnFork:
                if (vma->VmFile != null || (flags & VmFlags.Shared) != 0)
                {
                    return Errno.EINVAL;
                }

                flags |= VmFlags.WipeOnFork;
                break;
            case Advice.KeepOnFork:
                if ((flags & VmFlags.Droppable) != 0)
                {
                    return Errno.EINVAL;
                }

                flags &= ~VmFlags.WipeOnFork;
                break;
            case Advice.DontDump:
                flags |= VmFlags.DontDump;
                break;
            case Advice.DoDump:
                if (((flags & VmFlags.HugeTlb) == 0 && (flags & VmFlags.Special) != 0) || (flags & VmFlags.Droppable) != 0)
                {
                    return Errno.EINVAL;
                }

                flags &= ~VmFlags.DontDump;
                break;
            case Advice.Mergeable:
                // ksm_madvise: silently nothing where KSM cannot work (vma_ksm_compatible).
                if (KsmCompatible(flags))
                {
                    flags |= VmFlags.Mergeable;
                }

                break;
            case Advice.Unmergeable:
                flags &= ~VmFlags.Mergeable;
                break;
            case Advice.HugePage:
                flags = (flags & ~VmFlags.NoHugePage) | VmFlags.HugePage;
                break;
            case Advice.NoHugePage:
                flags = (flags & ~VmFlags.HugePage) | VmFlags.NoHugePage;
                break;
        }

        // The VMA's name is pinned: a merge may free the VMA, and with it the last reference to the name.
        AnonVmaName* name = AnonVmaName.Get(vma->AnonVmaName);
        Errno error = mm.MadviseUpdateVma(vma, ref prev, start, end, flags, name);
        AnonVmaName.Put(name);
        return error == Errno.ENOMEM ? Errno.EAGAIN : error;
    }

    /// <summary>Whether the advice changes <c>vm_flags</c> (and so may split and merge VMAs).</summary>
    private static bool ChangesVmFlags(Advice advice) => advice is Advice.Normal or Advice.Random or Advice.Sequential
        or Advice.DontFork or Advice.DoFork or Advice.WipeOnFork or Advice.KeepOnFork or Advice.DontDump
        or Advice.DoDump or Advice.Mergeable or Advice.Unmergeable or Advice.HugePage or Advice.NoHugePage;

    /// <summary>
    /// <c>vma_ksm_compatible</c>: KSM works on private mappings that are not special, hugetlb or droppable.
    /// </summary>
    private static bool KsmCompatible(VmFlags flags) =>
        (flags & (VmFlags.Shared | VmFlags.MayShare | VmFlags.Special | VmFlags.HugeTlb | VmFlags.Droppable)) == 0;

    /// <summary>
    /// <c>madvise_update_vma</c>: gives [start, end) the flags and anon name, merging or splitting; nothing to do
    /// when both are unchanged. The name is stored on anonymous and shmem-anonymous VMAs only.
    /// </summary>
    private Errno MadviseUpdateVma(VmArea* vma, ref VmArea* prev, ulong start, ulong end, VmFlags flags, AnonVmaName* name)
    {
        if (flags == vma->VmFlags && AnonVmaName.Equal(vma->AnonVmaName, name))
        {
            prev = vma;
            return Errno.None;
        }

        VmArea* target = ApplyFlags(vma, prev, start, end, flags, name, out Errno error);
        if (target == null)
        {
            return error;
        }

        prev = target;
        if (target->VmFile == null || target->VmFile->Kind == VmFileKind.SharedAnonymous)
        {
            ReplaceAnonVmaName(target, name);
        }

        return Errno.None;
    }

    /// <summary><c>replace_anon_vma_name</c>: points the (write-locked) VMA at <paramref name="name"/>, moving references.</summary>
    private static void ReplaceAnonVmaName(VmArea* vma, AnonVmaName* name)
    {
        AnonVmaName* old = vma->AnonVmaName;
        if (name != null && AnonVmaName.Equal(old, name))
        {
            return;
        }

        vma->AnonVmaName = AnonVmaName.Get(name);
        AnonVmaName.Put(old);
    }
}
