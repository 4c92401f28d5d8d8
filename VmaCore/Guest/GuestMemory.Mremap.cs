using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>mremap of a backed space: the host moves the pages with its own mremap, nothing is copied.</summary>
public sealed partial class GuestMemory
{
    /// <summary>
    /// <see cref="AddressSpace.Mremap"/>. Shrinking returns the tail to the reservation; growing in place maps fresh
    /// zero memory; a move takes the host pages to the new place (<c>mremap(MREMAP_MAYMOVE | MREMAP_FIXED)</c>),
    /// so the data is at the new address and none is left at the old one (with <see cref="MremapFlags.DontUnmap"/>
    /// the old range stays mapped and reads as zero).
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
                Mirror(oldAddress, oldEnd, MirrorMode.Known);
                if ((flags & MremapFlags.Fixed) != 0)
                {
                    Mirror(newAddress, SaturatingEnd(newAddress, newLength), MirrorMode.Known);
                }

                return error;
            }

            ulong oldSize = oldEnd - oldAddress;
            ulong newSize = AddressSpacePageAlign(newLength);
            if (result == oldAddress)
            {
                Mirror(oldAddress + System.Math.Min(oldSize, newSize), oldAddress + System.Math.Max(oldSize, newSize), MirrorMode.Fresh);
                return error;
            }

            _table.Fill(oldAddress, oldEnd, 0, present: false);
            _table.Fill(result, result + newSize, 0, present: false);
            MovePages(oldAddress, oldSize, newSize, result);

            // The source first: until it is mapped again (MREMAP_DONTUNMAP) or reserved, the host has a hole there
            // that the destination's walk must not reprotect.
            Mirror(oldAddress, oldEnd, MirrorMode.Fresh);
            Mirror(result, result + newSize, MirrorMode.Moved);
            return error;
        }
    }

    /// <summary>
    /// Moves the host pages of [<paramref name="oldAddress"/>, +<paramref name="oldSize"/>) to
    /// <paramref name="newAddress"/>, grown or shrunk to <paramref name="newSize"/>: in one host mremap when the old
    /// range is one host mapping, else page by page (host mappings may split where the engine's VMAs do not), with a
    /// grown tail mapped afresh.
    /// </summary>
    private void MovePages(ulong oldAddress, ulong oldSize, ulong newSize, ulong newAddress)
    {
        nint from = HostAddressOf(oldAddress);
        nint to = HostAddressOf(newAddress);
        if (HostMapping.TryMove(from, (nuint)oldSize, (nuint)newSize, to))
        {
            return;
        }

        ulong kept = System.Math.Min(oldSize, newSize);
        for (ulong offset = 0; offset < kept; offset += MmConstants.PageSize)
        {
            if (!HostMapping.TryMove(from + (nint)offset, (nuint)MmConstants.PageSize, (nuint)MmConstants.PageSize, to + (nint)offset))
            {
                throw new OsPagesException("mremap", MmConstants.PageSize, $"the host refused to move the single page at guest {oldAddress + offset:x}");
            }
        }

        if (newSize > oldSize)
        {
            HostMapping.MapAnonymous(to + (nint)oldSize, (nuint)(newSize - oldSize), HostProtection.None);
        }
    }
}
