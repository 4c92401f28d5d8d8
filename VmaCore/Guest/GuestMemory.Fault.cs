namespace VmaEngine.Vma.Guest;

/// <summary>The fault path of a backed space.</summary>
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
    /// Classifies a page the table shows as unmapped: below a stack VMA (<c>VM_GROWSDOWN</c>) a fault may grow the
    /// stack, elsewhere it is SEGV_MAPERR.
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
