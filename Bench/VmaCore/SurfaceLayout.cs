using System;
using Mono.Unix.Native;
using VmaEngine.Vma;

namespace Bench.VmaCore;

/// <summary>
/// The layout of the surface benchmarks, in the engine or in this process: <c>units</c> 3-page private anonymous
/// VMAs, each followed by a 1-page hole, even ones read-write, odd ones read-only.
/// </summary>
internal sealed class SurfaceLayout : IDisposable
{
    /// <summary>The page size.</summary>
    public const ulong Page = MmConstants.PageSize;

    private const ulong UnitPages = 4;
    private const ulong EngineBase = 0x1000_0000_0000;
    private const MapFlags EngineFixed = MapFlags.Private | MapFlags.Anonymous | MapFlags.Fixed;

    private readonly int _units;
    private readonly AddressSpace? _space;
    private readonly IntPtr _kernelRegion;

    private SurfaceLayout(int units, AddressSpace? space, IntPtr kernelRegion)
    {
        _units = units;
        _space = space;
        _kernelRegion = kernelRegion;
    }

    /// <summary>The engine's address space.</summary>
    /// <exception cref="InvalidOperationException">This is a kernel layout.</exception>
    public AddressSpace Space => _space ?? throw new InvalidOperationException("a kernel layout has no engine address space");

    /// <summary>The layout in a new engine address space.</summary>
    public static SurfaceLayout Engine(int units)
    {
        var space = new AddressSpace(new AddressSpaceOptions { MaxMapCount = 4 * units });
        for (int i = 0; i < units; i++)
        {
            Prot prot = i % 2 == 0 ? Prot.Read | Prot.Write : Prot.Read;
            ulong unit = EngineBase + ((ulong)i * UnitPages * Page);
            Check(space.Mmap(unit, 3 * Page, prot, EngineFixed, out _) == VmaEngine.Vma.Errno.None, "engine layout");
        }

        Check(space.MapCount == units, "engine VMA count");
        return new SurfaceLayout(units, space, IntPtr.Zero);
    }

    /// <summary>The layout in this process, made with real system calls.</summary>
    public static SurfaceLayout Kernel(int units)
    {
        ulong length = (ulong)units * UnitPages * Page;
        const MmapProts rw = MmapProts.PROT_READ | MmapProts.PROT_WRITE;
        IntPtr region = Syscall.mmap(IntPtr.Zero, length, rw, MmapFlags.MAP_PRIVATE | MmapFlags.MAP_ANONYMOUS | MmapFlags.MAP_NORESERVE, -1, 0);
        Check(region != Syscall.MAP_FAILED, "kernel region");
        for (int i = 0; i < units; i++)
        {
            ulong unit = (ulong)region + ((ulong)i * UnitPages * Page);
            Check(Syscall.munmap((IntPtr)(unit + (3 * Page)), Page) == 0, "kernel hole");
            if (i % 2 != 0)
            {
                Check(Syscall.mprotect((IntPtr)unit, 3 * Page, MmapProts.PROT_READ) == 0, "kernel protection");
            }
        }

        return new SurfaceLayout(units, null, region);
    }

    /// <summary>The start of the engine's VMA number <paramref name="unit"/>.</summary>
    public ulong EngineUnit(int unit) => EngineBase + ((ulong)unit * UnitPages * Page);

    /// <summary>The start of the kernel layout's VMA number <paramref name="unit"/>.</summary>
    public ulong KernelUnit(int unit) => (ulong)_kernelRegion + ((ulong)unit * UnitPages * Page);

    /// <summary>Throws when a setup or benchmark step failed, naming it and errno.</summary>
    public static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"surface benchmark: {what} failed (errno {Stdlib.GetLastError()})");
        }
    }

    /// <summary>Releases the engine's address space, or the kernel layout (sealed mappings stay until exit).</summary>
    public void Dispose()
    {
        _space?.Dispose();
        if (_kernelRegion != IntPtr.Zero)
        {
            Syscall.munmap(_kernelRegion, (ulong)_units * UnitPages * Page);
        }
    }
}
