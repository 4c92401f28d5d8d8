using System;
using VmaEngine.Slab;

namespace VmaEngine.Vma;

/// <summary>
/// The engine's <c>slub_debug</c>: when the <see cref="AppContext"/> switch <see cref="Name"/> is on before the
/// engine first allocates (in the host's runtimeconfig, or <see cref="AppContext.SetSwitch"/> at startup), the caches
/// of VMAs, anon_vmas and anon_vma_chains are debug caches (<see cref="SlabFlags.Debug"/>: red zones, poisoning,
/// double-free and foreign-pointer checks on every allocation and free). Read once: the caches live for the process.
/// </summary>
internal static class SlabDebugSwitch
{
    /// <summary>The switch's name.</summary>
    public const string Name = "VmaEngine.Vma.SlabDebug";

    /// <summary><see cref="SlabFlags.Debug"/> when the switch is on, else none.</summary>
    public static SlabFlags Flags => AppContext.TryGetSwitch(Name, out bool on) && on ? SlabFlags.Debug : SlabFlags.None;
}
