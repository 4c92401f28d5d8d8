using System;
using VmaEngine.Vma;

namespace Replay;

/// <summary>
/// What a trace runs on: the engine alone (<see cref="EngineTarget"/>) or the engine with real host memory behind it
/// (<see cref="BackedTarget"/>, <c>--backed</c>). The system calls go to <see cref="Syscalls"/>, the same for both;
/// only what a guest does without a system call (<c>touch</c>) and <c>fork</c>, whose child is of the target's kind,
/// differ.
/// </summary>
internal abstract class TraceTarget(IMemorySyscalls syscalls) : IDisposable
{
    /// <summary>The system calls of the trace's process: <see cref="AddressSpace"/> or <see cref="VmaEngine.Vma.Guest.GuestMemory"/>.</summary>
    public IMemorySyscalls Syscalls { get; } = syscalls;

    /// <summary>The engine, whose VMAs each <c>maps</c> prints.</summary>
    public abstract AddressSpace Space { get; }

    /// <summary>One byte written to each page of the range in ascending order; EFAULT at the first that cannot be written.</summary>
    public abstract Errno Touch(ulong address, ulong length);

    /// <summary><c>fork</c>: the child target, or null with the errno.</summary>
    public abstract Errno Fork(out TraceTarget? child);

    /// <summary>Disposes the process's address space (and its host memory).</summary>
    public void Dispose() => Syscalls.Dispose();
}
