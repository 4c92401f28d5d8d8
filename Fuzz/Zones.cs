using System;
using VmaEngine.Vma;

namespace Fuzz;

/// <summary>
/// The address ranges where the fuzzer compares the engine with the kernel: ranges where the kernel helper has
/// nothing of its own (its executable, libraries, heap and stack lie outside them), so the two address spaces start
/// equal there. Low: [0, 1 MiB) (mmap_min_addr lies inside). Empty: from 2 GiB up to 1 GiB below the helper's lowest
/// mapping above 2 GiB (MAP_32BIT placements land in [1 GiB, 2 GiB), outside). Top: the last MiB below TASK_SIZE when
/// the stack leaves it free, and everything above TASK_SIZE (never mapped, never in the VMA tree).
/// </summary>
internal sealed class Zones
{
    /// <summary>The page the generator concentrates on: 64 GiB, inside the empty zone.</summary>
    public const ulong Focus = 64UL << 30;

    private readonly (UInt128 Start, UInt128 End)[] _zones;

    /// <summary>Zones from the kernel helper's report (each end exclusive; an empty top zone is (0, 0)).</summary>
    public Zones(ulong lowEnd, ulong emptyStart, ulong emptyEnd, ulong topStart, ulong topEnd)
    {
        ulong top = topEnd == 0 ? MmConstants.TaskSize : topStart;
        _zones = [(0, lowEnd), (emptyStart, emptyEnd), (top, (UInt128)1 << 64)];
        PrintedTop = topEnd == 0 ? (0, 0) : (topStart, topEnd);
    }

    /// <summary>The zones of an engine-only run: as a typical x86-64 process with its executable at 0x5555_0000_0000.</summary>
    public static Zones EngineOnly { get; } =
        new(1UL << 20, 2UL << 30, 0x5554_C000_0000, MmConstants.TaskSize - (1UL << 20), MmConstants.TaskSize);

    /// <summary>
    /// A range no call may touch, though it lies in a zone: [sysctl vm.mmap_min_addr, the kernel's mmap_min_addr)
    /// when the sysctl is below CONFIG_LSM_MMAP_MIN_ADDR. There MAP_FIXED needs no CAP_SYS_RAWIO though hints are
    /// raised above it, two limits the engine models as one.
    /// </summary>
    public (ulong Start, ulong End) Unmodelled { get; init; }

    /// <summary>The top zone as printed (below TASK_SIZE), or (0, 0).</summary>
    public (ulong Start, ulong End) PrintedTop { get; }

    /// <summary>The low zone.</summary>
    public (ulong Start, ulong End) Low => ((ulong)_zones[0].Start, (ulong)_zones[0].End);

    /// <summary>The empty zone.</summary>
    public (ulong Start, ulong End) Empty => ((ulong)_zones[1].Start, (ulong)_zones[1].End);

    /// <summary>Whether [start, start + length) lies inside one zone (the sum taken without wrapping).</summary>
    public bool Contains(ulong start, ulong length)
    {
        UInt128 end = (UInt128)start + length;
        if (start < Unmodelled.End && end > Unmodelled.Start)
        {
            return false;
        }

        foreach ((UInt128 zoneStart, UInt128 zoneEnd) in _zones)
        {
            if (start >= zoneStart && end <= zoneEnd && start < zoneEnd)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="address"/> lies in a zone (placements elsewhere are not compared).</summary>
    public bool Contains(ulong address) => Contains(address, 1);

    /// <summary>The zones as printed in a call's layout: (base, end) pairs, absolute pages.</summary>
    public (ulong Start, ulong End)[] Printed() => [Low, Empty, PrintedTop];

    /// <summary>A short description for reports.</summary>
    public override string ToString() =>
        $"low [0, {Low.End:x}), empty [{Empty.Start:x}, {Empty.End:x}), top [{PrintedTop.Start:x}, {PrintedTop.End:x})";

    /// <summary>Throws when the helper's zones leave no room for the focus window.</summary>
    public void CheckFocus()
    {
        if (!Contains(Focus, 1UL << 30))
        {
            throw new InvalidOperationException($"the focus window at {Focus:x} is outside the comparable zones ({this})");
        }
    }
}
