using System;
using System.Runtime.CompilerServices;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>The fault path of a backed space.</summary>
public sealed unsafe partial class GuestMemory
{
    /// <summary>
    /// <see cref="AddressSpace.Fault"/>, for an access <see cref="Translate"/> refused or the host MMU trapped: the
    /// first write gives the VMA its anon_vma and opens it in the table and on the host; a stack grows to the address.
    /// </summary>
    /// <returns>
    /// The engine's result; <see cref="FaultResult.OutOfMemory"/> (the kernel's <c>VM_FAULT_OOM</c>, as when a page
    /// cannot be allocated after <c>anon_vma_prepare</c>) when the host refused to open the pages. The engine then
    /// keeps what its fault did (the anon_vma, a grown stack), as the kernel does; every page run the host could not
    /// open keeps in the table no more than its old access (<see cref="Translate"/> still reports
    /// <see cref="TranslateStatus.FirstWrite"/>, or <see cref="TranslateStatus.Unmapped"/> on the pages a stack
    /// grew by) and on the host its old protection (the host MMU still traps), so the guest's next access comes
    /// back here, and this call, finding the table behind the VMA, makes the host call again.
    /// </returns>
    public FaultResult Fault(ulong guestAddress, FaultAccess access)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            FaultResult result = Space.Fault(guestAddress, access);
            ulong page = guestAddress & MmConstants.PageMask;
            try
            {
                Mirror(page, page + MmConstants.PageSize, MirrorMode.Known);
            }
            catch (OsPagesException)
            {
                return result == FaultResult.Ok ? FaultResult.OutOfMemory : result;
            }

            return result;
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

        TranslateStatus status = _table.Install(guestAddress, access, out hostAddress);
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
}
