using System;
using System.Numerics;

namespace VmaEngine.Native;

/// <summary>
/// Pages from the operating system. <see cref="Reserve"/> takes a naturally aligned range of address space
/// that holds no memory yet; the returned <see cref="PageRegion"/> commits, decommits, protects and advises
/// page ranges inside it and releases it exactly once.
/// </summary>
/// <remarks>
/// The platform code lives in <c>OsPages.Unix.cs</c> (mmap, munmap and mprotect through Mono.Posix) and
/// <c>OsPages.Windows.cs</c> (VirtualAlloc, VirtualFree and VirtualProtect through LibraryImport); the choice is
/// made at run time, and both always compile.
/// </remarks>
public static unsafe partial class OsPages
{
    /// <summary>The size in bytes of a base page on this machine (4096 on x86-64 Linux).</summary>
    public static nuint PageSize { get; } = (nuint)Environment.SystemPageSize;

    /// <summary>
    /// Reserves <paramref name="size"/> bytes of address space whose start is a multiple of
    /// <paramref name="alignment"/>. The pages are inaccessible and hold no memory until committed.
    /// </summary>
    /// <param name="size">A non-zero multiple of <see cref="PageSize"/>.</param>
    /// <param name="alignment">A power of two; values below <see cref="PageSize"/> mean page alignment.</param>
    /// <exception cref="ArgumentException">A zero, unaligned or overflowing size, or an alignment that is not a power of two.</exception>
    /// <exception cref="OsPagesException">The operating system refused the reservation.</exception>
    public static PageRegion Reserve(nuint size, nuint alignment)
    {
        ValidateSize(size, nameof(size));
        if (alignment == 0 || !BitOperations.IsPow2(alignment))
        {
            throw new ArgumentException($"The alignment must be a power of two, not {alignment}.", nameof(alignment));
        }

        alignment = Math.Max(alignment, PageSize);
        if (size > nuint.MaxValue - alignment)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"The size plus the alignment {alignment} overflows the address space.");
        }

        void* address = OperatingSystem.IsWindows() ? Windows.Reserve(size, alignment) : Unix.Reserve(size, alignment);
        return new PageRegion(address, size);
    }

    /// <summary>Throws unless <paramref name="size"/> is a non-zero multiple of the page size.</summary>
    internal static void ValidateSize(nuint size, string paramName)
    {
        if (size == 0)
        {
            throw new ArgumentOutOfRangeException(paramName, size, "The size must not be zero.");
        }

        if (!IsPageAligned(size))
        {
            throw new ArgumentException($"The size {size} is not a multiple of the page size {PageSize}.", paramName);
        }
    }

    /// <summary>Whether <paramref name="value"/> is a multiple of the page size.</summary>
    internal static bool IsPageAligned(nuint value) => (value & (PageSize - 1)) == 0;

    internal static void Commit(void* address, nuint size)
    {
        if (OperatingSystem.IsWindows())
        {
            Windows.Commit(address, size);
        }
        else
        {
            Unix.Protect(address, size, PageProtection.ReadWrite);
        }
    }

    internal static void Decommit(void* address, nuint size)
    {
        if (OperatingSystem.IsWindows())
        {
            Windows.Decommit(address, size);
        }
        else
        {
            Unix.Decommit(address, size);
        }
    }

    internal static void Protect(void* address, nuint size, PageProtection protection)
    {
        if (OperatingSystem.IsWindows())
        {
            Windows.Protect(address, size, protection);
        }
        else
        {
            Unix.Protect(address, size, protection);
        }
    }

    internal static void AdviseDontNeed(void* address, nuint size)
    {
        if (OperatingSystem.IsWindows())
        {
            Windows.AdviseDontNeed(address, size);
        }
        else
        {
            Unix.AdviseDontNeed(address, size);
        }
    }

    internal static void Release(void* address, nuint size)
    {
        if (OperatingSystem.IsWindows())
        {
            Windows.Release(address);
        }
        else
        {
            Unix.Release(address, size);
        }
    }
}
