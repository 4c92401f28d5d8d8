using System;
using VmaEngine.Vma.Files;

namespace VmaEngine.Vma;

/// <summary>
/// The memory-management system calls of one guest process (<c>mm/mmap.c</c>, <c>mm/mprotect.c</c>,
/// <c>mm/madvise.c</c>, <c>mm/mlock.c</c>, <c>mm/mseal.c</c>, <c>mm/mremap.c</c>, <c>prctl(PR_SET_VMA)</c>), as
/// <see cref="AddressSpace"/> makes them on the engine alone and <see cref="Guest.GuestMemory"/> makes them with host
/// memory behind the engine: the same errno and the same VMAs from either. Code that forwards a guest's calls (a
/// system-call dispatcher, a trace replayer) is written once for both.
/// </summary>
/// <remarks>Each member's contract is that of the <see cref="AddressSpace"/> member of the same name.</remarks>
public interface IMemorySyscalls : IDisposable
{
    /// <inheritdoc cref="AddressSpace.Mmap(ulong, ulong, Prot, MapFlags, out ulong)"/>
    public Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, out ulong mapped);

    /// <inheritdoc cref="AddressSpace.Mmap(ulong, ulong, Prot, MapFlags, MappedFile, ulong, out ulong)"/>
    public Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, MappedFile file, ulong offset, out ulong mapped);

    /// <inheritdoc cref="AddressSpace.Munmap"/>
    public Errno Munmap(ulong address, ulong length);

    /// <inheritdoc cref="AddressSpace.Mprotect"/>
    public Errno Mprotect(ulong address, ulong length, Prot prot);

    /// <inheritdoc cref="AddressSpace.Madvise(ulong, ulong, Advice)"/>
    public Errno Madvise(ulong address, ulong length, Advice advice);

    /// <inheritdoc cref="AddressSpace.Mlock"/>
    public Errno Mlock(ulong address, ulong length);

    /// <inheritdoc cref="AddressSpace.Mlock2"/>
    public Errno Mlock2(ulong address, ulong length, MlockFlags flags);

    /// <inheritdoc cref="AddressSpace.Munlock"/>
    public Errno Munlock(ulong address, ulong length);

    /// <inheritdoc cref="AddressSpace.Mlockall"/>
    public Errno Mlockall(MlockallFlags flags);

    /// <inheritdoc cref="AddressSpace.Munlockall"/>
    public Errno Munlockall();

    /// <inheritdoc cref="AddressSpace.Mseal"/>
    public Errno Mseal(ulong address, ulong length, ulong flags);

    /// <inheritdoc cref="AddressSpace.SetAnonName"/>
    public Errno SetAnonName(ulong address, ulong length, string? name);

    /// <inheritdoc cref="AddressSpace.Mremap"/>
    public Errno Mremap(ulong oldAddress, ulong oldLength, ulong newLength, MremapFlags flags, ulong newAddress, out ulong result);

    /// <inheritdoc cref="AddressSpace.Brk"/>
    public Errno Brk(ulong newBrk, out ulong result);
}
