using System;
using System.Runtime.InteropServices;

namespace Bench.VmaCore;

/// <summary>
/// The system calls of the surface benchmarks that Mono.Posix does not offer, straight from glibc: mseal (through
/// <c>syscall</c>, glibc has no wrapper), mlock2 and madvise.
/// </summary>
internal static partial class KernelMm
{
    /// <summary>__NR_mseal on x86-64.</summary>
    private const long SysMseal = 462;

    /// <summary>mseal(2): seals [address, address + length).</summary>
    public static int Mseal(IntPtr address, ulong length) => (int)syscall(SysMseal, address, (nuint)length, 0);

    /// <summary>mlock2(2).</summary>
    public static int Mlock2(IntPtr address, ulong length, uint flags) => mlock2(address, (nuint)length, flags);

    /// <summary>munlock(2).</summary>
    public static int Munlock(IntPtr address, ulong length) => munlock(address, (nuint)length);

    /// <summary>madvise(2).</summary>
    public static int Madvise(IntPtr address, ulong length, int advice) => madvise(address, (nuint)length, advice);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, IntPtr address, nuint length, nuint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int mlock2(IntPtr address, nuint length, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munlock(IntPtr address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(IntPtr address, nuint length, int advice);
}
