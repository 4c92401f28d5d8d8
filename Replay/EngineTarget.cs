using VmaEngine.Vma;
using VmaEngine.Vma.Files;

namespace Replay;

/// <summary>A trace run on the engine alone: each operation is the <see cref="AddressSpace"/> system call.</summary>
internal sealed class EngineTarget(AddressSpace space) : TraceTarget
{
    /// <inheritdoc/>
    public override AddressSpace Space { get; } = space;

    /// <inheritdoc/>
    public override Errno Mmap(ulong address, ulong length, Prot prot, MapFlags flags, MappedFile? file, ulong offset) =>
        file == null ? Space.Mmap(address, length, prot, flags, out _) : Space.Mmap(address, length, prot, flags, file, offset, out _);

    /// <inheritdoc/>
    public override Errno Munmap(ulong address, ulong length) => Space.Munmap(address, length);

    /// <inheritdoc/>
    public override Errno Mprotect(ulong address, ulong length, Prot prot) => Space.Mprotect(address, length, prot);

    /// <inheritdoc/>
    public override Errno Madvise(ulong address, ulong length, Advice advice) => Space.Madvise(address, length, advice);

    /// <inheritdoc/>
    public override Errno Mlock(ulong address, ulong length, MlockFlags flags) =>
        flags != MlockFlags.None ? Space.Mlock2(address, length, flags) : Space.Mlock(address, length);

    /// <inheritdoc/>
    public override Errno Munlock(ulong address, ulong length) => Space.Munlock(address, length);

    /// <inheritdoc/>
    public override Errno Mseal(ulong address, ulong length) => Space.Mseal(address, length, 0);

    /// <inheritdoc/>
    public override Errno Mlockall(MlockallFlags flags) => Space.Mlockall(flags);

    /// <inheritdoc/>
    public override Errno Munlockall() => Space.Munlockall();

    /// <inheritdoc/>
    public override Errno SetAnonName(ulong address, ulong length, string? name) => Space.SetAnonName(address, length, name);

    /// <inheritdoc/>
    public override Errno Touch(ulong address, ulong length) => Space.Touch(address, length);

    /// <inheritdoc/>
    public override Errno Mremap(ulong oldAddress, ulong oldLength, ulong newLength, MremapFlags flags, ulong newAddress) =>
        Space.Mremap(oldAddress, oldLength, newLength, flags, newAddress, out _);

    /// <inheritdoc/>
    public override Errno Fork(out TraceTarget? child)
    {
        Errno result = Space.Fork(out AddressSpace? forked);
        child = forked != null ? new EngineTarget(forked) : null;
        return result;
    }

    /// <inheritdoc/>
    public override void Dispose() => Space.Dispose();
}
