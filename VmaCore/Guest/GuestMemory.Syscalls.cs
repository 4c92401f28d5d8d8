using System;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// The system calls of a backed space: each runs the engine's call (the same errno, the same VMAs), then mirrors the
/// range it changed. A failed call is mirrored too, as a protection change: some failures leave part of the work
/// done, as the kernel's do.
/// </summary>
public sealed partial class GuestMemory
{
    /// <summary>
    /// <see cref="AddressSpace.Mmap(ulong, ulong, Prot, MapFlags, out ulong)"/> of private anonymous memory; the
    /// host maps fresh demand-zero memory there, replacing whatever a <see cref="MapFlags.Fixed"/> mapping
    /// replaced.
    /// </summary>
    /// <exception cref="NotSupportedException">A shared mapping: shared anonymous memory is not backed yet.</exception>
    public Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, out ulong mapped)
    {
        if ((flags & MapFlags.Shared) != 0)
        {
            throw new NotSupportedException("GuestMemory backs private anonymous mappings only: MAP_SHARED memory (one memfd per object) is not implemented yet.");
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            Errno error = Space.Mmap(address, length, prot, flags, out mapped);
            if (error == Errno.None)
            {
                Mirror(mapped, mapped + AddressSpacePageAlign(length), MirrorMode.Fresh);
            }
            else
            {
                Mirror(address, SaturatingEnd(address, length), MirrorMode.Known);
            }

            return error;
        }
    }

    /// <summary><see cref="AddressSpace.Munmap"/>; the host range returns to the reservation, contents gone.</summary>
    public Errno Munmap(ulong address, ulong length)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            Errno error = Space.Munmap(address, length);
            Mirror(address, SaturatingEnd(address, length), error == Errno.None ? MirrorMode.Fresh : MirrorMode.Known);
            return error;
        }
    }

    /// <summary><see cref="AddressSpace.Mprotect"/>; the host protection follows through <see cref="HostProtectionOf"/>.</summary>
    public Errno Mprotect(ulong address, ulong length, Prot prot) => MirrorKnown(address, length, () => Space.Mprotect(address, length, prot));

    /// <summary><see cref="AddressSpace.Madvise"/> of an advice that changes VMA flags; splits and merges are mirrored.</summary>
    public Errno Madvise(ulong address, ulong length, Advice advice) => MirrorKnown(address, length, () => MadviseUnmirrored(address, length, advice));

    /// <summary><see cref="AddressSpace.Mlock"/>; population may give VMAs their anon_vma, which opens them.</summary>
    public Errno Mlock(ulong address, ulong length) => MirrorKnown(address, length, () => Space.Mlock(address, length));

    /// <summary><see cref="AddressSpace.Munlock"/>.</summary>
    public Errno Munlock(ulong address, ulong length) => MirrorKnown(address, length, () => Space.Munlock(address, length));

    /// <summary><see cref="AddressSpace.SetAnonName"/> (<c>PR_SET_VMA_ANON_NAME</c>); splits and merges are mirrored.</summary>
    public Errno SetAnonName(ulong address, ulong length, string? name) => MirrorKnown(address, length, () => Space.SetAnonName(address, length, name));

    /// <summary><see cref="AddressSpace.Brk"/>; pages the heap gains are fresh zero memory, pages it loses return to the reservation.</summary>
    public Errno Brk(ulong newBrk, out ulong result)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ulong oldBrk = Space.CurrentBrk;
            Errno error = Space.Brk(newBrk, out result);
            ulong from = AddressSpacePageAlign(Math.Min(oldBrk, result));
            ulong to = AddressSpacePageAlign(Math.Max(oldBrk, result));
            Mirror(from, to, error == Errno.None ? MirrorMode.Fresh : MirrorMode.Known);
            return error;
        }
    }

    /// <summary>
    /// Runs <paramref name="call"/>, which changes at most the flags, splits and anon_vmas of the VMAs in
    /// [<paramref name="address"/>, +<paramref name="length"/>), and mirrors that range.
    /// </summary>
    private Errno MirrorKnown(ulong address, ulong length, Func<Errno> call)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            Errno error = call();
            Mirror(address, SaturatingEnd(address, length), MirrorMode.Known);
            return error;
        }
    }

    /// <summary>The end of [address, address + length) rounded up to pages, or 2^64 - page when it wraps.</summary>
    private static ulong SaturatingEnd(ulong address, ulong length)
    {
        ulong end = address + AddressSpacePageAlign(length);
        return end < address || AddressSpacePageAlign(length) < length ? MmConstants.PageMask : end;
    }

    /// <summary><paramref name="value"/> rounded up to a page (wrapping to 0 past 2^64 - page, as <c>PAGE_ALIGN</c>).</summary>
    private static ulong AddressSpacePageAlign(ulong value) => (value + MmConstants.PageSize - 1) & MmConstants.PageMask;
}
