using System;
using Microsoft.Win32.SafeHandles;

namespace VmaEngine.Native;

/// <summary>
/// Fixed-address host mappings for a guest's memory: one reservation of address space that holds nothing, private
/// anonymous memory or a file (shared or private) mapped over any page range of it, shared-memory objects
/// (<c>memfd</c>), protection changes, page moves without copying (<c>mremap</c>), page drops
/// (<c>madvise(MADV_DONTNEED)</c>, <c>MADV_REMOVE</c>), resident-page queries (<c>mincore</c>) and the return of a
/// range to the reservation.
/// </summary>
/// <remarks>
/// Unlike <see cref="OsPages"/>, which hands out regions it owns, these calls act on addresses the caller chose
/// inside a reservation it made with <see cref="Reserve"/>: every call replaces whatever the host had there. The
/// Unix code is in <c>HostMapping.Unix.cs</c> (libc through <c>LibraryImport</c>). On Windows every call throws
/// <see cref="PlatformNotSupportedException"/>: placeholders (<c>VirtualAlloc2</c>, <c>MapViewOfFile3</c>) are not
/// written yet, nor section objects for shared memory.
/// </remarks>
public static partial class HostMapping
{
    /// <summary>
    /// Reserves <paramref name="size"/> bytes of address space anywhere: inaccessible, not committed and not counted
    /// against the host's commit limit (<c>mmap(PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)</c>).
    /// </summary>
    /// <param name="size">A non-zero multiple of <see cref="OsPages.PageSize"/>.</param>
    /// <returns>The page-aligned start of the reservation.</returns>
    /// <exception cref="OsPagesException">The host refused the reservation.</exception>
    public static nint Reserve(nuint size)
    {
        OsPages.ValidateSize(size, nameof(size));
        ThrowUnlessUnix();
        return Unix.Map(0, size, HostProtection.None, fixedAddress: false);
    }

    /// <summary>
    /// Maps fresh private anonymous memory (demand-zero, <c>MAP_NORESERVE</c>) with <paramref name="protection"/>
    /// over [<paramref name="address"/>, +<paramref name="size"/>), discarding what was there
    /// (<c>mmap(MAP_FIXED)</c>).
    /// </summary>
    /// <exception cref="OsPagesException">The host refused the mapping.</exception>
    public static void MapAnonymous(nint address, nuint size, HostProtection protection)
    {
        ThrowUnlessUnix();
        Unix.Map(address, size, protection, fixedAddress: true);
    }

    /// <summary>
    /// Returns [<paramref name="address"/>, +<paramref name="size"/>) to the reservation: contents gone,
    /// inaccessible, nothing committed.
    /// </summary>
    /// <exception cref="OsPagesException">The host refused the mapping.</exception>
    public static void ReturnToReservation(nint address, nuint size) => MapAnonymous(address, size, HostProtection.None);

    /// <summary>Changes the protection of [<paramref name="address"/>, +<paramref name="size"/>) (<c>mprotect</c>).</summary>
    /// <exception cref="OsPagesException">The host refused the change.</exception>
    public static void Protect(nint address, nuint size, HostProtection protection)
    {
        ThrowUnlessUnix();
        Unix.Protect(address, size, protection);
    }

    /// <summary>
    /// Moves the pages of [<paramref name="oldAddress"/>, +<paramref name="oldSize"/>) to
    /// <paramref name="newAddress"/> without copying them, growing or shrinking the range to
    /// <paramref name="newSize"/> (<c>mremap(MREMAP_MAYMOVE | MREMAP_FIXED)</c>): whatever was at the destination is
    /// replaced, and a grown tail is demand-zero memory with the moved mapping's protection. When the sizes are equal
    /// the old range stays mapped, with its protection and without pages (<c>MREMAP_DONTUNMAP</c>, where the host
    /// supports it for the mapping): it is never a hole in which another thread's mmap could land before the caller
    /// maps it again with <c>MAP_FIXED</c>. Otherwise the old range is left unmapped (no longer reserved).
    /// </summary>
    /// <returns>
    /// False, with nothing changed, when the host refuses because the old range is not inside one host mapping
    /// (<c>EFAULT</c>) or spans mappings it cannot move together (<c>EINVAL</c>): the caller moves smaller pieces.
    /// </returns>
    /// <exception cref="OsPagesException">The host failed the move for another reason.</exception>
    public static bool TryMove(nint oldAddress, nuint oldSize, nuint newSize, nint newAddress)
    {
        ThrowUnlessUnix();
        return Unix.TryMove(oldAddress, oldSize, newSize, newAddress);
    }

    /// <summary>
    /// Drops the pages of [<paramref name="address"/>, +<paramref name="size"/>) (<c>madvise(MADV_DONTNEED)</c>):
    /// private anonymous memory reads as zero afterwards; the mapping and its protection stay.
    /// </summary>
    /// <exception cref="OsPagesException">The host refused the advice.</exception>
    public static void DropPages(nint address, nuint size)
    {
        ThrowUnlessUnix();
        Unix.Advise(address, size, Unix.MadvDontNeed, "madvise(MADV_DONTNEED)");
    }

    /// <summary>
    /// Maps <paramref name="file"/> from byte <paramref name="offset"/> with <paramref name="protection"/> over
    /// [<paramref name="address"/>, +<paramref name="size"/>), discarding what was there (<c>mmap(MAP_FIXED)</c> of
    /// the descriptor): <paramref name="shared"/> maps it <c>MAP_SHARED</c> (stores reach the file and every other
    /// shared mapping of it), otherwise <c>MAP_PRIVATE</c> (copy-on-write: stores never reach the file).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="file"/> is null.</exception>
    /// <exception cref="OsPagesException">The host refused the mapping.</exception>
    public static void MapFile(nint address, nuint size, HostProtection protection, SafeFileHandle file, ulong offset, bool shared)
    {
        ArgumentNullException.ThrowIfNull(file);
        ThrowUnlessUnix();
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            Unix.MapFile(address, size, protection, file.DangerousGetHandle(), offset, shared);
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Creates an anonymous shared-memory object of <paramref name="size"/> zero bytes (<c>memfd_create</c> and
    /// <c>ftruncate</c>): what <see cref="MapFile"/> maps for memory several mappings share. Sparse: nothing is
    /// committed until written.
    /// </summary>
    /// <param name="name">The name the host shows for it (<c>/memfd:name</c>).</param>
    /// <param name="size">The object's size in bytes.</param>
    /// <exception cref="OsPagesException">The host refused the object or its size.</exception>
    public static SafeFileHandle CreateSharedMemory(string name, ulong size)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ThrowUnlessUnix();
        return Unix.CreateSharedMemory(name, size);
    }

    /// <summary>
    /// Which pages of [<paramref name="address"/>, +<paramref name="size"/>) are resident (<c>mincore</c>): bit 0 of
    /// <paramref name="resident"/>[i] is set when page i is in memory, whatever its protection.
    /// </summary>
    /// <param name="address">A page-aligned mapped address.</param>
    /// <param name="size">The bytes to look at.</param>
    /// <param name="resident">One byte per page of the range.</param>
    /// <exception cref="ArgumentException"><paramref name="resident"/> has fewer bytes than the range has pages.</exception>
    /// <exception cref="OsPagesException">The host refused (part of the range is not mapped).</exception>
    public static void GetResidentPages(nint address, nuint size, Span<byte> resident)
    {
        ulong pages = ((ulong)size + OsPages.PageSize - 1) / OsPages.PageSize;
        if ((ulong)resident.Length < pages)
        {
            throw new ArgumentException($"mincore of {pages} pages needs that many bytes, not {resident.Length}.", nameof(resident));
        }

        ThrowUnlessUnix();
        Unix.GetResidentPages(address, size, resident);
    }

    /// <summary>
    /// Copies <paramref name="size"/> bytes from <paramref name="source"/> to <paramref name="destination"/>
    /// whatever the protection of either range, as a debugger does (through <c>/proc/self/mem</c>): a store into a
    /// private mapping makes the page private, a store into a shared mapping reaches its object.
    /// </summary>
    /// <exception cref="OsPagesException">The host refused a read or a write.</exception>
    public static void CopyIgnoringProtection(nint source, nint destination, nuint size)
    {
        ThrowUnlessUnix();
        Unix.CopyIgnoringProtection(source, destination, size);
    }

    /// <summary>
    /// Frees the backing store of [<paramref name="address"/>, +<paramref name="size"/>) of a shared mapping
    /// (<c>madvise(MADV_REMOVE)</c>): every mapping of the object reads zero there afterwards.
    /// </summary>
    /// <exception cref="OsPagesException">The host refused the advice.</exception>
    public static void RemovePages(nint address, nuint size)
    {
        ThrowUnlessUnix();
        Unix.Advise(address, size, Unix.MadvRemove, "madvise(MADV_REMOVE)");
    }

    /// <summary>Unmaps [<paramref name="address"/>, +<paramref name="size"/>), reservation and all (<c>munmap</c>).</summary>
    /// <exception cref="OsPagesException">The host refused the unmap.</exception>
    public static void Release(nint address, nuint size)
    {
        ThrowUnlessUnix();
        Unix.Release(address, size);
    }

    /// <summary>Throws <see cref="PlatformNotSupportedException"/> on Windows, whose placeholder mappings are not written yet.</summary>
    private static void ThrowUnlessUnix()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException(
                "HostMapping needs fixed-address mmap and mremap; Windows placeholders (VirtualAlloc2) are not implemented yet.");
        }
    }
}
