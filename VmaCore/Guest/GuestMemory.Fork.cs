using System;
using System.Collections.Generic;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>fork of a backed space: the child gets its own host memory.</summary>
public sealed partial class GuestMemory
{
    /// <summary>
    /// <see cref="AddressSpace.Fork"/> with the memory behind it: the child has its own host reservation of the same
    /// guest range and the same host protection function. Its shared mappings (shared anonymous objects, shared
    /// files) map the parent's objects, so either sees the other's stores; its private mappings are copies of the
    /// parent's resident pages (<c>mincore</c> says which; a private file mapping's unwritten pages are copied too,
    /// and then no longer follow the file), the rest demand-zero (or the file); a later store in either is invisible
    /// to the other. <c>VM_DONTCOPY</c> mappings are absent in the child, <c>VM_WIPEONFORK</c> ones start empty.
    /// </summary>
    /// <param name="child">The child, owned by the caller; null on failure.</param>
    /// <returns>
    /// <see cref="Errno.None"/>, or ENOMEM when the engine or the host refused memory: nothing of the child is left
    /// and the parent is unchanged.
    /// </returns>
    /// <exception cref="ObjectDisposedException">This space is disposed.</exception>
    public Errno Fork(out GuestMemory? child)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            child = null;
            Errno error = Space.Fork(out AddressSpace? space);
            if (error != Errno.None)
            {
                return error;
            }

            GuestMemory copy;
            try
            {
                copy = new GuestMemory(this, space!);
            }
            catch (OsPagesException)
            {
                space!.Dispose();
                return Errno.ENOMEM;
            }

            try
            {
                copy.MapForkedPages(this);
                copy._host = new HostCalls();
            }
            catch (OsPagesException)
            {
                copy.Dispose();
                return Errno.ENOMEM;
            }

            child = copy;
            return Errno.None;
        }
    }

    /// <summary>
    /// Maps every VMA of this new child as <paramref name="parent"/> maps it and copies the parent's resident private
    /// pages, through the host calls the child was built with (the parent's). Runs before anyone else can see the child.
    /// </summary>
    private void MapForkedPages(GuestMemory parent)
    {
        HostCalls host = _host;
        IReadOnlyList<VmaInfo> vmas = Space.Snapshot();
        if (vmas.Count == 0)
        {
            return;
        }

        // The child's mirror maps every VMA afresh (files and shared objects at their offsets).
        Mirror(Low, High, MirrorMode.Fresh);
        byte[] resident = [];
        foreach (VmaInfo vma in vmas)
        {
            if ((vma.Flags & (VmFlags.MayShare | VmFlags.WipeOnFork)) != 0 || vma.Start < Low || vma.End > High)
            {
                continue;
            }

            ulong pages = vma.Length / MmConstants.PageSize;
            if ((ulong)resident.Length < pages)
            {
                resident = new byte[pages];
            }

            host.GetResidentPages(parent.HostAddressOf(vma.Start), (nuint)vma.Length, resident);
            CopyResidentRuns(host, parent, vma.Start, resident.AsSpan(0, (int)pages));
        }
    }

    /// <summary>Copies each run of resident pages of the parent's VMA at <paramref name="start"/> into this child.</summary>
    private void CopyResidentRuns(HostCalls host, GuestMemory parent, ulong start, ReadOnlySpan<byte> resident)
    {
        int page = 0;
        while (page < resident.Length)
        {
            if ((resident[page] & 1) == 0)
            {
                page++;
                continue;
            }

            int first = page;
            while (page < resident.Length && (resident[page] & 1) != 0)
            {
                page++;
            }

            ulong from = start + ((ulong)first * MmConstants.PageSize);
            nuint size = (nuint)((ulong)(page - first) * MmConstants.PageSize);
            host.CopyIgnoringProtection(parent.HostAddressOf(from), HostAddressOf(from), size);
        }
    }
}
