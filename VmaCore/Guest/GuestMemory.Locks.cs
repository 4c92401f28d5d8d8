namespace VmaEngine.Vma.Guest;

/// <summary>
/// The memory-locking and sealing calls of a backed space: they change VMA flags and split or merge VMAs, and
/// population gives VMAs their anon_vma, which opens them on the host and in the table.
/// </summary>
public sealed partial class GuestMemory
{
    /// <summary><see cref="AddressSpace.Mlock2"/>.</summary>
    public Errno Mlock2(ulong address, ulong length, MlockFlags flags) => MirrorKnown(address, length, () => Space.Mlock2(address, length, flags));

    /// <summary><see cref="AddressSpace.Mseal"/>; sealed VMAs refuse later changes in the engine, before the host is asked.</summary>
    public Errno Mseal(ulong address, ulong length, ulong flags) => MirrorKnown(address, length, () => Space.Mseal(address, length, flags));

    /// <summary><see cref="AddressSpace.Mlockall"/>: the whole backed range is mirrored (MCL_CURRENT populates every VMA).</summary>
    public Errno Mlockall(MlockallFlags flags) => MirrorKnown(Low, High - Low, () => Space.Mlockall(flags));

    /// <summary><see cref="AddressSpace.Munlockall"/>: the whole backed range is mirrored.</summary>
    public Errno Munlockall() => MirrorKnown(Low, High - Low, Space.Munlockall);
}
