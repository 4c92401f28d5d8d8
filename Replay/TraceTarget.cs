using System;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;

namespace Replay;

/// <summary>
/// What a trace runs on: the engine alone (<see cref="EngineTarget"/>) or the engine with real host memory behind it
/// (<see cref="BackedTarget"/>, <c>--backed</c>). One method per trace operation; each returns the system call's errno.
/// </summary>
internal abstract class TraceTarget : IDisposable
{
    /// <summary>The engine, whose VMAs each <c>maps</c> prints.</summary>
    public abstract AddressSpace Space { get; }

    /// <summary><c>mmap</c>: anonymous when <paramref name="file"/> is null, else of <paramref name="file"/> at byte <paramref name="offset"/>.</summary>
    public abstract Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, MappedFile? file, ulong offset);

    /// <summary><c>munmap</c>.</summary>
    public abstract Errno Munmap(ulong address, ulong length);

    /// <summary><c>mprotect</c>.</summary>
    public abstract Errno Mprotect(ulong address, ulong length, Prot prot);

    /// <summary><c>madvise</c>.</summary>
    public abstract Errno Madvise(ulong address, ulong length, Advice advice);

    /// <summary><c>mlock</c>, or <c>mlock2</c> when <paramref name="flags"/> is not <see cref="MlockFlags.None"/>.</summary>
    public abstract Errno Mlock(ulong address, ulong length, MlockFlags flags);

    /// <summary><c>munlock</c>.</summary>
    public abstract Errno Munlock(ulong address, ulong length);

    /// <summary><c>mseal</c>.</summary>
    public abstract Errno Mseal(ulong address, ulong length);

    /// <summary><c>mlockall</c>.</summary>
    public abstract Errno Mlockall(MlockallFlags flags);

    /// <summary><c>munlockall</c>.</summary>
    public abstract Errno Munlockall();

    /// <summary><c>prctl(PR_SET_VMA_ANON_NAME)</c>.</summary>
    public abstract Errno SetAnonName(ulong address, ulong length, string? name);

    /// <summary>One byte written to each page of the range in ascending order; EFAULT at the first that cannot be written.</summary>
    public abstract Errno Touch(ulong address, ulong length);

    /// <summary><c>mremap</c>.</summary>
    public abstract Errno Mremap(ulong oldAddress, ulong oldLength, ulong newLength, MremapFlags flags, ulong newAddress);

    /// <summary><c>fork</c>: the child target, or null with the errno.</summary>
    public abstract Errno Fork(out TraceTarget? child);

    /// <inheritdoc/>
    public abstract void Dispose();
}
