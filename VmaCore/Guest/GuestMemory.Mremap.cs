using System;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>mremap of a backed space: the host moves the pages with its own mremap, nothing is copied.</summary>
public sealed partial class GuestMemory
{
    /// <summary>
    /// <see cref="AddressSpace.Mremap"/>. Shrinking returns the tail to the reservation; growing in place maps what
    /// the VMA maps there (fresh zero memory, or the next pages of its file or shared object); a move takes the host
    /// pages to the new place (<c>mremap(MREMAP_MAYMOVE | MREMAP_FIXED)</c>), so the data is at the new address and
    /// none is left at the old one (with <see cref="MremapFlags.DontUnmap"/> the old range stays mapped: private
    /// anonymous memory reads zero there, a shared object or file its own contents). An old length of 0 maps the
    /// same shared object a second time. When the host refuses to grow or move, the engine takes the change back
    /// (see the type's remarks) and the call fails with ENOMEM.
    /// </summary>
    public Errno Mremap(ulong oldAddress, ulong oldLength, ulong newLength, MremapFlags flags, ulong newAddress, out ulong result)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            Errno error = Space.Mremap(oldAddress, oldLength, newLength, flags, newAddress, out result);
            ulong oldEnd = SaturatingEnd(oldAddress, oldLength);
            if (error != Errno.None)
            {
                MirrorCommitted(oldAddress, oldEnd, MirrorMode.Known);
                if ((flags & MremapFlags.Fixed) != 0)
                {
                    MirrorCommitted(newAddress, SaturatingEnd(newAddress, newLength), MirrorMode.Known);
                }

                return error;
            }

            ulong oldSize = oldEnd - oldAddress;
            ulong newSize = AddressSpacePageAlign(newLength);
            if (result == oldAddress)
            {
                return MirrorInPlace(oldAddress, oldSize, newSize);
            }

            if (oldSize == 0)
            {
                // A second mapping of the same shared object: mapped afresh from its file offset.
                return MirrorMapping(Errno.None, result, newSize, result);
            }

            return MirrorMove(oldAddress, oldSize, newSize, result);
        }
    }

    /// <summary>
    /// An mremap that resized [<paramref name="address"/>, +<paramref name="oldSize"/>) in place to
    /// <paramref name="newSize"/>: the tail it lost returns to the reservation, the tail it gained is mapped; when the
    /// host refuses the growth, the engine shrinks back and the call fails with ENOMEM.
    /// </summary>
    private Errno MirrorInPlace(ulong address, ulong oldSize, ulong newSize)
    {
        ulong from = address + Math.Min(oldSize, newSize);
        ulong to = address + Math.Max(oldSize, newSize);
        if (newSize <= oldSize)
        {
            MirrorCommitted(from, to, MirrorMode.Fresh);
            return Errno.None;
        }

        try
        {
            Mirror(from, to, MirrorMode.Fresh);
            return Errno.None;
        }
        catch (OsPagesException)
        {
            TakeBack(Space.Mremap(address, newSize, oldSize, MremapFlags.None, 0, out _), "mremap");
            MirrorCommitted(from, to, MirrorMode.Fresh);
            return Errno.ENOMEM;
        }
    }

    /// <summary>
    /// An mremap that moved [<paramref name="oldAddress"/>, +<paramref name="oldSize"/>) to
    /// [<paramref name="newAddress"/>, +<paramref name="newSize"/>): the host pages move, then the source (gone, or
    /// mapped afresh under <see cref="MremapFlags.DontUnmap"/>), a grown tail and the destination are mirrored.
    /// When the host refuses the move, the engine moves the VMA back and the call fails with ENOMEM.
    /// </summary>
    private Errno MirrorMove(ulong oldAddress, ulong oldSize, ulong newSize, ulong newAddress)
    {
        ulong oldEnd = oldAddress + oldSize;
        ulong kept = Math.Min(oldSize, newSize);
        HostProtection? movedWith = HostProtectionBefore(oldAddress, oldAddress + kept);
        CloseInTable(oldAddress, oldEnd);
        CloseInTable(newAddress, newAddress + newSize);
        try
        {
            MovePages(oldAddress, newAddress, kept);
        }
        catch (OsPagesException)
        {
            MremapFlags back = MremapFlags.MayMove | MremapFlags.Fixed;
            TakeBack(Space.Mremap(newAddress, newSize, kept, back, oldAddress, out _), "mremap");
            MirrorCommitted(oldAddress, oldAddress + kept, MirrorMode.Known);
            MirrorCommitted(oldAddress + kept, oldEnd, MirrorMode.Fresh);
            MirrorCommitted(newAddress, newAddress + newSize, MirrorMode.Fresh);
            return Errno.ENOMEM;
        }

        // The source first: the host move left it mapped without pages (or, on a host without MREMAP_DONTUNMAP, a
        // hole that the destination's walk must not reprotect) until it is mapped again or reserved. A grown tail is mapped before the moved pages are reprotected,
        // so no walk reprotects a hole.
        MirrorCommitted(oldAddress, oldEnd, MirrorMode.Fresh);
        if (newSize > kept)
        {
            MirrorCommitted(newAddress + kept, newAddress + newSize, MirrorMode.Fresh);
        }

        MirrorCommitted(newAddress, newAddress + kept, MirrorMode.Moved, movedWith);
        return Errno.None;
    }

    /// <summary>
    /// Moves the host pages of [<paramref name="oldAddress"/>, +<paramref name="size"/>) to
    /// <paramref name="newAddress"/>: in one host mremap when the old range is one host mapping, else page by page
    /// (host mappings may split where the engine's VMAs do not). If a page-by-page move fails midway, the pages
    /// already moved are moved back before the failure propagates, so the host holds the old layout.
    /// </summary>
    private void MovePages(ulong oldAddress, ulong newAddress, ulong size)
    {
        nint from = HostAddressOf(oldAddress);
        nint to = HostAddressOf(newAddress);
        if (_host.TryMove(from, (nuint)size, (nuint)size, to))
        {
            return;
        }

        ulong offset = 0;
        try
        {
            for (; offset < size; offset += MmConstants.PageSize)
            {
                MovePage(from + (nint)offset, to + (nint)offset, oldAddress + offset);
            }
        }
        catch (OsPagesException)
        {
            for (ulong back = 0; back < offset; back += MmConstants.PageSize)
            {
                MovePage(to + (nint)back, from + (nint)back, newAddress + back);
            }

            throw;
        }
    }

    /// <summary>Moves one host page; a page is always one host mapping, so only a host failure can refuse it.</summary>
    private void MovePage(nint from, nint to, ulong guestAddress)
    {
        if (!_host.TryMove(from, (nuint)MmConstants.PageSize, (nuint)MmConstants.PageSize, to))
        {
            throw new OsPagesException("mremap", MmConstants.PageSize, $"the host refused to move the single page at guest {guestAddress:x}");
        }
    }
}
