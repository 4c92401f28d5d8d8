using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VmaEngine.Vma;

/// <summary>
/// The VMA engine's figures, published through <see cref="System.Diagnostics.Metrics"/>: faults by result and by
/// path, system calls by name and errno, merges and splits, per-VMA lock writer waits, and the VMAs and address
/// spaces alive. Watch them with <c>dotnet-counters monitor --counters VmaEngine.Vma -p PID</c>.
/// </summary>
/// <remarks>
/// Nothing is counted while nobody listens: each event site tests its counter's <see cref="Instrument.Enabled"/>
/// (a load and a predictable branch) and only then calls a method kept out of line that builds the tags. The
/// gauges are read from the live address spaces only when a listener collects them. What that costs is measured by
/// Bench's <c>--without meters</c>, which runs the fault path and the merge pairs in one BenchmarkDotNet run on this
/// build and on one whose event sites are compiled out (<c>VMAENGINE_WITHOUT_METERS</c>).
/// </remarks>
public static unsafe class VmaMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "VmaEngine.Vma";

    /// <summary>The tag of <c>vma.faults</c> that carries the <see cref="FaultResult"/>.</summary>
    public const string ResultTag = "result";

    /// <summary>
    /// The tag of <c>vma.faults</c> that carries the path: <c>vma_lock</c> (handled under the per-VMA lock, without
    /// mmap_lock), <c>mmap_lock</c> (no VMA could be read-locked under RCU: nothing mapped there, a writer held it,
    /// or it changed) or <c>retry</c> (the VMA was read-locked but the fault needed mmap_lock: an anon_vma to prepare).
    /// </summary>
    public const string PathTag = "path";

    /// <summary>The tag of <c>vma.syscalls</c> that carries the system call's name (<c>mmap</c>, <c>mprotect</c>, ...).</summary>
    public const string SyscallTag = "syscall";

    /// <summary>The tag of <c>vma.syscalls</c> that carries the <see cref="Errno"/> returned (<c>None</c> for success).</summary>
    public const string ErrnoTag = "errno";

    /// <summary>The live address spaces' mms, for the gauges; guarded by itself.</summary>
    private static readonly HashSet<nint> s_liveMms = new();

    /// <summary>The meter; instruments are created with it.</summary>
    private static readonly Meter s_meter = CreateMeter();

    /// <summary>Faults handled (<see cref="AddressSpace.Fault"/>, and each run of pages <see cref="AddressSpace.Touch"/> faults).</summary>
    internal static readonly Counter<long> Faults =
        s_meter.CreateCounter<long>("vma.faults", "{fault}", "Faults handled, by result and by path.");

    /// <summary>System calls made on address spaces.</summary>
    internal static readonly Counter<long> Syscalls =
        s_meter.CreateCounter<long>("vma.syscalls", "{call}", "System calls, by name and errno.");

    /// <summary>Merges committed (<c>commit_merge</c>).</summary>
    internal static readonly Counter<long> Merges =
        s_meter.CreateCounter<long>("vma.merges", "{merge}", "VMA merges committed (commit_merge).");

    /// <summary>Splits made (<c>__split_vma</c>).</summary>
    internal static readonly Counter<long> Splits =
        s_meter.CreateCounter<long>("vma.splits", "{split}", "VMA splits (__split_vma).");

    /// <summary>Times a VMA writer found readers inside and had to wait for them.</summary>
    internal static readonly Counter<long> WriterWaits =
        s_meter.CreateCounter<long>("vma.lock.writer_waits", "{wait}", "Times a per-VMA lock writer waited for readers to leave.");

    /// <summary>The meter of the VMA engine.</summary>
    public static Meter Meter => s_meter;

    /// <summary>Records a new address space for the gauges.</summary>
    internal static void AddressSpaceCreated(MmStruct* mm)
    {
        lock (s_liveMms)
        {
            s_liveMms.Add((nint)mm);
        }
    }

    /// <summary>Forgets an address space whose mm is about to be freed.</summary>
    internal static void AddressSpaceDisposed(MmStruct* mm)
    {
        lock (s_liveMms)
        {
            s_liveMms.Remove((nint)mm);
        }
    }

    /// <summary>Counts a fault with its result and path, if anyone listens; returns <paramref name="result"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static FaultResult Fault(FaultResult result, FaultPath path)
    {
#if !VMAENGINE_WITHOUT_METERS
        if (Faults.Enabled)
        {
            RecordFault(result, path);
        }
#endif

        return result;
    }

    /// <summary>Counts a system call with its errno, if anyone listens; returns <paramref name="error"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Errno Syscall(string name, Errno error)
    {
#if !VMAENGINE_WITHOUT_METERS
        if (Syscalls.Enabled)
        {
            RecordSyscall(name, error);
        }
#endif

        return error;
    }

    /// <summary>Counts one event on <paramref name="counter"/>, if anyone listens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Count(Counter<long> counter)
    {
#if !VMAENGINE_WITHOUT_METERS
        if (counter.Enabled)
        {
            counter.Add(1);
        }
#endif
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RecordFault(FaultResult result, FaultPath path) =>
        Faults.Add(1, new KeyValuePair<string, object?>(ResultTag, result.ToString()), new KeyValuePair<string, object?>(PathTag, PathName(path)));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RecordSyscall(string name, Errno error) =>
        Syscalls.Add(1, new KeyValuePair<string, object?>(SyscallTag, name), new KeyValuePair<string, object?>(ErrnoTag, error.ToString()));

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, "1.0");
        meter.CreateObservableUpDownCounter("vma.count", CountVmas, "{vma}", "VMAs in the live address spaces (map_count summed).");
        meter.CreateObservableUpDownCounter("vma.address_spaces", CountAddressSpaces, "{mm}", "Address spaces created and not disposed.");
        return meter;
    }

    private static string PathName(FaultPath path) => path switch
    {
        FaultPath.VmaLock => "vma_lock",
        FaultPath.Retry => "retry",
        _ => "mmap_lock",
    };

    private static long CountVmas()
    {
        long total = 0;
        lock (s_liveMms)
        {
            foreach (nint mm in s_liveMms)
            {
                total += Volatile.Read(ref ((MmStruct*)mm)->MapCount);
            }
        }

        return total;
    }

    private static long CountAddressSpaces()
    {
        lock (s_liveMms)
        {
            return s_liveMms.Count;
        }
    }
}
