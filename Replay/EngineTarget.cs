using VmaEngine.Vma;

namespace Replay;

/// <summary>A trace run on the engine alone: the system calls and <c>touch</c> are the <see cref="AddressSpace"/>'s.</summary>
internal sealed class EngineTarget(AddressSpace space) : TraceTarget(space)
{
    /// <inheritdoc/>
    public override AddressSpace Space { get; } = space;

    /// <inheritdoc/>
    public override Errno Touch(ulong address, ulong length) => Space.Touch(address, length);

    /// <inheritdoc/>
    public override Errno Fork(out TraceTarget? child)
    {
        Errno result = Space.Fork(out AddressSpace? forked);
        child = forked != null ? new EngineTarget(forked) : null;
        return result;
    }
}
