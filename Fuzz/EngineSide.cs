using System;
using System.Globalization;
using System.IO;
using Replay;
using Replay.Trace;
using VmaEngine.Vma;
using VmaEngine.Vma.Files;

namespace Fuzz;

/// <summary>
/// Runs calls on an <see cref="AddressSpace"/> and prints, for each, what the kernel helper prints: the result line
/// and the layout of every zone (with Replay's <c>MapsPrinter</c>, as the oracle's format).
/// </summary>
internal sealed class EngineSide : IDisposable
{
    private readonly FileRegistry _files = new();
    private readonly MappedFile _file;
    private readonly Zones _zones;

    /// <summary>An engine side printing <paramref name="zones"/>.</summary>
    public EngineSide(Zones zones)
    {
        _zones = zones;
        _file = _files.Open("f", TraceParser.FilePages);
    }

    /// <summary>
    /// The options of this machine's kernel: the <c>oracle-host</c> profile (Linux 6.18, no anonymous VMA names, no
    /// soft-dirty, no memory-failure advices, the 6.16 merge fix, 6.17's multi-VMA mremap and 6.18's guard flag) with the
    /// zero page as the helper found it on this machine, and the helper's heap start and mmap_min_addr.
    /// </summary>
    public static AddressSpaceOptions HostOptions(ulong startBrk, ulong mmapMinAddr, bool zeroPage)
    {
        AddressSpaceOptions profile = AddressSpaceOptions.ForProfile(AddressSpaceOptions.ProfileOracleHost);
        return new AddressSpaceOptions
        {
            AnonVmaNames = profile.AnonVmaNames,
            SoftDirty = profile.SoftDirty,
            MremapMultipleVmas = profile.MremapMultipleVmas,
            AllowMergeOfFaultedWithUnfaulted = profile.AllowMergeOfFaultedWithUnfaulted,
            ZeroPage = zeroPage,
            MemoryFailure = profile.MemoryFailure,
            MaybeGuardFlag = profile.MaybeGuardFlag,
            DontUnmapKeepsAccount = profile.DontUnmapKeepsAccount,
            DroppableNeverLocked = profile.DroppableNeverLocked,
            GiganticHugePages = profile.GiganticHugePages,
            StartBrk = startBrk,
            MmapMinAddr = mmapMinAddr,
        };
    }

    /// <summary>Applies <paramref name="call"/> and returns the helper's result line for it (without the layout).</summary>
    public string Apply(AddressSpace space, FuzzCall call)
    {
        ulong result = 0;
        Errno error;
        switch (call.Kind)
        {
            case CallKind.Mmap:
                error = space.Mmap(call.A0, call.A1, (Prot)(uint)call.A2, (MapFlags)(uint)call.A3, out result);
                break;
            case CallKind.MmapFile:
                error = space.Mmap(call.A0, call.A1, (Prot)(uint)call.A2, (MapFlags)(uint)call.A3, _file, call.A4, out result);
                break;
            case CallKind.Munmap:
                error = space.Munmap(call.A0, call.A1);
                break;
            case CallKind.Mprotect:
                error = space.Mprotect(call.A0, call.A1, (Prot)(uint)call.A2);
                break;
            case CallKind.Madvise:
                error = space.Madvise(call.A0, call.A1, (Advice)(int)call.A2);
                break;
            case CallKind.Mlock:
                error = space.Mlock(call.A0, call.A1);
                break;
            case CallKind.Munlock:
                error = space.Munlock(call.A0, call.A1);
                break;
            case CallKind.Mremap:
                error = space.Mremap(call.A0, call.A1, call.A2, (MremapFlags)(uint)call.A3, call.A4, out result);
                break;
            case CallKind.Brk:
                space.Brk(call.A0, out result);
                return Line(result, Errno.None);
            case CallKind.SetAnonName:
                error = space.SetAnonName(call.A0, call.A1, call.A2 switch { 1 => "a", 2 => "b", _ => null });
                break;
            case CallKind.Fault:
                return $"= {space.Fault(call.A0, (FaultAccess)(int)call.A1)} 0";
            default:
                error = space.Touch(call.A0, call.A1);
                break;
        }

        return Line(error == Errno.None ? result : ulong.MaxValue, error);
    }

    /// <summary>The layout of every zone and the mm counters (<see cref="AddressSpace.Counters"/>), as the helper prints them after each call.</summary>
    public string Layout(AddressSpace space)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        foreach ((ulong start, ulong end) in _zones.Printed())
        {
            MapsPrinter.Print(space, text, start, end);
        }

        // The kernel side prints how far /proc/self/status's counters moved since the case began; the engine's
        // address space began empty.
        MmCounters c = space.Counters;
        text.WriteLine($"counters {c.TotalVm} {c.LockedVm} {c.PinnedVm} {c.DataVm} {c.ExecVm} {c.StackVm}");
        return text.ToString();
    }

    /// <inheritdoc/>
    public void Dispose() => _files.Dispose();

    private static string Line(ulong result, Errno error) => $"= {result:x} {(int)error}";
}
