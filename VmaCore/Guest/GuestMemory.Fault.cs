using System;
using System.Runtime.CompilerServices;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>The fault path of a backed space, and the madvise advices that drop host pages.</summary>
public sealed unsafe partial class GuestMemory
{
    /// <summary>
    /// <see cref="AddressSpace.Fault"/>, for an access <see cref="Translate"/> refused or the host MMU trapped: the
    /// first write gives the VMA its anon_vma and opens it in the table and on the host; a stack grows to the address.
    /// </summary>
    public FaultResult Fault(ulong guestAddress, FaultAccess access)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            FaultResult result = Space.Fault(guestAddress, access);
            ulong page = guestAddress & MmConstants.PageMask;
            Mirror(page, page + MmConstants.PageSize, MirrorMode.Known);
            return result;
        }
    }

    /// <summary>
    /// madvise with an advice that drops pages (<c>madvise_dontneed_free</c>, <c>madvise_remove</c>): EINVAL for an
    /// unaligned address, a wrapping range, a VMA that is locked, a PFN map or HugeTLB, or
    /// <see cref="DropAdvice.Remove"/> on a private mapping; ENOMEM when part of the range is unmapped (the mapped
    /// parts are dropped anyway, as the kernel walks them). Dropped private anonymous pages read as zero.
    /// </summary>
    public Errno Madvise(ulong address, ulong length, DropAdvice advice)
    {
        if (!Enum.IsDefined(advice) || (address & ~MmConstants.PageMask) != 0)
        {
            return Errno.EINVAL;
        }

        ulong end = address + AddressSpacePageAlign(length);
        if ((length != 0 && AddressSpacePageAlign(length) == 0) || end < address)
        {
            return Errno.EINVAL;
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            return DropPages(address, end, advice);
        }
    }

    /// <summary>
    /// <see cref="Translate"/> when the cached entry did not allow the access: checks the access, then, when no entry
    /// was cached, looks the page up in the table's run map and caches it, or classifies the hole.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private TranslateStatus TranslateSlowly(ulong guestAddress, FaultAccess access, TranslateStatus cached, out nint hostAddress)
    {
        if ((uint)access > (uint)FaultAccess.Execute)
        {
            throw new ArgumentOutOfRangeException(nameof(access), access, $"{nameof(FaultAccess)} must be Read, Write or Execute.");
        }

        hostAddress = 0;
        if (cached != TranslateStatus.Unmapped)
        {
            return cached;
        }

        TranslateStatus status = _table.Install(guestAddress, access, Space.GuardPages, out hostAddress);
        return status == TranslateStatus.Unmapped ? ClassifyUnmapped(guestAddress) : status;
    }

    /// <summary>
    /// Classifies a page the table shows as unmapped: below a stack VMA (<c>VM_GROWSDOWN</c>) a fault may grow the
    /// stack, elsewhere (a guard page too) it is SEGV_MAPERR.
    /// </summary>
    private TranslateStatus ClassifyUnmapped(ulong guestAddress)
    {
        if (guestAddress < Low || guestAddress >= High)
        {
            return TranslateStatus.Unmapped;
        }

        Space.MmapLock.ReadLock();
        try
        {
            VmArea* next = Space.Tree.FindAtOrAfter(guestAddress, High, out ulong start, out _);
            return next != null && start > guestAddress && (next->VmFlags & VmFlags.GrowsDown) != 0 ? TranslateStatus.GuardGap : TranslateStatus.Unmapped;
        }
        finally
        {
            Space.MmapLock.ReadUnlock();
        }
    }

    /// <summary>
    /// <see cref="AddressSpace.Madvise"/> for <see cref="Madvise(ulong, ulong, Advice)"/>: after
    /// <see cref="Advice.GuardInstall"/> the cached entries of the range go, so the guard pages fault.
    /// </summary>
    private Errno MadviseUnmirrored(ulong address, ulong length, Advice advice)
    {
        Errno error = Space.Madvise(address, length, advice);
        if (advice == Advice.GuardInstall)
        {
            _table.Invalidate(Math.Clamp(address, Low, High), Math.Clamp(SaturatingEnd(address, length), Low, High));
        }

        return error;
    }

    /// <summary>The walk of <see cref="Madvise(ulong, ulong, DropAdvice)"/> under <see cref="_gate"/>: checks each VMA, then drops its part.</summary>
    private Errno DropPages(ulong address, ulong end, DropAdvice advice)
    {
        Errno error = Errno.None;
        ulong cursor = address;
        Space.MmapLock.ReadLock();
        try
        {
            while (cursor < end)
            {
                VmArea* vma = Space.Tree.FindAtOrAfter(cursor, end, out ulong start, out ulong vmaEnd);
                if (vma == null || start > cursor)
                {
                    error = Errno.ENOMEM;
                    if (vma == null)
                    {
                        break;
                    }
                }

                if (!CanDropPages(vma->VmFlags, advice))
                {
                    return Errno.EINVAL;
                }

                ulong from = Math.Max(start, cursor);
                ulong to = Math.Min(vmaEnd, end);
                HostMapping.DropPages(HostAddressOf(from), (nuint)(to - from));
                cursor = to;
            }
        }
        finally
        {
            Space.MmapLock.ReadUnlock();
        }

        return error;
    }

    /// <summary>
    /// <c>madvise_dontneed_free_valid_vma</c> and <c>madvise_remove</c>'s checks: no locked, PFN-mapped or HugeTLB
    /// VMA; MADV_REMOVE only on shared writable memory.
    /// </summary>
    private static bool CanDropPages(VmFlags flags, DropAdvice advice)
    {
        if ((flags & (VmFlags.Locked | VmFlags.PfnMap | VmFlags.HugeTlb)) != 0)
        {
            return false;
        }

        return advice != DropAdvice.Remove || (flags & (VmFlags.Shared | VmFlags.Write)) == (VmFlags.Shared | VmFlags.Write);
    }
}
