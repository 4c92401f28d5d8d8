using System;
using System.Collections.Generic;
using Microsoft.Win32.SafeHandles;
using VmaEngine.Native;
using VmaEngine.Vma.Files;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// The system calls of a backed space: each runs the engine's call (the same errno, the same VMAs), then mirrors the
/// range it changed. A failed call is mirrored too, as a protection change: some failures leave part of the work
/// done, as the kernel's do.
/// </summary>
/// <remarks>
/// When a host call fails (<see cref="OsPagesException"/>) while an operation is mirrored, the engine and the host
/// are brought back in line before the operation returns:
/// <list type="bullet">
/// <item>mmap, brk growth, mremap growth in place, mremap with old length 0: the engine takes the new pages back
/// (munmap, the old break, the old length), the host returns them to the reservation, the call fails with ENOMEM
/// (brk: the old break). A <see cref="MapFlags.Fixed"/> mapping has then replaced what was there, as the kernel's
/// <c>mmap_region</c> may when it fails after the unmap.</item>
/// <item>mprotect: the engine's protections over the range are put back as they were, the call fails with ENOMEM
/// (the kernel's mprotect may fail at any VMA; here it fails as if at the first).</item>
/// <item>mremap move: if the host move fails the engine moves the VMA back (a shrink and the destination's old
/// mappings stay gone, as in the kernel, which unmaps both before moving), ENOMEM.</item>
/// <item>Everything the kernel does atomically and the engine cannot take back (munmap, brk shrink, madvise and
/// mlock flag changes, names, faults, the rest of an mremap once the pages moved): the mirror, whose steps are
/// idempotent, runs once more, and the call returns the engine's result.</item>
/// </list>
/// A second failure in such a repair propagates as the <see cref="OsPagesException"/>: the table then refuses the
/// pages it could not confirm, so the guest faults rather than touching memory the engine does not allow.
/// </remarks>
public sealed partial class GuestMemory
{
    /// <summary>The VMA parts and protections of an mprotect range, kept to put them back (reused: the writer is single).</summary>
    private readonly List<(ulong Start, ulong End, Prot Prot)> _protections = [];

    /// <summary>
    /// <see cref="AddressSpace.Mmap(ulong, ulong, Prot, MapFlags, out ulong)"/> of anonymous memory: private memory
    /// is fresh demand-zero host memory; <see cref="MapFlags.Shared"/> memory is a new host shared-memory object
    /// (<c>memfd</c>) that every VMA split, moved or forked from the mapping keeps mapping. Either replaces what a
    /// <see cref="MapFlags.Fixed"/> mapping replaced.
    /// </summary>
    public Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, out ulong mapped)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ulong size = AddressSpacePageAlign(length);
            bool sharedAnonymous = (flags & (MapFlags.Shared | MapFlags.Anonymous)) == (MapFlags.Shared | MapFlags.Anonymous)
                && size != 0 && size <= High - Low;
            SafeFileHandle? memory;
            try
            {
                memory = sharedAnonymous ? _host.CreateSharedMemory("guest-shared", size) : null;
            }
            catch (OsPagesException)
            {
                mapped = 0;
                return Errno.ENOMEM;
            }

            using (memory)
            {
                Errno error = Space.Mmap(address, length, prot, flags, out mapped);
                if (error == Errno.None && memory != null)
                {
                    HostFiles.Register(FileIdAt(mapped), memory);
                }

                return MirrorMapping(error, address, length, mapped);
            }
        }
    }

    /// <summary>
    /// <see cref="AddressSpace.Mmap(ulong, ulong, Prot, MapFlags, MappedFile, ulong, out ulong)"/> of a file opened
    /// with <see cref="FileRegistry.OpenHost"/>: the host maps the host file at the offset, <see cref="MapFlags.Shared"/>
    /// (stores reach the file and every other shared mapping of it) or private (copy on write: stores never reach
    /// the file; dropped pages read the file again).
    /// </summary>
    /// <exception cref="ArgumentException">The file has no host handle (it was not opened with <see cref="FileRegistry.OpenHost"/>).</exception>
    public Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, MappedFile file, ulong offset, out ulong mapped)
    {
        ArgumentNullException.ThrowIfNull(file);
        if ((flags & MapFlags.Anonymous) != 0)
        {
            // As the kernel ignores the descriptor of an anonymous mapping.
            return Mmap(address, length, prot, flags, out mapped);
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            if (HostFiles.HandleOf(file.Id) == null)
            {
                throw new ArgumentException($"GuestMemory maps host files only: '{file.Name}' was not opened with FileRegistry.OpenHost.", nameof(file));
            }

            Errno error = Space.Mmap(address, length, prot, flags, file, offset, out mapped);
            return MirrorMapping(error, address, length, mapped);
        }
    }

    /// <summary><see cref="AddressSpace.Munmap"/>; the host range returns to the reservation, contents gone.</summary>
    public Errno Munmap(ulong address, ulong length)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            Errno error = Space.Munmap(address, length);
            MirrorCommitted(address, SaturatingEnd(address, length), error == Errno.None ? MirrorMode.Fresh : MirrorMode.Known);
            return error;
        }
    }

    /// <summary>
    /// <see cref="AddressSpace.Mprotect"/>; the host protection follows through <see cref="HostProtectionOf"/>. When
    /// the host refuses, the engine's protections go back to what they were and the call fails with ENOMEM.
    /// </summary>
    public Errno Mprotect(ulong address, ulong length, Prot prot)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ulong end = SaturatingEnd(address, length);
            RecordProtections(address, end);
            Errno error = Space.Mprotect(address, length, prot);
            try
            {
                Mirror(address, end, MirrorMode.Known);
                return error;
            }
            catch (OsPagesException)
            {
                RestoreProtections();
                MirrorCommitted(address, end, MirrorMode.Known);
                return Errno.ENOMEM;
            }
        }
    }

    /// <summary><see cref="AddressSpace.Mlock"/>; population may give VMAs their anon_vma, which opens them.</summary>
    public Errno Mlock(ulong address, ulong length) => MirrorKnown(address, length, () => Space.Mlock(address, length));

    /// <summary><see cref="AddressSpace.Munlock"/>.</summary>
    public Errno Munlock(ulong address, ulong length) => MirrorKnown(address, length, () => Space.Munlock(address, length));

    /// <summary><see cref="AddressSpace.SetAnonName"/> (<c>PR_SET_VMA_ANON_NAME</c>); splits and merges are mirrored.</summary>
    public Errno SetAnonName(ulong address, ulong length, string? name) => MirrorKnown(address, length, () => Space.SetAnonName(address, length, name));

    /// <summary>
    /// <see cref="AddressSpace.Brk"/>; pages the heap gains are fresh zero memory, pages it loses return to the
    /// reservation. When the host refuses the growth, the break stays where it was (ENOMEM, as the kernel's brk
    /// reports a refused growth).
    /// </summary>
    public Errno Brk(ulong newBrk, out ulong result)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ulong oldBrk = Space.CurrentBrk;
            Errno error = Space.Brk(newBrk, out result);
            ulong from = AddressSpacePageAlign(Math.Min(oldBrk, result));
            ulong to = AddressSpacePageAlign(Math.Max(oldBrk, result));
            if (error != Errno.None || result <= oldBrk)
            {
                MirrorCommitted(from, to, error == Errno.None ? MirrorMode.Fresh : MirrorMode.Known);
                return error;
            }

            try
            {
                Mirror(from, to, MirrorMode.Fresh);
                return error;
            }
            catch (OsPagesException)
            {
                TakeBack(Space.Brk(oldBrk, out result), "brk");
                MirrorCommitted(from, to, MirrorMode.Fresh);
                return Errno.ENOMEM;
            }
        }
    }

    /// <summary>
    /// Mirrors a mapping the engine made (or refused): on a host failure the engine unmaps it again and the call
    /// fails with ENOMEM. Under <see cref="_gate"/>.
    /// </summary>
    private Errno MirrorMapping(Errno error, ulong address, ulong length, ulong mapped)
    {
        if (error != Errno.None)
        {
            MirrorCommitted(address, SaturatingEnd(address, length), MirrorMode.Known);
            return error;
        }

        ulong end = mapped + AddressSpacePageAlign(length);
        try
        {
            Mirror(mapped, end, MirrorMode.Fresh);
            return error;
        }
        catch (OsPagesException)
        {
            TakeBack(Space.Munmap(mapped, end - mapped), "munmap");
            MirrorCommitted(mapped, end, MirrorMode.Fresh);
            return Errno.ENOMEM;
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
            MirrorCommitted(address, SaturatingEnd(address, length), MirrorMode.Known);
            return error;
        }
    }

    /// <summary>
    /// Mirrors a change the engine keeps whatever the host does: when a host call fails, the mirror (each of whose
    /// steps may be repeated) runs once more; a second failure propagates.
    /// </summary>
    private void MirrorCommitted(ulong start, ulong end, MirrorMode mode, HostProtection? movedWith = null)
    {
        try
        {
            Mirror(start, end, mode, movedWith);
        }
        catch (OsPagesException)
        {
            Mirror(start, end, mode, movedWith);
        }
    }

    /// <summary>Throws when the engine refused to take back a change the host could not follow.</summary>
    private static void TakeBack(Errno error, string call)
    {
        if (error != Errno.None)
        {
            throw new InvalidOperationException($"The host refused a memory call and the engine's {call} that would undo the change failed with {error}: the backed space is no longer consistent.");
        }
    }

    /// <summary>Records the protections of the VMA parts in [<paramref name="start"/>, <paramref name="end"/>) into <see cref="_protections"/>.</summary>
    private unsafe void RecordProtections(ulong start, ulong end)
    {
        _protections.Clear();
        Space.MmapLock.ReadLock();
        try
        {
            ulong address = start;
            while (address < end)
            {
                VmArea* vma = Space.Tree.FindAtOrAfter(address, end, out ulong vmaStart, out ulong vmaEnd);
                if (vma == null)
                {
                    break;
                }

                ulong partEnd = Math.Min(vmaEnd, end);
                _protections.Add((Math.Max(vmaStart, address), partEnd, ProtOf(vma->VmFlags)));
                address = partEnd;
            }
        }
        finally
        {
            Space.MmapLock.ReadUnlock();
        }
    }

    /// <summary>Puts back the protections <see cref="RecordProtections"/> recorded.</summary>
    private void RestoreProtections()
    {
        foreach ((ulong start, ulong end, Prot prot) in _protections)
        {
            TakeBack(Space.Mprotect(start, end - start, prot), "mprotect");
        }
    }

    /// <summary>The <see cref="Prot"/> bits of a VMA's flags.</summary>
    private static Prot ProtOf(VmFlags flags) =>
        ((flags & VmFlags.Read) != 0 ? Prot.Read : Prot.None)
        | ((flags & VmFlags.Write) != 0 ? Prot.Write : Prot.None)
        | ((flags & VmFlags.Exec) != 0 ? Prot.Exec : Prot.None);

    /// <summary>The <see cref="VmFile.Id"/> of the object the VMA at <paramref name="address"/> maps.</summary>
    private unsafe int FileIdAt(ulong address)
    {
        Space.MmapLock.ReadLock();
        try
        {
            VmArea* vma = Space.Tree.Load(address);
            System.Diagnostics.Debug.Assert(vma != null && vma->VmFile != null, "a shared anonymous mapping has its object");
            return vma->VmFile->Id;
        }
        finally
        {
            Space.MmapLock.ReadUnlock();
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
