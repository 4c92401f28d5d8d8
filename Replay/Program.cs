using System;
using System.Collections.Generic;
using System.IO;
using Replay.Picture;
using Replay.Trace;
using VmaEngine.Vma;

namespace Replay;

/// <summary>
/// <c>dotnet run -c Release --project Replay -- [--profile NAME] [--backed] TRACE</c>: replays a vmatrace v1 trace on
/// an <see cref="AddressSpace"/> (backed by real host memory with <c>--backed</c>) and prints what the kernel oracle
/// prints for the same trace.
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: Replay [--profile NAME | --env FILE] [--svg FILE] [--backed] TRACE|-

        Replays a vmatrace v1 trace (one mm operation per line: mmap, munmap, mprotect, madvise, mlock,
        munlock, name, touch, mremap, maps, fork; addresses and lengths in pages of a window) on the VMA engine
        and prints the layout at each 'maps' exactly as the kernel oracle does, plus 'error OP errno=NAME'
        for each failed operation. '-' reads the trace from standard input (copied to a temporary file while
        it is validated: the whole trace is checked before anything runs, and memory use does not grow with it).

          --profile NAME  the kernel the engine models, by name:
                            v6.15        stock Linux v6.15 with anonymous VMA names and the zero page (default)
                            oracle-host  the oracle's machine: Linux 6.18, no CONFIG_ANON_VMA_NAME, no zero page
          --env FILE      the kernel of the machine whose 'oracle -E' output FILE holds (kernel version, zero
                          page, anonymous VMA names, max_map_count), as each corpus folder's env.txt
          --svg FILE      also draws the layout at each 'maps' into FILE, an SVG picture: one row per 'maps'
                          (time down), pages across, each VMA a box coloured by its protection, marked by its flags
          --backed        runs the trace with real host memory behind the engine (GuestMemory over the window and
                          its guard pages; each trace file a host memfd of the oracle's size): each 'touch' writes a
                          byte to each page through Translate, and through Fault then Translate when the table asks
                          for a fault; the output is the same

        Exit status: 0 the trace ran; 1 usage or I/O error; 2 malformed trace (the message names the line);
        3 --backed could not be backed on this host (not Linux, or the host refused its memory or a memfd):
        discard the output.
        The full format is described in docs/vmatrace-format.md.

        """;

    /// <summary>Runs <see cref="Run"/> on the process's standard output and error.</summary>
    public static int Main(string[] args)
    {
        using var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false, NewLine = "\n" };
        int status = Run(args, output, Console.Error);
        output.Flush();
        return status;
    }

    /// <summary>
    /// Replays the trace <paramref name="args"/> name, printing its output (or the usage text) to
    /// <paramref name="output"/> and problems to <paramref name="error"/>; returns the exit status.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        string? profile = null;
        string? envPath = null;
        string? svgPath = null;
        string? path = null;
        bool backed = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--help" or "-h":
                    output.Write(Usage);
                    return 0;
                case "--profile" when i + 1 < args.Length:
                    profile = args[++i];
                    break;
                case "--env" when i + 1 < args.Length:
                    envPath = args[++i];
                    break;
                case "--svg" when i + 1 < args.Length:
                    svgPath = args[++i];
                    break;
                case "--backed":
                    backed = true;
                    break;
                default:
                    if (path != null || (args[i].StartsWith('-') && args[i] != "-"))
                    {
                        return UsageError(error, $"unexpected argument {TraceText.Quote(args[i])}");
                    }

                    path = args[i];
                    break;
            }
        }

        if (path == null)
        {
            return UsageError(error, "no trace given");
        }

        if (profile != null && envPath != null)
        {
            return UsageError(error, "--profile and --env both choose the kernel; give one");
        }

        AddressSpaceOptions options;
        try
        {
            options = envPath != null ? KernelEnvironment.Load(envPath).ToOptions()
                : AddressSpaceOptions.ForProfile(profile ?? AddressSpaceOptions.ProfileV615);
        }
        catch (ArgumentException e)
        {
            return UsageError(error, e.Message);
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"Replay: {e.Message}");
            return 1;
        }

        try
        {
            List<LayoutSnapshot>? snapshots = svgPath != null ? [] : null;
            int status = path == "-"
                ? RunStandardInput(output, options, error, snapshots, backed)
                : TraceRunner.Run(() => TraceLineReader.OpenBytes(File.OpenRead(path)), output, options, error, snapshots, backed);
            if (svgPath != null && status == TraceRunner.Success)
            {
                using var picture = new StreamWriter(svgPath) { NewLine = "\n" };
                LayoutPicture.Write(snapshots!, path == "-" ? "standard input" : Path.GetFileName(path), picture);
            }

            return status;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"Replay: {e.Message}");
            return 1;
        }
    }

    /// <summary>Replays the trace on standard input, which is read once (and kept in a temporary file meanwhile).</summary>
    private static int RunStandardInput(
        TextWriter output, AddressSpaceOptions options, TextWriter error, List<LayoutSnapshot>? snapshots, bool backed)
    {
        using TextReader input = TraceLineReader.OpenBytes(Console.OpenStandardInput());
        return TraceRunner.Run(input, output, options, error, snapshots, backed);
    }

    private static int UsageError(TextWriter error, string problem)
    {
        error.WriteLine($"Replay: {problem}");
        error.Write(Usage);
        return 1;
    }
}
