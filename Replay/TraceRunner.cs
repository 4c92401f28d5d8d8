using System;
using System.Collections.Generic;
using System.IO;
using Replay.Picture;
using Replay.Trace;
using VmaEngine.Native;
using VmaEngine.Vma;
using VmaEngine.Vma.Guest;

namespace Replay;

/// <summary>
/// Applies a vmatrace v1 trace to a fresh <see cref="AddressSpace"/> and prints what the kernel oracle prints:
/// an <c>error OP errno=NAME</c> line for each failed operation and a <c>maps</c> block for each <c>maps</c>.
/// Backed (<c>--backed</c>), the space has real host memory behind it (<see cref="BackedTarget"/>) and prints the same.
/// </summary>
/// <remarks>
/// The window of <see cref="WindowPages"/> pages starts at <see cref="WindowBase"/>, a 1 GiB aligned address with
/// at least <see cref="GuardPages"/> empty pages on each side, as the oracle places it; every trace operation is
/// MAP_FIXED, so the engine's own placement never runs.
/// </remarks>
public static class TraceRunner
{
    /// <summary>The window size in pages (the oracle's default).</summary>
    public const ulong WindowPages = 1UL << 20;

    /// <summary>Empty pages kept on each side of the window (the oracle's default).</summary>
    public const ulong GuardPages = 1UL << 20;

    /// <summary>The byte address of page 0 of the window.</summary>
    public const ulong WindowBase = 64UL << 30;

    /// <summary>Exit status of a run that completed (failed operations included).</summary>
    public const int Success = 0;

    /// <summary>Exit status of a malformed trace.</summary>
    public const int Malformed = 2;

    /// <summary>
    /// Exit status of a backed run the host could not back: no <see cref="GuestMemory"/> on this system (not Linux),
    /// or the host refused the reservation, a memfd or a host mapping the run needed. Its output is to be discarded,
    /// as the oracle's own exit status 3 (environment failure) says of the oracle's.
    /// </summary>
    public const int BackingUnavailable = 3;

    /// <summary>
    /// Validates the whole trace, then runs it, as the oracle does: a malformed trace prints its problem (with the
    /// line number) to <paramref name="error"/>, writes nothing to <paramref name="output"/> and returns
    /// <see cref="Malformed"/>. Each <c>maps</c> also adds the layout it printed to <paramref name="snapshots"/> when
    /// one is given (for <see cref="LayoutPicture"/>). When <paramref name="backed"/>, the trace runs on a
    /// <see cref="BackedTarget"/>; a host that cannot back it stops the run with <see cref="BackingUnavailable"/> and
    /// a message on <paramref name="error"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="trace"/> is read once, line by line: the validation copies it into a temporary file
    /// (<see cref="TraceSpool"/>) and the run reads the copy, so memory use does not grow with the trace's length. A
    /// trace in a file is better given to <see cref="Run(Func{TextReader}, TextWriter, AddressSpaceOptions, TextWriter, ICollection{LayoutSnapshot}?, bool)"/>,
    /// which reads the file twice and copies nothing.
    /// </remarks>
    /// <exception cref="IOException">The temporary copy cannot be written or read.</exception>
    public static int Run(
        TextReader trace,
        TextWriter output,
        AddressSpaceOptions options,
        TextWriter error,
        ICollection<LayoutSnapshot>? snapshots = null,
        bool backed = false)
    {
        using var spool = new TraceSpool(trace);
        return Run(spool.Open, output, options, error, snapshots, backed);
    }

    /// <summary>
    /// Validates the trace that <paramref name="openTrace"/> gives, then runs the trace it gives when called again
    /// (the same text, such as a file opened twice); each reader is disposed after its pass. Returns and prints as
    /// <see cref="Run(TextReader, TextWriter, AddressSpaceOptions, TextWriter, ICollection{LayoutSnapshot}?, bool)"/>,
    /// holding one line at a time whatever the trace's length.
    /// </summary>
    /// <remarks>A trace that turns malformed between the passes (a file changed meanwhile) stops the run at that line
    /// with <see cref="Malformed"/>, after the output of the lines before it.</remarks>
    public static int Run(
        Func<TextReader> openTrace,
        TextWriter output,
        AddressSpaceOptions options,
        TextWriter error,
        ICollection<LayoutSnapshot>? snapshots = null,
        bool backed = false)
    {
        ArgumentNullException.ThrowIfNull(openTrace);
        try
        {
            using (TextReader validation = openTrace())
            {
                TraceParser.Validate(validation, WindowPages);
            }

            using TextReader trace = openTrace();
            RunOperations(TraceParser.ReadOperations(trace, WindowPages), output, options, snapshots, backed);
            return Success;
        }
        catch (TraceFormatException e)
        {
            error.WriteLine($"Replay: {e.Message}");
            return Malformed;
        }
        catch (Exception e) when (backed && e is PlatformNotSupportedException or OsPagesException)
        {
            error.WriteLine($"Replay: --backed: {e.Message}");
            return BackingUnavailable;
        }
    }

    /// <summary>Applies <paramref name="operations"/>, parsed as they are applied, to a fresh address space (backed when <paramref name="backed"/>).</summary>
    private static void RunOperations(
        IEnumerable<TraceOperation> operations, TextWriter output, AddressSpaceOptions options, ICollection<LayoutSnapshot>? snapshots, bool backed)
    {
        // The address spaces forked so far, oldest first: the trace runs in the last one, and each parent stays
        // alive and undisposed until the end, as the oracle's parent waits for its child.
        var lineage = new List<TraceTarget> { backed ? new BackedTarget(options) : new EngineTarget(new AddressSpace(options)) };
        using var files = new TraceFiles(backed);
        try
        {
            foreach (TraceOperation op in operations)
            {
                TraceTarget target = lineage[^1];
                if (op.Kind == TraceOpKind.Maps)
                {
                    List<VmaInfo> vmas = MapsPrinter.InWindow(target.Space);
                    MapsPrinter.Print(vmas, output);
                    snapshots?.Add(new LayoutSnapshot(op.Line, vmas));
                    continue;
                }

                Errno result = op.Kind == TraceOpKind.Fork ? Fork(lineage) : Apply(target, files, op);
                if (result != Errno.None)
                {
                    output.Write($"error {op.Keyword} errno={result}\n");
                }
            }
        }
        finally
        {
            for (int i = lineage.Count - 1; i >= 0; i--)
            {
                lineage[i].Dispose();
            }
        }
    }

    /// <summary><c>fork</c>: the child of the running address space becomes the running one.</summary>
    private static Errno Fork(List<TraceTarget> lineage)
    {
        Errno result = lineage[^1].Fork(out TraceTarget? child);
        if (child != null)
        {
            lineage.Add(child);
        }

        return result;
    }

    private static Errno Apply(TraceTarget target, TraceFiles files, TraceOperation op)
    {
        ulong address = Bytes(op.Address);
        ulong length = op.Length << MmConstants.PageShift;
        IMemorySyscalls calls = target.Syscalls;
        switch (op.Kind)
        {
            case TraceOpKind.Mmap:
                MapFlags placement = (op.MapFlags & MapFlags.FixedNoReplace) != 0 ? MapFlags.None : MapFlags.Fixed;
                MapFlags flags = placement | op.MapFlags | ((op.MapFlags & MapFlags.Shared) != 0 ? 0 : MapFlags.Private);
                return op.FileName == null
                    ? calls.Mmap(address, length, op.Prot, flags | MapFlags.Anonymous, out _)
                    : calls.Mmap(address, length, op.Prot, flags, files.Open(op.FileName), op.FilePageOffset << MmConstants.PageShift, out _);
            case TraceOpKind.Munmap:
                return calls.Munmap(address, length);
            case TraceOpKind.Mprotect:
                return calls.Mprotect(address, length, op.Prot);
            case TraceOpKind.Madvise:
                return calls.Madvise(address, length, op.Advice);
            case TraceOpKind.Mlock:
                return op.MlockFlags != MlockFlags.None ? calls.Mlock2(address, length, op.MlockFlags) : calls.Mlock(address, length);
            case TraceOpKind.Seal:
                return calls.Mseal(address, length, 0);
            case TraceOpKind.Mlockall:
                return calls.Mlockall(op.MlockallFlags);
            case TraceOpKind.Munlockall:
                return calls.Munlockall();
            case TraceOpKind.Munlock:
                return calls.Munlock(address, length);
            case TraceOpKind.Name:
                return calls.SetAnonName(address, length, op.AnonName);
            case TraceOpKind.Touch:
                return target.Touch(address, length);
            case TraceOpKind.Mremap:
                ulong newLength = op.NewLength << MmConstants.PageShift;
                return op.NewAddress is ulong newAddress
                    ? calls.Mremap(address, length, newLength, MremapFlags.MayMove | MremapFlags.Fixed | op.MremapFlags, Bytes(newAddress), out _)
                    : calls.Mremap(address, length, newLength, MremapFlags.None, 0, out _);
            default:
                throw new InvalidOperationException($"line {op.Line}: unhandled operation {op.Kind}");
        }
    }

    /// <summary>The byte address of window page <paramref name="page"/>.</summary>
    private static ulong Bytes(ulong page) => WindowBase + (page << MmConstants.PageShift);
}
