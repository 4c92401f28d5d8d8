using System;
using System.Diagnostics;
using System.Threading;
using VmaEngine.Vma.Locking;

namespace VmaEngine.Vma;

/// <summary>
/// A VMA held read-locked for a host that does not use pointers: what <see cref="AddressSpace.ReadLockVma"/> returns,
/// to be disposed (<c>using VmaReadLock vma = space.ReadLockVma(address);</c>). While it is locked no system call
/// can change, split, merge or unmap the VMA (they wait for it), so its fields read here stay true.
/// </summary>
/// <remarks>
/// <see cref="Dispose"/> releases the lock exactly once, whichever thread calls it and however often; later calls do
/// nothing. Hold it briefly, as a page-fault handler does: every writer of the VMA, and
/// <see cref="AddressSpace.Dispose"/>, waits for it. A class rather than a struct so that copies cannot release the
/// lock twice; the allocation-free path is <see cref="AddressSpace.LockVmaUnderRcu"/>.
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed unsafe class VmaReadLock : IDisposable
{
    /// <summary>The guard of an address where nothing is mapped: no VMA, nothing to release.</summary>
    internal static readonly VmaReadLock Empty = new(null, default);

    /// <summary>The read-locked VMA, 0 once released (or for <see cref="Empty"/>).</summary>
    private nint _vma;

    /// <summary>The VMA's fields, copied once the lock was taken (they cannot change while it is held).</summary>
    private readonly VmaInfo _info;

    /// <summary>A guard of <paramref name="vma"/>, read-locked by the caller, with its fields.</summary>
    internal VmaReadLock(VmArea* vma, VmaInfo info)
    {
        _vma = (nint)vma;
        _info = info;
    }

    /// <summary>Whether a VMA was found at the address (false: nothing was mapped there, and nothing is locked).</summary>
    public bool HasValue => _info.End != 0;

    /// <summary>Whether the guard still holds the VMA's read lock (a VMA was found and the guard is not disposed).</summary>
    public bool IsLocked => Volatile.Read(ref _vma) != 0;

    /// <summary>All the VMA's fields at once.</summary>
    /// <exception cref="InvalidOperationException">The guard holds no VMA (nothing was mapped, or it was disposed).</exception>
    public VmaInfo Info
    {
        get
        {
            if (!IsLocked)
            {
                throw new InvalidOperationException(HasValue
                    ? "The VMA read lock was released: its fields may have changed since."
                    : "No VMA was mapped at the address: check HasValue first.");
            }

            return _info;
        }
    }

    /// <summary>The first byte (<c>vm_start</c>).</summary>
    /// <exception cref="InvalidOperationException">The guard holds no VMA.</exception>
    public ulong Start => Info.Start;

    /// <summary>One past the last byte (<c>vm_end</c>).</summary>
    /// <exception cref="InvalidOperationException">The guard holds no VMA.</exception>
    public ulong End => Info.End;

    /// <summary>The <c>vm_flags</c> (the access bits are the protection).</summary>
    /// <exception cref="InvalidOperationException">The guard holds no VMA.</exception>
    public VmFlags Flags => Info.Flags;

    /// <summary>The page offset of <see cref="Start"/> in the backing object (<c>vm_pgoff</c>).</summary>
    /// <exception cref="InvalidOperationException">The guard holds no VMA.</exception>
    public ulong Pgoff => Info.Pgoff;

    /// <summary>Anonymous, shared anonymous or a file.</summary>
    /// <exception cref="InvalidOperationException">The guard holds no VMA.</exception>
    public VmaBacking Backing => Info.Backing;

    /// <summary>The mapped file's name, or null.</summary>
    /// <exception cref="InvalidOperationException">The guard holds no VMA.</exception>
    public string? FileName => Info.FileName;

    /// <summary>The anonymous name (<c>PR_SET_VMA_ANON_NAME</c>), or null.</summary>
    /// <exception cref="InvalidOperationException">The guard holds no VMA.</exception>
    public string? AnonName => Info.AnonName;

    /// <summary>Releases the read lock (<c>vma_end_read</c>) the first time; does nothing afterwards.</summary>
    public void Dispose()
    {
        nint vma = Interlocked.Exchange(ref _vma, 0);
        if (vma != 0)
        {
            VmaLock.EndRead((VmArea*)vma);
        }
    }

    /// <summary>The VMA in hex with its state (locked, released or none); never throws.</summary>
    public override string ToString() =>
        !HasValue ? "VmaReadLock (no VMA)" : $"VmaReadLock {(IsLocked ? "locked" : "released")} {_info}";
}
