using System;
using Microsoft.Win32.SafeHandles;
using VmaEngine.Native;

namespace VmaEngine.Vma.Guest;

/// <summary>
/// The one door through which <see cref="GuestMemory"/> reaches the host's memory calls (<see cref="HostMapping"/>):
/// it counts them, and a test can make any one of them fail as the host would, with an
/// <see cref="OsPagesException"/>, to check that every operation survives a failure at every step.
/// </summary>
/// <remarks>Used under <see cref="GuestMemory"/>'s lock only, so the counters need no synchronization.</remarks>
internal sealed class HostCalls
{
    /// <summary>Calls made so far.</summary>
    public long Count { get; private set; }

    /// <summary>
    /// Test hook: how many more host calls succeed before the next one fails (that one only; the calls after it
    /// succeed again); negative: none fails.
    /// </summary>
    public int FailAfter { get; set; } = -1;

    /// <summary>Whether the failure <see cref="FailAfter"/> asked for has happened.</summary>
    public bool Failed { get; private set; }

    /// <inheritdoc cref="HostMapping.MapAnonymous"/>
    public void MapAnonymous(nint address, nuint size, HostProtection protection)
    {
        Enter("mmap", size);
        HostMapping.MapAnonymous(address, size, protection);
    }

    /// <inheritdoc cref="HostMapping.MapFile"/>
    public void MapFile(nint address, nuint size, HostProtection protection, SafeFileHandle file, ulong offset, bool shared)
    {
        Enter("mmap", size);
        HostMapping.MapFile(address, size, protection, file, offset, shared);
    }

    /// <inheritdoc cref="HostMapping.ReturnToReservation"/>
    public void ReturnToReservation(nint address, nuint size)
    {
        Enter("mmap", size);
        HostMapping.ReturnToReservation(address, size);
    }

    /// <inheritdoc cref="HostMapping.Protect"/>
    public void Protect(nint address, nuint size, HostProtection protection)
    {
        Enter("mprotect", size);
        HostMapping.Protect(address, size, protection);
    }

    /// <inheritdoc cref="HostMapping.TryMove"/>
    public bool TryMove(nint oldAddress, nuint oldSize, nuint newSize, nint newAddress)
    {
        Enter("mremap", newSize);
        return HostMapping.TryMove(oldAddress, oldSize, newSize, newAddress);
    }

    /// <inheritdoc cref="HostMapping.DropPages"/>
    public void DropPages(nint address, nuint size)
    {
        Enter("madvise", size);
        HostMapping.DropPages(address, size);
    }

    /// <inheritdoc cref="HostMapping.RemovePages"/>
    public void RemovePages(nint address, nuint size)
    {
        Enter("madvise", size);
        HostMapping.RemovePages(address, size);
    }

    /// <inheritdoc cref="HostMapping.CreateSharedMemory"/>
    public SafeFileHandle CreateSharedMemory(string name, ulong size)
    {
        Enter("memfd_create", size);
        return HostMapping.CreateSharedMemory(name, size);
    }

    /// <inheritdoc cref="HostMapping.GetResidentPages"/>
    public void GetResidentPages(nint address, nuint size, Span<byte> resident)
    {
        Enter("mincore", size);
        HostMapping.GetResidentPages(address, size, resident);
    }

    /// <inheritdoc cref="HostMapping.CopyIgnoringProtection"/>
    public void CopyIgnoringProtection(nint source, nint destination, nuint size)
    {
        Enter("/proc/self/mem", size);
        HostMapping.CopyIgnoringProtection(source, destination, size);
    }

    /// <inheritdoc cref="HostMapping.Reserve"/>
    public nint Reserve(nuint size)
    {
        Enter("mmap", size);
        return HostMapping.Reserve(size);
    }

    /// <summary>Counts a call, and throws the injected failure when it is this call's turn.</summary>
    private void Enter(string call, ulong size)
    {
        Count++;
        if (FailAfter == 0)
        {
            FailAfter = -1;
            Failed = true;
            throw new OsPagesException(call, size, "ENOMEM (injected)");
        }

        if (FailAfter > 0)
        {
            FailAfter--;
        }
    }
}
